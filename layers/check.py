"""Consistency checks run on every declaration at import time."""

import re

from layers.base import PLACE_FIELDS, SYSTEM_FIELDS, Layer

IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
RESERVED = {"id", "geom", "f", "bbox", "limit", "offset", "q", "datetime", "sortby", "filter"}


class LayerDeclarationError(ValueError):
    pass


def check_layer(layer: Layer) -> None:
    def fail(msg: str) -> None:
        raise LayerDeclarationError(f"layer {layer.id!r}: {msg}")

    if not IDENTIFIER.match(layer.id):
        fail("id must be a lower-case SQL identifier")
    names = layer.field_names
    if len(set(names)) != len(names):
        fail("duplicate field names")
    if "name" not in names:
        fail("every layer needs a 'name' field")
    for f in layer.fields:
        if not IDENTIFIER.match(f.name) or f.name in RESERVED or f.name in SYSTEM_FIELDS:
            fail(f"field {f.name!r} has a reserved or invalid name")
        if f.kind == "enum" and not f.choices:
            fail(f"enum field {f.name!r} has no choices")
        if f.kind != "enum" and f.choices:
            fail(f"field {f.name!r} has choices but is not an enum")
    if layer.derive_area and "area_ha" not in names:
        fail("derive_area needs an 'area_ha' field")
    if layer.derive_place and not set(PLACE_FIELDS) <= set(names):
        fail("derive_place needs the district and commune fields")
    if layer.editable and not layer.derive_place:  # editors may be limited to districts: each feature needs one
        fail("an editable layer needs derive_place")
    if layer.outline_filter and not all(
        (f := layer.field(name)) is not None and f.filterable for name in layer.outline_filter
    ):
        fail("outline_filter must name filterable fields")
    if layer.temporal and not set(layer.temporal) <= set(names):
        fail("temporal fields must be declared fields")
