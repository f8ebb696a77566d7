"""OGC API – Features, read side: landing page, conformance, collections, items."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import urlencode

from flask import Blueprint, Response, render_template, request, url_for

from app.auth import may_read
from app.db import db
from app.errors import ApiError, NotFound
from app.guards import shared_for_a_while
from app.openapi import described_feature_schema, openapi_document, queryables_schema
from app.pages import current_lang
from layers import REGISTRY, get_layer
from layers.base import Layer
from layers.params import CRS84, parse_item_query
from layers.query import Extent, ItemQuery, layer_extent, layer_extents, select_counted_page, select_feature

bp = Blueprint("ogc", __name__)

GEOJSON = "application/geo+json"
JSON_SCHEMA = "application/schema+json"
QUERYABLES_REL = "http://www.opengis.net/def/rel/ogc/1.0/queryables"
GREGORIAN = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"
CQL2 = "http://www.opengis.net/spec/cql2/1.0/conf/"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    # Part 3: queryables and `filter=` in CQL2 text (gis/cql2.py says what the language covers).
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    CQL2 + "cql2-text",
    CQL2 + "basic-cql2",
    CQL2 + "advanced-comparison-operators",
    CQL2 + "case-insensitive-comparison",
    CQL2 + "accent-insensitive-comparison",
    CQL2 + "basic-spatial-functions",
    # The draft's name for the class above, which QGIS 3.32 to 3.3x look for before sending S_INTERSECTS.
    CQL2 + "basic-spatial-operators",
    CQL2 + "basic-spatial-functions-plus",
    CQL2 + "spatial-functions",
]
# Parameters of the pages rather than of the query (`crs` chooses the output's coordinates).
PAGE_PARAMS = {"f", "lang", "crs"}
# Part 2 names the coordinates of a response in a header, between angle brackets.
CONTENT_CRS = {"Content-Crs": f"<{CRS84}>"}


def output_format() -> str:
    f = request.args.get("f")
    if f in ("json", "html"):
        return f
    if f:
        raise ApiError(f"f: unknown format {f[:20]!r}; use json or html")
    best = request.accept_mimetypes.best_match(["application/json", GEOJSON, "text/html"])
    return "html" if best == "text/html" else "json"


@bp.after_request
def vary_on_accept(response: Response) -> Response:
    # Without ?f= the format follows the Accept header, so caches must key on it.
    if "f" not in request.args:
        response.vary.add("Accept")
    return response


def link(href: str, rel: str, type_: str, title: str | None = None) -> dict:
    out = {"href": href, "rel": rel, "type": type_}
    if title:
        out["title"] = title
    return out


def self_links(endpoint: str, json_type: str = "application/json", **values) -> list[dict]:
    fmt = output_format()
    json_href = url_for(endpoint, _external=True, f="json", **values)
    html_href = url_for(endpoint, _external=True, f="html", **values)
    return [
        link(json_href, "self" if fmt == "json" else "alternate", json_type, "This document as JSON"),
        link(html_href, "self" if fmt == "html" else "alternate", "text/html", "This document as HTML"),
    ]


def render(data: dict, template: str, media_type: str = "application/json", **context):
    if output_format() == "html":
        return render_template(template, data=data, **context)
    return Response(json.dumps(data, ensure_ascii=False), mimetype=media_type)


def check_output_crs() -> None:
    """Features are served in CRS84 only; GDAL asks for it by name (`crs=`) since collections list it."""
    crs = request.args.get("crs")
    if crs is not None and crs != CRS84:
        raise ApiError(f"crs: only {CRS84} is offered")


def find_layer(layer_id: str) -> Layer:
    layer = get_layer(layer_id)
    if layer is None or not may_read(layer):
        # Unreadable layers are not confirmed to exist.
        raise NotFound(f"There is no collection {layer_id[:60]!r}.")
    return layer


def parse_feature_id(raw: str, layer: Layer) -> int:
    """Ids are plain ASCII digits (str.isdigit alone lets "²" through to int())."""
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise NotFound(f"There is no feature {raw[:40]!r} in {layer.id}.")
    return int(raw)


def readable_layers() -> list[Layer]:
    return [layer for layer in REGISTRY.values() if may_read(layer)]


@bp.get("")  # without the slash too; a rule without strict slashes answers other methods 404, not 405
@bp.get("/")
def landing():
    data = {
        "title": "Vùng – OGC API Features",
        "description": "Farming zones, aquaculture areas, craft villages and relics of the province.",
        "links": self_links("ogc.landing")
        + [
            link(url_for("ogc.api", _external=True), "service-desc", "application/vnd.oai.openapi+json;version=3.0", "OpenAPI definition"),
            link(url_for("ogc.api", _external=True, f="html"), "service-doc", "text/html", "API documentation"),
            link(url_for("ogc.conformance", _external=True), "conformance", "application/json", "Conformance classes"),
            link(url_for("ogc.collections", _external=True), "data", "application/json", "Collections"),
        ],
    }
    return render(data, "ogc/landing.html")


@bp.get("/conformance")
def conformance():
    return render({"conformsTo": CONFORMANCE}, "ogc/conformance.html")


@bp.get("/api")
def api():
    document = openapi_document(url_for("ogc.landing", _external=True).rstrip("/"))
    if output_format() == "html":
        return render_template("ogc/api.html", data=document)
    return Response(json.dumps(document, ensure_ascii=False), mimetype="application/vnd.oai.openapi+json;version=3.0")


def collection_info(layer: Layer, extent: Extent) -> dict:
    lang = current_lang()
    items = url_for("ogc.items", layer_id=layer.id, _external=True)
    queryables_href = url_for("ogc.queryables", layer_id=layer.id, _external=True)
    info = {
        "id": layer.id,
        "title": layer.title(lang),
        "description": layer.description(lang),
        "itemType": "feature",
        "crs": [CRS84],
        "storageCrs": CRS84,
        "links": [
            link(url_for("ogc.collection", layer_id=layer.id, _external=True), "self", "application/json", layer.title(lang)),
            link(items + "?f=json", "items", GEOJSON, "Features as GeoJSON"),
            link(items + "?f=html", "items", "text/html", "Features as HTML"),
            link(queryables_href + "?f=json", QUERYABLES_REL, JSON_SCHEMA, "Properties a filter may use"),
            # Relation names compare case-insensitively (RFC 8288); GDAL looks for this spelling.
            link(url_for("ogc.feature_schema_of", layer_id=layer.id, _external=True), "describedBy", JSON_SCHEMA,
                 "A feature as JSON Schema (property types)"),
            link(queryables_href + "?f=html", QUERYABLES_REL, "text/html", "Properties a filter may use, as HTML"),
        ],
    }
    spans = {}
    if extent.bbox:
        spans["spatial"] = {"bbox": [list(extent.bbox)], "crs": CRS84}
    if extent.interval:
        spans["temporal"] = {"interval": [[instant(extent.interval.start), instant(extent.interval.end)]], "trs": GREGORIAN}
    if spans:
        info["extent"] = spans
    return info


def instant(day) -> str | None:
    """A day as the RFC 3339 instant at its start (null for an open end)."""
    return f"{day.isoformat()}T00:00:00Z" if day else None


@bp.get("/collections")
def collections():
    layers = readable_layers()
    extents = db().read(layer_extents, layers)
    infos = [collection_info(layer, extents[layer.id]) for layer in layers]
    data = {"links": self_links("ogc.collections"), "collections": infos}
    return render(data, "ogc/collections.html")


@bp.get("/collections/<layer_id>")
def collection(layer_id: str):
    layer = find_layer(layer_id)
    info = collection_info(layer, db().read(layer_extent, layer))
    info["links"] = self_links("ogc.collection", layer_id=layer.id) + info["links"][1:]
    return render(info, "ogc/collection.html", layer=layer)


@bp.get("/collections/<layer_id>/schema.json")
def feature_schema_of(layer_id: str):
    layer = find_layer(layer_id)
    schema = described_feature_schema(layer, url_for("ogc.feature_schema_of", layer_id=layer.id, _external=True))
    return Response(json.dumps(schema, ensure_ascii=False), mimetype=JSON_SCHEMA)


@bp.get("/collections/<layer_id>/queryables")
def queryables(layer_id: str):
    layer = find_layer(layer_id)
    lang = current_lang()
    href = url_for("ogc.queryables", layer_id=layer.id, _external=True)
    schema = queryables_schema(layer, href, lang)
    links = self_links("ogc.queryables", JSON_SCHEMA, layer_id=layer.id) + [
        link(url_for("ogc.collection", layer_id=layer.id, _external=True), "collection", "application/json"),
    ]
    # A JSON Schema has no place for links: they are shown on the HTML page only.
    return render(schema, "ogc/queryables.html", JSON_SCHEMA, layer=layer, links=links, lang=lang)


def page_links(layer: Layer, query: ItemQuery, returned: int, matched: int | None) -> list[dict]:
    base = url_for("ogc.items", layer_id=layer.id, _external=True)
    args = {k: v for k, v in request.args.items() if k not in ("offset", "f")}

    def href(fmt: str, offset: int | None = None) -> str:
        params = dict(args, f=fmt)
        if offset is not None:
            params["offset"] = offset
        return f"{base}?{urlencode(params)}"

    fmt = output_format()
    current = query.offset or None
    links = [
        link(href("json", current), "self" if fmt == "json" else "alternate", GEOJSON, "This page as GeoJSON"),
        link(href("html", current), "self" if fmt == "html" else "alternate", "text/html", "This page as HTML"),
        link(url_for("ogc.collection", layer_id=layer.id, _external=True), "collection", "application/json"),
    ]
    more = matched > query.offset + returned if matched is not None else returned == query.limit
    if more:
        links.append(link(href(fmt, query.offset + query.limit), "next", GEOJSON if fmt == "json" else "text/html", "Next page"))
    if query.offset > 0:
        links.append(link(href(fmt, max(0, query.offset - query.limit)), "prev", GEOJSON if fmt == "json" else "text/html", "Previous page"))
    return links


@bp.get("/collections/<layer_id>/items")
def items(layer_id: str):
    layer = find_layer(layer_id)
    check_output_crs()
    query = parse_item_query(layer, request.args, PAGE_PARAMS)
    fmt = output_format()
    page, matched = db().read(select_counted_page, layer, query)
    links = page_links(layer, query, page.returned, matched)
    if fmt == "html":
        return shared_for_a_while(Response(render_template(
            "ogc/items.html", layer=layer, features=json.loads(page.features), links=links,
            matched=matched, returned=page.returned, lang=current_lang(),
        )), layer, visitors_only=True)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    # One join: a chain of `+` copies the (up to megabytes of) features text at every step.
    body = "".join((
        '{"type":"FeatureCollection","features":',
        page.features,
        f',"numberReturned":{page.returned},"numberMatched":{matched},"timeStamp":"{stamp}","links":',
        json.dumps(links, ensure_ascii=False),
        "}",
    ))
    return shared_for_a_while(Response(body, mimetype=GEOJSON, headers=CONTENT_CRS), layer, visitors_only=True)


def etag_for(layer: Layer, feature_id: int, version: int) -> str:
    return f'"{layer.id}-{feature_id}-v{version}"'


@bp.get("/collections/<layer_id>/items/<feature_id>")
def item(layer_id: str, feature_id: str):
    layer = find_layer(layer_id)
    check_output_crs()
    found = db().read(select_feature, layer, parse_feature_id(feature_id, layer))
    if found is None:
        raise NotFound(f"There is no feature {feature_id} in {layer.id}.")
    feature_text, version = found
    etag = etag_for(layer, int(feature_id), version)
    if request.if_none_match.contains_weak(etag.strip('"')):
        return Response(status=304, headers={"ETag": etag})
    collection_href = url_for("ogc.collection", layer_id=layer.id, _external=True)
    links = [
        link(f"{collection_href}/items/{feature_id}?f=json", "self", GEOJSON),
        link(f"{collection_href}/items/{feature_id}?f=html", "alternate", "text/html"),
        link(collection_href, "collection", "application/json"),
    ]
    if output_format() == "html":
        response = Response(
            render_template("ogc/item.html", layer=layer, feature=json.loads(feature_text), links=links, lang=current_lang())
        )
    else:
        response = Response(
            feature_text[:-1] + ',"links":' + json.dumps(links, ensure_ascii=False) + "}", mimetype=GEOJSON, headers=CONTENT_CRS
        )
    response.headers["ETag"] = etag
    return shared_for_a_while(response, layer, visitors_only=True)

