"""Checking a client's feature properties against the layer's declaration.

Pure Python: no database. Geometry is checked by PostGIS (layers/edit.py).
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date

from layers.base import Field, Layer

URL = re.compile(r"^https?://[^\s<>\"']+$", re.IGNORECASE)

# What XML 1.0 cannot hold besides NUL (KML and GPX exports would break): C0 controls but tab and
# line breaks, and the two non-characters U+FFFE and U+FFFF.
CONTROL_CHARACTERS = re.compile("[\x01-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass
class Problems:
    """Everything wrong with one write, by field, so a form can show each."""

    errors: list[dict] = field(default_factory=list)

    def add(self, field_name: str, message: str, **extra) -> None:
        self.errors.append({"field": field_name, "message": message, **extra})

    def __bool__(self) -> bool:
        return bool(self.errors)


def check_value(f: Field, value) -> tuple[object, str | None]:
    """The value in its stored type, or an error message."""
    if value is None or (isinstance(value, str) and value.strip() == "" and f.kind != "boolean"):
        return None, None
    kind = f.kind
    if f.is_free_text or kind == "enum":
        if not isinstance(value, str):
            return None, "must be text"
        # One spelling of each letter: text typed on a Mac or pasted from the web may spell "ộ" in three
        # code points, which no search, filter or import key would match to the usual one.
        value = unicodedata.normalize("NFC", value.strip())
        if "\x00" in value:
            return None, "must not contain NUL characters"
        if CONTROL_CHARACTERS.search(value):
            return None, "must not contain control characters"
        if f.max_length and len(value) > f.max_length:
            return None, f"at most {f.max_length} characters"
        if kind == "enum" and value not in f.choice_values():
            return None, f"unknown value {value[:40]!r}; expected one of {', '.join(f.choice_values())}"
        if f.is_url and not URL.match(value):
            return None, "must be an http(s) address"
        return value, None
    if kind == "integer":
        if isinstance(value, float) and value.is_integer():  # 5.0: a spreadsheet's column of numbers, or JSON
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            return None, "must be a whole number"
        if not -(2**31) <= value < 2**31:
            return None, "must be a whole number between -2147483648 and 2147483647"
        return value, None
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            return None, "must be a number"
        return float(value), None
    if kind == "boolean":
        return (value, None) if isinstance(value, bool) else (None, "must be true or false")
    if kind == "date":
        try:
            return date.fromisoformat(value), None
        except (TypeError, ValueError):
            return None, "must be a date (YYYY-MM-DD)"
    return None, "unsupported field"


def check_properties(layer: Layer, properties, partial: bool) -> tuple[dict, Problems]:
    """Typed values of the writable fields given; unknown and derived fields are errors."""
    problems = Problems()
    if not isinstance(properties, dict):
        problems.add("properties", "must be an object")
        return {}, problems
    writable = {f.name: f for f in layer.writable}
    values: dict = {}
    for name, raw in properties.items():
        f = writable.get(name)
        if f is None:
            derived = layer.field(name) is not None
            problems.add(name, "is computed by the server" if derived else "unknown field")
            continue
        value, error = check_value(f, raw)
        if error:
            problems.add(name, error)
        else:
            values[name] = value
    for f in writable.values():
        missing = values.get(f.name) is None and (not partial or f.name in properties)
        if f.required and missing and not any(e["field"] == f.name for e in problems.errors):
            problems.add(f.name, "is required")
    return values, problems
