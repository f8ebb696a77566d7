"""HTML pages: the public map, feature detail pages, and the health check."""

from __future__ import annotations

import json

from flask import Blueprint, current_app, jsonify, redirect, render_template, url_for
from flask_babel import get_locale
from sqlalchemy.exc import SQLAlchemyError

from app.auth import may_read
from app.db import db
from app.errors import NotFound
from exporters.write import FORMATS
from layers import get_layer, public_layers
from layers.base import PLACE_FIELDS, Field, Layer
from layers.query import list_districts, select_properties

bp = Blueprint("pages", __name__)


def current_lang() -> str:
    return str(get_locale() or "vi")


def layer_config(layer: Layer, lang: str) -> dict:
    s = layer.style
    return {
        "id": layer.id,
        "title": layer.title(lang),
        "geometry": layer.geometry,
        "point": layer.is_point,
        "visible": layer.visible,
        "style": {"color": s.color, "fillColor": s.fill_color, "fillOpacity": s.fill_opacity, "weight": s.weight, "radius": s.radius},
        "fields": [f.config(lang) for f in layer.fields],
        "searchable": bool(layer.searchable),
    }


def tiles_config() -> dict:
    cfg = current_app.config
    return {"url": cfg["TILE_URL"], "attribution": cfg["TILE_ATTRIBUTION"], "maxZoom": cfg["TILE_MAX_ZOOM"]}


def reference_config() -> dict | None:
    """Outlines drawn under the data (districts), from the layer declared for it."""
    units = next((layer for layer in public_layers() if layer.outline_filter), None)
    if units is None:
        return None
    s = units.style
    return {
        "layer": units.id,
        "params": {**units.outline_filter, "limit": 1000},
        "style": {"color": s.color, "weight": s.weight, "fill": False, "opacity": 0.7, "dashArray": "4 3"},
    }


def map_config(districts: list[dict], lang: str) -> dict:
    cfg = current_app.config
    minx, miny, maxx, maxy = cfg["MAP_BOUNDS"]
    return {
        "lang": lang,
        "apiBase": "/ogc",
        "tiles": tiles_config(),
        "attribution": cfg["DATA_ATTRIBUTION"],
        "view": {"center": [(miny + maxy) / 2, (minx + maxx) / 2], "zoom": 10},
        "bounds": [[miny, minx], [maxy, maxx]],
        "districts": [{"code": d["code"], "name": d["name"]} for d in districts],
        "layers": [layer_config(layer, lang) for layer in public_layers() if layer.editable],
        "reference": reference_config(),
        "strings": {},
    }


@bp.get("/")
def public_map():
    districts = db().read(list_districts)
    lang = current_lang()
    return render_template("map.html", config=map_config(districts, lang), lang=lang, export_formats=FORMATS.values())


# Codes only other systems need.
NOT_IN_TABLE = {name for name in PLACE_FIELDS if name.endswith("_code")}


def table_fields(layer: Layer, above: set[str]) -> tuple[Field, ...]:
    """The fields a detail page's table lists: not those named `above` it (name, description),
    nor its photos (shown above it too), nor codes only other systems need."""
    return tuple(f for f in layer.fields if f.name not in above | NOT_IN_TABLE and f not in layer.photos)


@bp.get("/<layer_id>/<int:feature_id>")
def feature_page(layer_id: str, feature_id: int):
    layer = get_layer(layer_id)
    if layer is None or not may_read(layer):
        raise NotFound(f"There is no layer {layer_id[:60]!r}.")
    row = db().read(select_properties, layer, feature_id)
    if row is None:
        raise NotFound(f"There is no feature {feature_id} in {layer.id}.")
    lang = current_lang()
    # The heading and the text above the table are in the page's language where the feature has it;
    # the table keeps the other language's (the local name on an English page, say).
    name_field = "name_en" if lang == "en" and row.get("name_en") else "name"
    description_field = "description_en" if lang == "en" and row.get("description_en") else "description"
    rows = [(f.label(lang), f.display(row[f.name], lang)) for f in table_fields(layer, {name_field, description_field})]
    name, description = row[name_field], row.get(description_field)
    photos = [row[f.name] for f in layer.photos if row.get(f.name)]
    return render_template(
        "detail.html", layer=layer, feature=row, name=name, description=description, photos=photos,
        rows=[r for r in rows if r[1] is not None], lang=lang,
        geometry=json.loads(row["geometry"]), style=layer.style, tiles=tiles_config(),
    )


@bp.get("/favicon.ico")
def favicon():
    # For clients that ask before reading a page's <link rel="icon">.
    return redirect(url_for("static", filename="favicon.svg"))


@bp.get("/healthz")
def healthz():
    try:
        db().ping()
    except SQLAlchemyError:
        return jsonify({"status": "unavailable", "database": False}), 503
    return jsonify({"status": "ok", "database": True})
