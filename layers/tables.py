"""SQLAlchemy tables built from the declarations.

Alembic compares these with the database to write migrations; queries use
them only for column names. The migrations remain the one place where the
schema is actually created.
"""

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Computed,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    text,
)

from gis import sql
from layers import REGISTRY
from layers.base import Field, Layer

metadata = MetaData()

GEOMETRY_TYPES = {"Point": "POINT", "Polygon": "POLYGON", "MultiPolygon": "MULTIPOLYGON", "Geometry": "GEOMETRY"}


def column_type(f: Field):
    if f.kind in ("text", "enum"):
        return String(f.max_length) if f.max_length else Text()
    if f.kind == "longtext" or f.is_url:
        return Text()
    return {
        "integer": Integer(),
        "number": Float(),
        "date": Date(),
        "boolean": Boolean(),
    }[f.kind]


def search_expression(layer: Layer) -> str:
    """Searchable fields folded to lower case without diacritics (vung_fold)."""
    parts = " || ' ' || ".join(f"coalesce({f.name}, '')" for f in layer.searchable)
    return f"vung_fold({parts})"


# Functions from the migrations (0001, 0002, 0007). The importer turns the row triggers off for its
# own set-based statements with vung.bulk (layers/imports.py).
NOT_BULK = "WHEN (current_setting('vung.bulk', true) IS DISTINCT FROM 'on')"
HISTORY_EVENTS = {"insert": "NEW TABLE AS new_rows", "update": "NEW TABLE AS new_rows", "delete": "OLD TABLE AS old_rows"}


# Table name -> the triggers its declaration asks for (name -> CREATE TRIGGER), filled by build_table.
TRIGGERS: dict[str, dict[str, str]] = {}


def layer_triggers(layer: Layer) -> dict[str, str]:
    """Name -> CREATE TRIGGER statement of each trigger the declaration asks for: version and times,
    place, and history (per statement, from its transition tables). Area is a generated column."""
    if not layer.editable:
        return {}
    t = layer.id
    row = f"BEFORE INSERT OR UPDATE ON {t} FOR EACH ROW {NOT_BULK} EXECUTE FUNCTION"
    out = {f"{t}_touch": f"CREATE TRIGGER {t}_touch {row} vung_touch()"}
    if layer.derive_place:
        out[f"{t}_place"] = f"CREATE TRIGGER {t}_place {row} vung_derive_place()"
    for event, transition in HISTORY_EVENTS.items():
        out[f"{t}_history_{event}"] = (
            f"CREATE TRIGGER {t}_history_{event} AFTER {event.upper()} ON {t} "
            f"REFERENCING {transition} FOR EACH STATEMENT EXECUTE FUNCTION vung_record_history_rows()"
        )
    return out


def build_table(layer: Layer, target: MetaData = metadata) -> Table:
    columns = [Column("id", BigInteger, primary_key=True, autoincrement=True)]
    for f in layer.fields:
        if f.name == "area_ha" and layer.derive_area:  # the database measures every shape it stores
            columns.append(Column(f.name, Float, Computed(sql.area_ha("geom"), persisted=True)))
        else:
            columns.append(Column(f.name, column_type(f), nullable=not f.required))
    if layer.editable:
        columns += [
            Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
            Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
            Column("version", Integer, nullable=False, server_default=text("1")),
        ]
    if layer.searchable:
        columns.append(Column("search_text", Text, Computed(search_expression(layer), persisted=True)))
    columns.append(
        Column("geom", Geometry(GEOMETRY_TYPES[layer.geometry], srid=4326, spatial_index=False), nullable=False)
    )
    checks = [
        CheckConstraint(f"{f.name} IN ({', '.join(repr(v) for v in f.choice_values())})", name=f"ck_{layer.id}_{f.name}")
        for f in layer.fields
        if f.kind == "enum"
    ]
    if layer.editable:
        # Every path that stores a shape, not only the API's checked writes.
        checks.append(CheckConstraint("ST_IsValid(geom)", name=f"ck_{layer.id}_geom_valid"))
    table = Table(layer.id, target, *columns, *checks)
    # Triggers are not SQLAlchemy's: layers.autogenerate compares these with the database's.
    TRIGGERS[layer.id] = layer_triggers(layer)
    Index(f"ix_{layer.id}_geom", table.c.geom, postgresql_using="gist")
    if layer.searchable:
        Index(
            f"ix_{layer.id}_search", table.c.search_text,
            postgresql_using="gin", postgresql_ops={"search_text": "gin_trgm_ops"},
        )
    for f in layer.filterable:
        Index(f"ix_{layer.id}_{f.name}", table.c[f.name])
    return table


TABLES: dict[str, Table] = {layer.id: build_table(layer) for layer in REGISTRY.values()}
