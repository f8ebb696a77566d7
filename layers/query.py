"""Layer-driven read statements: the SQL behind items, single items, extents.

Functions take a SQLAlchemy connection, so they run the same from a request,
the command line or a test.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection, text
from sqlalchemy.dialects.postgresql import psycopg2 as postgresql_psycopg2
from sqlalchemy.exc import DBAPIError

from gis import sql
from gis.cql2 import GEOMETRY, Queryable, SqlFilter
from gis.params import Bbox, Interval
from layers import REGISTRY
from layers.base import Field, Layer

MAX_SEARCH_WORDS = 8


@dataclass(frozen=True)
class ItemQuery:
    limit: int | None = 100  # None: every match (exports)
    offset: int = 0
    bbox: Bbox | None = None
    # field name -> accepted values (already typed and checked)
    filters: dict[str, tuple] = field(default_factory=dict)
    q: str | None = None
    interval: Interval | None = None
    # A CQL2 `filter=`, already translated: SQL over `t` with its own bound parameters (:cql0, ...).
    cql: SqlFilter | None = None


@dataclass(frozen=True)
class Page:
    features: str  # JSON array text, as PostGIS built it
    returned: int


def where_clause(layer: Layer, query: ItemQuery) -> tuple[str, dict]:
    conditions: list[str] = []
    params: dict = {}
    if query.bbox:
        conditions.append(sql.bbox_condition("t.geom"))
        params.update(query.bbox.as_params())
    for name, values in query.filters.items():
        f = layer.field(name)
        if f.is_free_text:
            # Place names are matched as people type them: case and diacritics ignored.
            conditions.append(
                f"vung_fold(t.{name}) = ANY(ARRAY(SELECT vung_fold(unnest(CAST(:f_{name} AS text[])))))"
            )
            params[f"f_{name}"] = [v.strip() for v in values]
        else:
            conditions.append(f"t.{name} = ANY(:f_{name})")
            params[f"f_{name}"] = list(values)
    if query.q and layer.searchable:
        for i, word in enumerate(query.q.split()[:MAX_SEARCH_WORDS]):
            conditions.append(f"t.search_text LIKE vung_fold(:q{i})")
            params[f"q{i}"] = sql.like_pattern(word)
    if query.interval and layer.temporal:
        start_col, end_col = layer.temporal
        if query.interval.end:
            conditions.append(f"(t.{start_col} IS NULL OR t.{start_col} <= :dt_end)")
            params["dt_end"] = query.interval.end
        if query.interval.start:
            conditions.append(f"(t.{end_col} IS NULL OR t.{end_col} >= :dt_start)")
            params["dt_start"] = query.interval.start
    if query.cql:
        conditions.append(f"({query.cql.sql})")
        params.update(query.cql.params)
    return (" WHERE " + " AND ".join(conditions)) if conditions else "", params


def layer_queryables(layer: Layer) -> dict[str, Queryable]:
    """What a CQL2 filter may name: the declared fields, `id` and the geometry.

    Columns come from the declaration only. The geometry is `geometry`, as in
    GeoJSON; `geom`, the column's name, is accepted too.
    """
    out = {"id": Queryable("id", "integer", "t.id")}
    for f in layer.fields:
        # A photo is queried as the address it is: gis/ knows the kinds of values, not their roles.
        out[f.name] = Queryable(f.name, "url" if f.is_url else f.kind, f"t.{f.name}", f.choice_values())
    geometry = Queryable("geometry", GEOMETRY, "t.geom")
    out.update(geometry=geometry, geom=geometry)
    return out


def items_statement(layer: Layer, query: ItemQuery, properties: tuple[str, ...] | None = None) -> tuple[str, dict]:
    """A page of features as one JSON array; `properties` narrows what each carries (default: all)."""
    where, params = where_clause(layer, query)
    inner = (
        f"SELECT t.id, {sql.feature_object('t', layer.property_names if properties is None else properties)} AS feature "
        f"FROM {layer.id} AS t{where} ORDER BY t.id LIMIT :limit OFFSET :offset"
    )
    params.update(limit=query.limit, offset=query.offset)
    return sql.feature_array(inner), params


def select_page(conn: Connection, layer: Layer, query: ItemQuery) -> Page:
    statement, params = items_statement(layer, query)
    row = conn.execute(text(statement), params).one()
    return Page(row.features, row.returned)


def select_counted_page(conn: Connection, layer: Layer, query: ItemQuery) -> tuple[Page, int]:
    """A page and the number of all matches; a short first page already tells it."""
    page = select_page(conn, layer, query)
    if query.offset == 0 and page.returned < query.limit:
        return page, page.returned
    return page, count_matches(conn, layer, query)


def tile_fields(layer: Layer) -> tuple[Field, ...]:
    """What a tile carries besides the id: what popups show and filters use, as declared.

    Long texts (descriptions) stay out: repeated in every tile that crosses a
    feature, they would outweigh its shape; a client reads them from the item.
    """
    return tuple(f for f in layer.fields if (f.popup or f.filterable) and f.kind != "longtext")


def tile_statement(layer: Layer, query: ItemQuery, z: int, x: int, y: int) -> tuple[str, dict]:
    """The SQL and parameters of one tile (bench.floor runs the same)."""
    where, params = where_clause(layer, query)
    statement = sql.tile_sql(layer.id, tuple(f.name for f in tile_fields(layer)), where, sql.tile_extent(z))
    return statement, {**params, "z": z, "x": x, "y": y, "tile_layer": layer.id}


def count_statement(layer: Layer, query: ItemQuery) -> tuple[str, dict]:
    where, params = where_clause(layer, query)
    return f"SELECT count(*) FROM {layer.id} AS t{where}", params


def count_matches(conn: Connection, layer: Layer, query: ItemQuery) -> int:
    statement, params = count_statement(layer, query)
    return conn.execute(text(statement), params).scalar_one()


def feature_statement(layer: Layer) -> str:
    """SQL for one feature (bound parameter `:id`) as GeoJSON text and its version."""
    version = "t.version" if layer.editable else "1"
    return (
        f"SELECT {sql.feature_object('t', layer.property_names)}::text AS feature, {version} AS version "
        f"FROM {layer.id} AS t WHERE t.id = :id"
    )


_feature_sql: dict[str, str] = {}


def feature_driver_sql(layer: Layer) -> str:
    """feature_statement in the driver's own parameter style, compiled once per layer."""
    # Keyed by id: hashing the whole frozen declaration costs more than the lookup saves.
    if layer.id not in _feature_sql:
        _feature_sql[layer.id] = str(text(feature_statement(layer)).compile(dialect=postgresql_psycopg2.dialect()))
    return _feature_sql[layer.id]


