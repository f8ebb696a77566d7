"""The floor for the items benchmark: the app's SQL behind a bare WSGI callable.

No Flask, no SQLAlchemy engine, no pool: one psycopg2 connection per worker
process, opened on the first request and reused (autocommit, so no BEGIN /
ROLLBACK round trips). For the same URL paths it runs exactly the SQL text the
app runs (`items_statement`, `count_statement`, `feature_statement` and
`tile_statement` from `layers.query`), with the same rule for when to count,
and sends what PostGIS built (JSON text, tiles) straight out.

    gunicorn --chdir /path/to/repo "bench.floor:application"

Reads the database URL from BENCH_DATABASE_URL (or DATABASE_URL).
"""

from __future__ import annotations

import os
from urllib.parse import parse_qs

import psycopg2
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import psycopg2 as pg_dialect

from gis.params import Bbox
from layers import get_layer
from layers.query import ItemQuery, count_statement, feature_statement, items_statement, tile_statement

DSN = os.environ.get("BENCH_DATABASE_URL") or os.environ.get(
    "DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/vung_bench"
)
GEOJSON = [("Content-Type", "application/geo+json")]
MVT = [("Content-Type", "application/vnd.mapbox-vector-tile")]
_DIALECT = pg_dialect.dialect()
_compiled: dict[str, str] = {}
_conn = None


def psycopg_sql(statement: str) -> str:
    """The `:name` statement as SQLAlchemy hands it to psycopg2 (`%(name)s`), compiled once."""
    out = _compiled.get(statement)
    if out is None:
        out = _compiled[statement] = str(text(statement).compile(dialect=_DIALECT))
    return out


def cursor():
    global _conn
    if _conn is None or _conn.closed:
        _conn = psycopg2.connect(DSN.replace("postgresql+psycopg2://", "postgresql://"))
        _conn.autocommit = True
    return _conn.cursor()


def items(layer, qs: str) -> bytes:
    args = parse_qs(qs)
    bbox = None
    if "bbox" in args:
        minx, miny, maxx, maxy = (float(v) for v in args["bbox"][0].split(","))
        bbox = Bbox(minx, miny, maxx, maxy)
    query = ItemQuery(
        limit=int(args["limit"][0]) if "limit" in args else 100,
        offset=int(args["offset"][0]) if "offset" in args else 0,
        bbox=bbox,
    )
    statement, params = items_statement(layer, query)
    with cursor() as cur:
        cur.execute(psycopg_sql(statement), params)
        features, returned = cur.fetchone()
        # The app's rule: a short first page already tells the total.
        if query.offset == 0 and returned < query.limit:
            matched = returned
        else:
            statement, params = count_statement(layer, query)
            cur.execute(psycopg_sql(statement), params)
            matched = cur.fetchone()[0]
    body = "".join(
        (
            '{"type":"FeatureCollection","features":',
            features,
            f',"numberReturned":{returned},"numberMatched":{matched}}}',
        )
    )
    return body.encode()


def feature(layer, feature_id: int) -> tuple[bytes, int] | None:
    with cursor() as cur:
        cur.execute(psycopg_sql(feature_statement(layer)), {"id": feature_id})
        row = cur.fetchone()
    return (row[0].encode(), row[1]) if row else None


def tile(layer, z: int, x: int, y: int) -> bytes:
    statement, params = tile_statement(layer, ItemQuery(limit=None), z, x, y)
    with cursor() as cur:
        cur.execute(psycopg_sql(statement), params)
        return bytes(cur.fetchone()[0])


def tile_application(environ, start_response):
    # tiles / {layer} / {z} / {x} / {y}.pbf, without filters
    parts = environ.get("PATH_INFO", "").strip("/").removesuffix(".pbf").split("/")
    layer = get_layer(parts[1]) if len(parts) == 5 else None
    if layer is None:
        status, headers, body = "404 Not Found", [], b"not found"
    else:
        status, headers, body = "200 OK", MVT, tile(layer, *(int(p) for p in parts[2:]))
    start_response(status, headers + [("Content-Length", str(len(body)))])
    return [body]


def application(environ, start_response):
    if environ.get("PATH_INFO", "").startswith("/tiles/"):
        return tile_application(environ, start_response)
    parts = environ.get("PATH_INFO", "").strip("/").split("/")
    # ogc / collections / {layer} / items [/ {id}]
    layer = (
        get_layer(parts[2])
        if len(parts) in (4, 5) and parts[:2] == ["ogc", "collections"] and parts[3] == "items"
        else None
    )
    try:
        if layer is None:
            status, headers, body = "404 Not Found", [], b"not found"
        elif len(parts) == 4:
            status, headers, body = "200 OK", GEOJSON, items(layer, environ.get("QUERY_STRING", ""))
        else:
            found = feature(layer, int(parts[4]))
            if found is None:
                status, headers, body = "404 Not Found", [], b"not found"
            else:
                body, version = found
                status, headers = "200 OK", GEOJSON + [("ETag", f'"{layer.id}-{parts[4]}-v{version}"')]
    except (ValueError, KeyError):
        status, headers, body = "400 Bad Request", [], b"bad request"
    start_response(status, headers + [("Content-Length", str(len(body)))])
    return [body]
