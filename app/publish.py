"""Maps for other websites: a standalone HTML file of a selection, and a map page made to be framed.

`GET /publish?layers=a,b&<filters>&title=...` answers a self-contained HTML
file (folium) with the filtered features of the layers; the filters are those
of exports (`layer.field=value` for one layer, `district=`, `bbox=`, `q=` for
all). `GET /embed` is the public map without header or panels, for an
<iframe>, opened on the view and filters its URL names.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from flask import Blueprint, Response, current_app, render_template, request
from werkzeug.datastructures import MultiDict

from app.auth import may_read
from app.db import db
from app.errors import ApiError, ServiceUnavailable
from app.i18n import popup_strings
from app.pages import current_lang, map_config
from gis.params import ParameterError
from layers.base import Layer
from layers.params import named_layers, parse_layer_queries
from layers.publish import PageCode, PublishOptions, TooManyFeatures, select_layers
from layers.query import ItemQuery, list_districts

bp = Blueprint("publish", __name__)

# Parameters of the page rather than of the selection.
PAGE_PARAMS = {"layers", "title", "lang"}
MAX_TITLE = 200
MAX_LAYERS = 20


@lru_cache(maxsize=4)
def page_code(static: str) -> PageCode:
    return PageCode.from_static(Path(static))


def load_page_code() -> PageCode:
    static = Path(current_app.static_folder or "")
    try:
        return page_code(str(static))
    except OSError:
        current_app.logger.error("The map's code is missing from %s: run the set-up (npm ci, scripts/vendor.sh)", static / "vendor")
        raise ServiceUnavailable("The map library is not installed on this server.") from None


def requested_layers(values: list[str], readable=may_read) -> list[Layer]:
    """`layers=a,b` (or repeated), each readable; at least one, at most MAX_LAYERS."""
    layers = named_layers(values, readable)
    if not layers:
        raise ParameterError("layers", "name the layers to publish, e.g. layers=relics,craft_villages")
    if len(layers) > MAX_LAYERS:
        raise ParameterError("layers", f"at most {MAX_LAYERS} layers")
    return layers


def selection_queries(layers: list[Layer], args) -> list[tuple[Layer, ItemQuery]]:
    """The filters of exports, without paging: a published map holds the whole selection (at most MAX_FEATURES)."""
    queries = parse_layer_queries(layers, args, PAGE_PARAMS, default_limit=None, paging=False)
    return [(layer, queries[layer.id]) for layer in layers]


def publish_options(lang: str, title: str, detail_base: str | None) -> PublishOptions:
    cfg = current_app.config
    return PublishOptions(
        code=load_page_code(),
        lang=lang,
        title=title,
        tile_url=cfg["TILE_URL"],
        tile_attribution=cfg["TILE_ATTRIBUTION"],
        tile_max_zoom=cfg["TILE_MAX_ZOOM"],
        attribution=tuple(cfg["DATA_ATTRIBUTION"]),
        detail_base=detail_base,
        fallback_bounds=cfg["MAP_BOUNDS"],
        strings=popup_strings(),
    )


def render_selection(wanted: list[tuple[Layer, ItemQuery]], options: PublishOptions) -> str:
    """The HTML file, or ApiError when the selection is too large."""
    try:
        selections = db().read(select_layers, wanted, options.lang)
    except TooManyFeatures as err:
        raise ApiError(str(err), code="TooManyFeatures", count=err.count, limit=err.limit) from None
    from layers.publish_map import build_map  # folium loads only when a map is made

    return build_map(selections, options)


def download_name(layers: list[Layer]) -> str:
    stem = re.sub(r"[^a-z0-9_-]+", "-", "-".join(layer.id for layer in layers).lower())[:80]
    return f"vung-{stem}.html"


@bp.get("/publish")
def publish():
    layers = requested_layers(request.args.getlist("layers"))
    wanted = selection_queries(layers, request.args)
    title = request.args.get("title", "").strip()
    if len(title) > MAX_TITLE:
        raise ParameterError("title", f"at most {MAX_TITLE} characters")
    html = render_selection(wanted, publish_options(current_lang(), title, request.url_root))
    response = Response(html, mimetype="text/html")
    response.headers["Content-Disposition"] = f'attachment; filename="{download_name(layers)}"'
    return response


@bp.get("/embed")
def embed():
    """The public map for an <iframe>; the view and filters come from the URL (read by embed.js)."""
    lang = current_lang()
    config = map_config(db().read(list_districts), lang)
    return render_template("embed.html", config=config, lang=lang)


def publish_file(layer_ids: str, args: MultiDict, title: str, lang: str, base_url: str | None) -> str:
    """The same file from the command line: every layer readable, the language given, no request."""
    from flask_babel import force_locale

    layers = requested_layers([layer_ids], readable=lambda layer: True)
    wanted = selection_queries(layers, args)
    if base_url and not base_url.endswith("/"):
        base_url += "/"
    with force_locale(lang):
        options = publish_options(lang, title[:MAX_TITLE], base_url)
    return render_selection(wanted, options)