def select_feature(conn: Connection, layer: Layer, feature_id: int) -> tuple[str, int] | None:
    """One feature as GeoJSON text, with its version for the ETag."""
    # The API's hottest statement goes straight to the driver's cursor:
    # SQLAlchemy's execution machinery cost a third of the request here.
    statement = feature_driver_sql(layer)
    try:
        with conn.connection.cursor() as cursor:
            cursor.execute(statement, {"id": feature_id})
            row = cursor.fetchone()
    except conn.dialect.loaded_dbapi.Error as err:
        raise driver_error(conn, err, statement) from err
    return (row[0], row[1]) if row else None


def driver_error(conn: Connection, err: Exception, statement: str) -> DBAPIError:
    """A driver error as SQLAlchemy raises it, with a dropped connection invalidated (so it is replaced)."""
    dropped = conn.dialect.is_disconnect(err, conn.connection.dbapi_connection, None)
    if dropped:
        conn.invalidate(err)
    return DBAPIError.instance(
        statement, None, err, conn.dialect.loaded_dbapi.Error, connection_invalidated=dropped, dialect=conn.dialect
    )


def select_properties(conn: Connection, layer: Layer, feature_id: int) -> dict | None:
    """One feature's properties and centre, for HTML pages."""
    columns = ", ".join(f"t.{n}" for n in layer.property_names)
    row = conn.execute(
        text(
            f"SELECT t.id, {columns}, ST_X(ST_PointOnSurface(t.geom)) AS lon, "
            f"ST_Y(ST_PointOnSurface(t.geom)) AS lat, ST_AsGeoJSON(t.geom, 7) AS geometry "
            f"FROM {layer.id} AS t WHERE t.id = :id"
        ),
        {"id": feature_id},
    ).mappings().one_or_none()
    return dict(row) if row else None


@dataclass(frozen=True)
class Extent:
    bbox: tuple[float, float, float, float] | None
    # First and last day of validity for temporal layers; None at an end left open.
    interval: Interval | None = None
    count: int = 0


def layer_extent(conn: Connection, layer: Layer, query: ItemQuery | None = None) -> Extent:
    """How many features (those matching `query`, if given) the layer holds, where, and for a temporal
    layer when: one statement."""
    where, params = where_clause(layer, query) if query else ("", {})
    row = conn.execute(text(sql.extent_sql(layer.id, where, layer.temporal)), params).one()
    bbox = None if row.minx is None else (row.minx, row.miny, row.maxx, row.maxy)
    return Extent(bbox, Interval(row.first, row.last) if layer.temporal else None, row.n)


def layer_extents(conn: Connection, layers: list[Layer]) -> dict[str, Extent]:
    return {layer.id: layer_extent(conn, layer) for layer in layers}


def in_force(layer: Layer, alias: str = "") -> str:
    """Rows of a layer with a validity period that hold today: units change, none is forever."""
    end = f"{alias}{layer.temporal[1]}"
    return f"({end} IS NULL OR {end} > current_date)"


def list_districts(conn: Connection) -> list[dict]:
    rows = conn.execute(
        text(
            "SELECT code, name, name_en FROM admin_units WHERE level = 'district' "
            f"AND {in_force(REGISTRY['admin_units'])} ORDER BY name"
        )
    ).mappings()
    return [dict(r) for r in rows]


def district_code(conn: Connection, code_or_name: str, name: str) -> str | None:
    """The code of the district in force with this code, or whose name folds like `name`."""
    return conn.execute(text(
        "SELECT code FROM admin_units WHERE level = 'district' AND "
        f"{in_force(REGISTRY['admin_units'])} AND (code = :code OR vung_fold(name) = vung_fold(:name)) ORDER BY code LIMIT 1"
    ), {"code": code_or_name, "name": name}).scalar()


def count_rows(conn: Connection, layer: Layer) -> int:
    return conn.execute(text(f"SELECT count(*) FROM {layer.id}")).scalar_one()
