"""Vector tiles: each layer as Mapbox Vector Tiles built by PostGIS, and its TileJSON.

Tiles take the items endpoint's filters (`crop=rice`, `q=`, `bbox=`,
`filter=`...), parsed by layers.params and turned into SQL by
layers.query.where_clause; the tile statement is layers.query.tile_statement
around gis.sql.tile_sql.
"""

from __future__ import annotations

from html import escape
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy import Connection, text

from app.db import db
from app.errors import NotFound
from app.guards import shared_for_a_while
from app.ogc import find_layer
from app.pages import current_lang
from layers.base import Layer
from layers.params import parse_layer_queries
from layers.query import ItemQuery, layer_extent, tile_fields, tile_statement

bp = Blueprint("tiles", __name__)

MVT = "application/vnd.mapbox-vector-tile"
MAX_ZOOM = 22
# Offered to clients as the deepest level: at z16 a tile unit is about 15 cm
# here, so deeper tiles add requests, not detail; clients overzoom z16 tiles.
TILEJSON_MAX_ZOOM = 16
# TileJSON describes a field by its type, as tippecanoe and MapLibre name them; the rest are strings.
FIELD_TYPES = {"integer": "Number", "number": "Number", "boolean": "Boolean"}
# Not a filter: the language of TileJSON's names (tiles hold stored values, the same in any language).
PAGE_PARAMS = ("lang",)


def select_tile(conn: Connection, layer: Layer, query: ItemQuery, z: int, x: int, y: int) -> bytes:
    statement, params = tile_statement(layer, query, z, x, y)
    return bytes(conn.execute(text(statement), params).scalar_one())


def tile_query(layer: Layer) -> ItemQuery:
    """The request's filters; limit and offset are refused, since a tile holds every match inside it."""
    return parse_layer_queries([layer], request.args, PAGE_PARAMS, default_limit=None, paging=False)[layer.id]


def check_tile(z: int, x: int, y: int) -> None:
    # Outside the grid there is no such tile: 404, as OGC API – Tiles answers
    # out-of-range rows and columns, and as a negative number (which the route
    # does not match) already gets; map clients take a 404 quietly as "no tile".
    if not (0 <= z <= MAX_ZOOM and 0 <= x < 2**z and 0 <= y < 2**z):
        raise NotFound(f"There is no tile {z}/{x}/{y}: zoom goes from 0 to {MAX_ZOOM}, x and y from 0 to 2^zoom − 1.")


@bp.get("/tiles/<layer_id>/<int:z>/<int:x>/<int:y>.pbf")
def tile(layer_id: str, z: int, x: int, y: int):
    layer = find_layer(layer_id)
    check_tile(z, x, y)
    body = db().read(select_tile, layer, tile_query(layer), z, x, y)
    # An empty tile is sent as 200 with no bytes: a tile without layers encodes
    # to zero bytes, a valid MVT every decoder (MapLibre, VectorGrid, QGIS, GDAL)
    # reads as empty, and one caches like any other; 204 would need each client to special-case it.
    return shared_for_a_while(Response(body, mimetype=MVT), layer)


def tile_url_template(layer: Layer) -> str:
    """The absolute tile address with {z}/{x}/{y}, keeping the request's filters (re-encoded, so no brace in a value)."""
    query = urlencode([(k, v) for k, v in request.args.items(multi=True) if k not in PAGE_PARAMS])
    return f"{request.url_root}tiles/{layer.id}/{{z}}/{{x}}/{{y}}.pbf" + (f"?{query}" if query else "")


def tilejson_document(layer: Layer, bounds: tuple[float, float, float, float] | None) -> dict:
    lang = current_lang()
    document = {
        "tilejson": "3.0.0",
        "name": layer.title(lang),
        "description": layer.description(lang),
        # Treated as HTML by some clients: escaped, so it shows as written.
        "attribution": escape("; ".join(current_app.config.get("DATA_ATTRIBUTION", []))),
        "scheme": "xyz",
        "tiles": [tile_url_template(layer)],
        "minzoom": 0,
        "maxzoom": TILEJSON_MAX_ZOOM,
        "vector_layers": [
            {
                "id": layer.id,
                "description": layer.title(lang),
                "minzoom": 0,
                "maxzoom": TILEJSON_MAX_ZOOM,
                "fields": {f.name: FIELD_TYPES.get(f.kind, "String") for f in tile_fields(layer)},
            }
        ],
    }
    if bounds:  # an empty layer has none; TileJSON's default (the whole world) then applies
        document["bounds"] = list(bounds)
    return document


@bp.get("/tiles/<layer_id>.json")
def tilejson(layer_id: str):
    layer = find_layer(layer_id)
    # Bad filters are refused here, not on every tile afterwards; the bounds are those of the matches.
    extent = db().read(layer_extent, layer, tile_query(layer))
    return shared_for_a_while(jsonify(tilejson_document(layer, extent.bbox)), layer)
