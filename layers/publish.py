"""A standalone HTML map of selected features: what goes in it (the page itself: layers.publish_map).

The file carries everything it needs: Leaflet's code and stylesheet, the
features as GeoJSON and the code of their popups. Saved to disk and opened
with no network it still works; only base-map tiles, when configured, come
from outside. Popups are built in the browser from text nodes, so HTML in any
value shows as text.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, text

from layers.base import Layer
from layers.query import ItemQuery, items_statement, layer_extent

# A page with more than this many features grows slow to open and to use.
MAX_FEATURES = 5000
POINT_FILL_OPACITY = 0.8


class TooManyFeatures(Exception):
    def __init__(self, count: int, limit: int):
        super().__init__(
            f"The selection holds {count:,} features; a published map holds at most {limit:,}. "
            "Narrow it with filters, a bbox or fewer layers."
        )
        self.count = count
        self.limit = limit


@dataclass(frozen=True)
class PageCode:
    """What a published page carries inline: Leaflet's code and stylesheet (its
    images as data: URIs), and the app's popup code and stylesheet."""

    leaflet_js: str
    leaflet_css: str
    popup_js: str
    popup_css: str

    @classmethod
    def from_static(cls, static: Path) -> PageCode:
        """From the app's static folder, once scripts/vendor.sh has filled static/vendor."""
        leaflet = static / "vendor" / "leaflet"
        # The source map is not shipped in the file; a reference to it would only fail.
        js = re.sub(r"^//# sourceMappingURL=.*$", "", (leaflet / "leaflet.js").read_text(encoding="utf-8"), flags=re.M)

        def inline_image(match: re.Match) -> str:
            image = leaflet / "images" / match.group(1)
            if not image.is_file():
                return match.group(0)
            return f"url(data:image/png;base64,{base64.b64encode(image.read_bytes()).decode('ascii')})"

        css = re.sub(r"url\(images/([\w.-]+\.png)\)", inline_image, (leaflet / "leaflet.css").read_text(encoding="utf-8"))
        return cls(
            leaflet_js=inline_safe(js, "script"),
            leaflet_css=inline_safe(css, "style"),
            popup_js=inline_safe((static / "vendor" / "vung" / "published-popup.js").read_text(encoding="utf-8"), "script"),
            popup_css=inline_safe((static / "css" / "popup.css").read_text(encoding="utf-8"), "style"),
        )


@dataclass(frozen=True)
class PublishOptions:
    code: PageCode
    # The popups' words in the page's language: details, illustrative, yes, no (app.i18n.popup_strings).
    strings: dict[str, str]
    lang: str = "vi"
    title: str = ""
    tile_url: str = ""
    tile_attribution: str = ""
    tile_max_zoom: int = 19
    # Lines the data's sources ask to be shown with it (plain text).
    attribution: tuple[str, ...] = ()
    # The app's address, ending in "/": popups link to its detail pages. None: no links.
    detail_base: str | None = None
    # Where to look when the selection is empty: (minx, miny, maxx, maxy).
    fallback_bounds: tuple[float, float, float, float] | None = None


@dataclass
class LayerSelection:
    layer: Layer
    title: str
    features: list[dict]
    bounds: tuple[float, float, float, float] | None


def inline_safe(code: str, tag: str) -> str:
    """Code that cannot end the <script> or <style> element holding it."""
    return re.sub(rf"</({tag})", r"<\\/\1", code, flags=re.I)


def published_properties(layer: Layer) -> tuple[str, ...]:
    """What a published feature carries: its names, what its popup shows, and English versions of texts.

    Never a photo: it is an outside link, and the page holds everything it shows.
    """
    wanted = [name for name in ("name", "name_en") if layer.field(name)]
    for f in layer.fields:
        if not f.popup or f in layer.photos:
            continue
        wanted.append(f.name)
        if layer.field(f"{f.name}_en"):
            wanted.append(f"{f.name}_en")
    return tuple(dict.fromkeys(wanted))


def select_features(conn: Connection, layer: Layer, query: ItemQuery) -> list[dict]:
    """The matching features as GeoJSON, built by PostGIS, with only what the popups need
    (select_layers has counted them first: never more than its limit)."""
    statement, params = items_statement(layer, query, published_properties(layer))
    return json.loads(conn.execute(text(statement), params).one().features)


def select_layers(
    conn: Connection, wanted: list[tuple[Layer, ItemQuery]], lang: str, limit: int = MAX_FEATURES
) -> list[LayerSelection]:
    """Every layer's features, or TooManyFeatures before any is read when they are more than `limit`."""
    extents = [(layer, query, layer_extent(conn, layer, query)) for layer, query in wanted]
    total = sum(extent.count for _, _, extent in extents)
    if total > limit:
        raise TooManyFeatures(total, limit)
    out = []
    for layer, query, extent in extents:
        features = select_features(conn, layer, query) if extent.count else []
        out.append(LayerSelection(layer, layer.title(lang), features, extent.bbox))
    return out


def popup_layer(layer: Layer, lang: str) -> dict:
    """What static/js/popup.js knows of a layer on the app's maps: its id and fields, labelled in `lang`."""
    return {"id": layer.id, "fields": [f.config(lang) for f in layer.fields]}
