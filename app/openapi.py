"""The OpenAPI 3 document of the OGC API, generated from the layer registry."""

from __future__ import annotations

from gis.cql2 import MAX_LENGTH as MAX_FILTER_LENGTH
from layers import public_layers
from layers.base import URL_KINDS, Field, Layer
from layers.params import CRS84, DEFAULT_LIMIT, FILTER_LANG, MAX_LIMIT, MAX_Q

SCHEMA_TYPES = {
    "text": {"type": "string"},
    "longtext": {"type": "string"},
    **{kind: {"type": "string", "format": "uri"} for kind in URL_KINDS},
    "integer": {"type": "integer"},
    "number": {"type": "number"},
    "date": {"type": "string", "format": "date"},
    "boolean": {"type": "boolean"},
}


def field_schema(f: Field) -> dict:
    schema = {"type": "string", "enum": list(f.choice_values())} if f.kind == "enum" else dict(SCHEMA_TYPES[f.kind])
    schema["title"] = f.en
    if f.max_length:
        schema["maxLength"] = f.max_length
    return schema


# JSON Schema formats of OGC API – Features Part 3 for the geometry queryable.
GEOMETRY_FORMATS = {
    "Point": "geometry-point",
    "Polygon": "geometry-polygon",
    "MultiPolygon": "geometry-multipolygon",
    "Geometry": "geometry-any",
}


def queryables_schema(layer: Layer, schema_id: str, lang: str = "en") -> dict:
    """The properties a CQL2 filter may name (layers.query.layer_queryables), as JSON Schema.

    The geometry is told apart by its `format` and role, which GDAL and QGIS
    look for to write spatial filters.
    """
    properties = {
        "geometry": {"title": "Geometry" if lang == "en" else "Hình học",
                     "format": GEOMETRY_FORMATS[layer.geometry], "x-ogc-role": "primary-geometry"},
        "id": {"title": "id", "type": "integer", "x-ogc-role": "id"},
    }
    for f in layer.fields:
        schema = field_schema(f)
        schema["title"] = f.label(lang)
        if f.unit:
            schema["x-ogc-unit"] = f.unit
        properties[f.name] = schema
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": schema_id,
        "type": "object",
        "title": layer.title(lang),
        "properties": properties,
        "additionalProperties": False,
    }


SYSTEM_SCHEMAS = {
    "created_at": {"type": "string", "format": "date-time", "title": "Created"},
    "updated_at": {"type": "string", "format": "date-time", "title": "Updated"},
    "version": {"type": "integer", "title": "Version"},
}


def described_feature_schema(layer: Layer, schema_id: str) -> dict:
    """A feature of the layer as a JSON Schema document of its own: what GDAL reads to type its fields.

    Without it a client guesses each field's type from the first page, and a
    field empty there (households, validity dates) comes out as text.
    """
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": schema_id, "title": layer.en,
            **feature_schema(layer)}


def parameter(name: str, description: str, schema: dict, style: str = "form", explode: bool = False) -> dict:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema, "style": style, "explode": explode}


def common_parameters() -> dict:
    return {
        "f": parameter("f", "Output format.", {"type": "string", "enum": ["json", "html"]}),
        "bbox": parameter(
            "bbox", "minLon,minLat,maxLon,maxLat in CRS84.",
            {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}},
        ),
        "limit": parameter("limit", "Features per page.", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}),
        "offset": parameter("offset", "Features to skip.", {"type": "integer", "minimum": 0, "default": 0}),
        "q": parameter("q", "Free-text search in names, ignoring case and diacritics.", {"type": "string", "maxLength": MAX_Q}),
        "datetime": parameter("datetime", "Instant or interval (RFC 3339), where the collection is temporal.", {"type": "string"}),
        "filter": parameter(
            "filter",
            "CQL2 text on the collection's queryables: comparisons, AND/OR/NOT, LIKE, IN, BETWEEN, IS NULL, "
            "CASEI/ACCENTI and spatial functions (S_INTERSECTS, ...) with WKT or BBOX in CRS84, "
            "e.g. kind IN ('temple','pagoda') AND S_INTERSECTS(geometry, BBOX(106.1,20.3,106.3,20.5)).",
            {"type": "string", "maxLength": MAX_FILTER_LENGTH},
        ),
        "filter-lang": parameter("filter-lang", "Language of `filter`.", {"type": "string", "enum": [FILTER_LANG], "default": FILTER_LANG}),
        "filter-crs": parameter(
            "filter-crs", "Coordinate system of geometries in `filter`.",
            {"type": "string", "format": "uri", "enum": [CRS84]},
        ),
        "featureId": {"name": "featureId", "in": "path", "required": True, "schema": {"type": "integer"}},
    }


