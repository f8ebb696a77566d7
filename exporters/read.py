"""The SQL of exports: a layer's filtered features read in Arrow batches.

Rows come through a server-side cursor, a bounded batch at a time, so an
export of any size holds one batch in memory. The filter is the items
endpoint's own `where_clause`, so both answer the same question.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import count

import pyarrow as pa
from sqlalchemy import Connection, text
from sqlalchemy.dialects.postgresql import psycopg2 as postgresql_psycopg2

from layers.base import SYSTEM_FIELDS, Field, Layer
from layers.query import ItemQuery, where_clause

BATCH_ROWS = 2_000  # smaller batches kept peak memory flat (10,000 grew it by 20 MB over 100,000 rows) and ran no slower
GEOMETRY = "geometry"

ARROW_TYPES = {
    "integer": pa.int64(),
    "number": pa.float64(),
    "date": pa.date32(),
    "boolean": pa.bool_(),
}
# Tells GDAL (through pyogrio) which column holds the geometry, as WKB.
TIMESTAMP = pa.timestamp("us", tz="UTC")
WKB_FIELD = pa.field(GEOMETRY, pa.binary(), metadata={b"ARROW:extension:name": b"geoarrow.wkb"})
_cursor_names = count()


@dataclass(frozen=True)
class Column:
    name: str
    sql: str
    type: pa.DataType


def columns(layer: Layer, timestamps_as_text: bool = False) -> list[Column]:
    """id, the declared properties and the system columns, typed for Arrow."""
    out = [Column("id", "t.id", pa.int64())]
    out += [field_column(f) for f in layer.fields]
    if layer.editable:
        for name in SYSTEM_FIELDS:
            if name == "version":
                out.append(Column(name, f"t.{name}", pa.int64()))
            elif timestamps_as_text:
                # Formats without a date-time type (Shapefile) get ISO 8601 text instead of a bare date.
                out.append(Column(name, f"to_char(t.{name} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')", pa.string()))
            else:
                # Microseconds since 1970 as a plain integer: building a datetime per value costs more than the query.
                out.append(Column(name, f"(extract(epoch FROM t.{name}) * 1000000)::int8", TIMESTAMP))
    return out


def field_column(f: Field) -> Column:
    kind_type = ARROW_TYPES.get(f.kind, pa.string())
    sql = f"t.{f.name}::float8" if f.kind == "number" else f"t.{f.name}"
    return Column(f.name, sql, kind_type)


FAMILY_SQL = "CASE WHEN GeometryType(t.geom) IN ('POINT', 'MULTIPOINT') THEN 'Point' ELSE 'Polygon' END"


def export_statement(
    layer: Layer, query: ItemQuery, cols: list[Column], geometry_sql: str | None, family: str | None = None
) -> tuple[str, dict]:
    where, params = where_clause(layer, query)
    if family:
        where += (" AND " if where else " WHERE ") + f"{FAMILY_SQL} = :family"
        params["family"] = family
    select = ", ".join(f"{c.sql} AS {c.name}" for c in cols)
    if geometry_sql:
        select += f", {geometry_sql} AS {GEOMETRY}"
    statement = f"SELECT {select} FROM {layer.id} AS t{where} ORDER BY t.id"
    if query.limit is not None:
        statement += " LIMIT :limit OFFSET :offset"
        params.update(limit=query.limit, offset=query.offset)
    return statement, params


def schema(cols: list[Column], geometry: pa.Field | None = WKB_FIELD) -> pa.Schema:
    fields = [pa.field(c.name, c.type) for c in cols]
    return pa.schema(fields + [geometry] if geometry is not None else fields)


def read_batches(
    conn: Connection, layer: Layer, query: ItemQuery, cols: list[Column],
    geometry_sql: str | None = "ST_AsBinary(t.geom)", geometry: pa.Field | None = WKB_FIELD, family: str | None = None,
) -> pa.RecordBatchReader:
    """The layer's filtered features as a stream of Arrow record batches (needs an open transaction)."""
    statement, params = export_statement(layer, query, cols, geometry_sql, family)
    compiled = text(statement).compile(dialect=postgresql_psycopg2.dialect())
    out_schema = schema(cols, geometry)

    def batches() -> Iterator[pa.RecordBatch]:
        # A named cursor keeps the rows on the server until they are fetched.
        with conn.connection.cursor(name=f"vung_export_{next(_cursor_names)}") as cursor:
            cursor.itersize = BATCH_ROWS
            cursor.execute(str(compiled), compiled.construct_params(params))
            while rows := cursor.fetchmany(BATCH_ROWS):
                yield to_batch(rows, out_schema)

    return pa.RecordBatchReader.from_batches(out_schema, batches())


def to_batch(rows: list[tuple], out_schema: pa.Schema) -> pa.RecordBatch:
    values = list(zip(*rows, strict=True))
    return pa.RecordBatch.from_arrays(
        [to_array(values[i], f.type) for i, f in enumerate(out_schema)], schema=out_schema
    )


def to_array(values: tuple, type_: pa.DataType) -> pa.Array:
    if type_ == TIMESTAMP:
        return pa.array(values, pa.int64()).cast(TIMESTAMP)
    if type_ == pa.binary():
        # psycopg2 hands bytea over as memoryviews; Arrow built from those kept
        # memory alive batch after batch (RSS grew with the export), from bytes it does not.
        return pa.array([None if v is None else bytes(v) for v in values], type=type_)
    return pa.array(values, type=type_)


def geometry_families(conn: Connection, layer: Layer, query: ItemQuery) -> list[str]:
    """Point and/or Polygon: what a mixed layer holds under this filter (a Shapefile takes one)."""
    where, params = where_clause(layer, query)
    rows = conn.execute(text(f"SELECT DISTINCT {FAMILY_SQL} AS family FROM {layer.id} AS t{where} ORDER BY 1"), params)
    return [r.family for r in rows]
