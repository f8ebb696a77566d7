"""The folium side of a published map: the page itself, built from selected features.

Kept apart from layers.publish (selection and SQL) so that folium is loaded
only when a map is made, not by every command and request.
"""

from __future__ import annotations

import folium
from branca.element import Element, MacroElement
from folium.template import Template
from folium.utilities import JsCode
from jinja2.utils import htmlsafe_json_dumps
from markupsafe import escape

from layers.publish import POINT_FILL_OPACITY, LayerSelection, PublishOptions, popup_layer


def default_title(selections: list[LayerSelection]) -> str:
    return ", ".join(s.title for s in selections)


def build_map(selections: list[LayerSelection], options: PublishOptions) -> str:
    """The standalone HTML page."""
    title = options.title or default_title(selections)
    m = folium.Map(location=None, tiles=None, control_scale=True, max_zoom=options.tile_max_zoom)
    # Instance lists: folium's defaults are shared module lists pointing at CDNs.
    m.default_js = []
    m.default_css = []
    root = m.get_root()
    root.header.add_child(Element(f"<title>{escape(title)}</title>"), name="title")
    root.header.add_child(Element(f"<style>{options.code.leaflet_css}</style>"), name="leaflet_css")
    root.header.add_child(Element(f"<script>{options.code.leaflet_js}</script>"), name="leaflet_js")
    root.header.add_child(Element(f"<style>{PAGE_CSS}{options.code.popup_css}</style>"), name="vung_css")
    root.header.add_child(Element(popup_script(selections, options)), name="vung_popup")
    root.html.add_child(Element(f'<h1 class="vung-title">{escape(title)}</h1>'), name="vung_title")

    if options.tile_url:
        folium.TileLayer(
            tiles=options.tile_url,
            attr=str(escape(options.tile_attribution or " ")),
            max_zoom=options.tile_max_zoom,
            control=False,
        ).add_to(m)
    for selection in selections:
        geojson_layer(selection).add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    m.add_child(Attribution(options.attribution))

    bounds = combined_bounds([s.bounds for s in selections]) or options.fallback_bounds
    if bounds:
        minx, miny, maxx, maxy = bounds
        m.fit_bounds([[miny, minx], [maxy, maxx]], padding=(24, 24), max_zoom=16)
    html = root.render()
    return html.replace("<html>", f'<html lang="{escape(options.lang)}">', 1)


def geojson_layer(selection: LayerSelection) -> folium.GeoJson:
    layer, style = selection.layer, selection.layer.style
    shape_style = {
        "color": style.color,
        "fillColor": style.fill_color,
        # Dots need a solid fill to be seen; areas keep the declared, see-through one.
        "fillOpacity": POINT_FILL_OPACITY if layer.is_point else style.fill_opacity,
        "weight": style.weight,
        "className": f"vung-feature vung-feature--{layer.id}",
    }
    # Layer names are HTML in Leaflet's layer control: a swatch, the title, the count.
    swatch = f'<span class="vung-swatch" style="background:{escape(style.fill_color)};border-color:{escape(style.color)}"></span>'
    label = f"{swatch}{escape(selection.title)} ({len(selection.features):,})"
    collection = {"type": "FeatureCollection", "layer": layer.id, "features": selection.features}
    return folium.GeoJson(
        collection,
        name=label,
        style_function=lambda feature, s=shape_style: s,
        marker=folium.CircleMarker(radius=style.radius, fill=True),
        on_each_feature=JsCode(
            "function (feature, layer) {"
            f" layer.bindPopup(function () {{ return vungPopup({htmlsafe_json_dumps(layer.id)}, feature); }},"
            " { maxWidth: 320, minWidth: 200 }); }"
        ),
    )


def combined_bounds(boxes: list[tuple | None]) -> tuple[float, float, float, float] | None:
    found = [b for b in boxes if b]
    if not found:
        return None
    return (min(b[0] for b in found), min(b[1] for b in found), max(b[2] for b in found), max(b[3] for b in found))


class Attribution(MacroElement):
    """The data's attribution lines, beside the base map's, for as long as the map is open."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        {%- for line in this.lines %}
        {{ this._parent.get_name() }}.attributionControl.addAttribution({{ line|tojson }});
        {%- endfor %}
        {% endmacro %}
        """
    )

    def __init__(self, lines: tuple[str, ...]):
        super().__init__()
        self._name = "Attribution"
        self.lines = [str(escape(line)) for line in lines]


def popup_script(selections: list[LayerSelection], options: PublishOptions) -> str:
    """The app's popup code (static/js/popup.js, bundled) and what it needs: the layers' fields, the words, the link."""
    config = {
        "lang": options.lang,
        "strings": options.strings,
        "layers": {s.layer.id: popup_layer(s.layer, options.lang) for s in selections},
        # Links open beside the map: it is often framed in another site.
        "links": {"detailBase": options.detail_base, "newTab": True},
    }
    return (
        f"<script>{options.code.popup_js}</script>\n"
        f"<script>\nvar VUNG_PUBLISHED = {htmlsafe_json_dumps(config)};\nVungPopup.initI18n(VUNG_PUBLISHED);\n"
        "function vungPopup(layerId, feature) {\n"
        "  return VungPopup.buildPopup(feature, VUNG_PUBLISHED.layers[layerId], VUNG_PUBLISHED.links);\n"
        "}\n</script>"
    )


PAGE_CSS = """
html, body { height: 100%; }
body { display: flex; flex-direction: column;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif; }
.vung-title { flex: none; margin: 0; padding: 0.45rem 1rem; background: #1b4332; color: #fff;
  font-size: 1.1rem; font-weight: 600; line-height: 1.4; }
.folium-map { flex: 1; height: auto !important; min-height: 0; }
.vung-swatch { display: inline-block; width: 12px; height: 12px; margin: 0 4px 0 2px; vertical-align: -1px;
  border: 2px solid; border-radius: 3px; }
"""