def error_responses() -> dict:
    ref = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/exception"}}}}
    return {
        "400": {"description": "Bad parameter.", **ref},
        "404": {"description": "Not found.", **ref},
        "503": {"description": "Database unavailable.", **ref},
    }


def layer_paths(layer: Layer) -> dict:
    ref = lambda name: {"$ref": f"#/components/parameters/{name}"}  # noqa: E731
    filters = [
        parameter(f.name, f"Filter on {f.en}" + (" (comma-separated values)" if f.kind == "enum" else "."), field_schema(f))
        for f in layer.filterable
    ]
    params = [ref("f"), ref("bbox"), ref("limit"), ref("offset"), ref("q"), ref("filter"), ref("filter-lang"), ref("filter-crs")]
    if layer.temporal:
        params.append(ref("datetime"))
    geojson = {"application/geo+json": {"schema": {"$ref": f"#/components/schemas/{layer.id}"}}}
    return {
        f"/collections/{layer.id}": {
            "get": {"summary": f"Describe {layer.en}", "operationId": f"describe_{layer.id}",
                    "parameters": [ref("f")], "responses": {"200": {"description": "The collection."}, **error_responses()}},
        },
        f"/collections/{layer.id}/queryables": {
            "get": {"summary": f"Properties of {layer.en} a filter may use", "operationId": f"queryables_{layer.id}",
                    "parameters": [ref("f")],
                    "responses": {"200": {"description": "A JSON Schema of the queryables.",
                                          "content": {"application/schema+json": {"schema": {"type": "object"}},
                                                      "text/html": {"schema": {"type": "string"}}}},
                                  **error_responses()}},
        },
        f"/collections/{layer.id}/items": {
            "get": {"summary": f"Features of {layer.en}", "operationId": f"items_{layer.id}",
                    "parameters": params + filters,
                    "responses": {"200": {"description": "A page of features.",
                                          "content": {"application/geo+json": {"schema": {"type": "object"}}}},
                                  **error_responses()}},
        },
        f"/collections/{layer.id}/items/{{featureId}}": {
            "get": {"summary": f"One feature of {layer.en}", "operationId": f"item_{layer.id}",
                    "parameters": [ref("featureId"), ref("f")],
                    "responses": {"200": {"description": "The feature.", "content": geojson}, **error_responses()}},
        },
    }


def feature_schema(layer: Layer) -> dict:
    properties = {f.name: field_schema(f) for f in layer.fields}
    properties.update({name: SYSTEM_SCHEMAS[name] for name in layer.property_names if name in SYSTEM_SCHEMAS})
    return {
        "type": "object",
        "required": ["type", "geometry", "properties"],
        "properties": {
            "type": {"type": "string", "enum": ["Feature"]},
            "id": {"type": "integer"},
            "geometry": {"type": "object", "format": GEOMETRY_FORMATS[layer.geometry]},
            "properties": {"type": "object", "properties": properties},
        },
    }


def openapi_document(server_url: str) -> dict:
    paths = {
        "/": {"get": {"summary": "Landing page", "operationId": "landing", "responses": {"200": {"description": "Links to the API."}}}},
        "/conformance": {"get": {"summary": "Conformance classes", "operationId": "conformance", "responses": {"200": {"description": "The classes."}}}},
        "/api": {"get": {"summary": "This document", "operationId": "api", "responses": {"200": {"description": "OpenAPI 3."}}}},
        "/collections": {"get": {"summary": "Collections", "operationId": "collections", "responses": {"200": {"description": "Every collection."}}}},
    }
    for layer in public_layers():
        paths.update(layer_paths(layer))
    return {
        "openapi": "3.0.3",
        "info": {"title": "Vùng OGC API – Features", "version": "1.0.0",
                 "description": "Read access to the province's layers.",
                 "license": {"name": "See each collection's sources"}},
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {
            "parameters": common_parameters(),
            "schemas": {
                "exception": {"type": "object", "required": ["code"],
                              "properties": {"code": {"type": "string"}, "description": {"type": "string"}}},
                **{layer.id: feature_schema(layer) for layer in public_layers()},
            },
        },
    }
