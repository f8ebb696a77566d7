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
    return {
        "longtext": Text(),
        "url": Text(),
        "integer": Integer(),
        "number": Float(),
        "date": Date(),
        "boolean": Boolean(),
    }[f.kind]


def search_expression(layer: Layer) -> str:
    """Searchable fields folded to lower case without diacritics (vung_fold)."""
    parts = " || ' ' || ".join(f"coalesce({f.name}, '')" for f in layer.searchable)
    return f"vung_fold({parts})"


def build_table(layer: Layer) -> Table:
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
    table = Table(layer.id, metadata, *columns, *checks)
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
