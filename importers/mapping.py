"""Matching a file's columns and values to a layer's fields and enum choices.

Names are compared folded: lower case, no diacritics, đ → d, and runs of
spaces, dashes and underscores as one, so "Cây trồng", "cay_trong" and "CAY
TRONG" all find the field `crop` (labelled "Cây trồng").
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import cache, lru_cache

from layers.base import Field, Layer

SEPARATORS = re.compile(r"[\s_\-./,]+")  # "Hoa, cây cảnh" written "hoa cay canh" is the same


@lru_cache(maxsize=65_536)  # files repeat the same few values in every row
def fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", str(text).replace("đ", "d").replace("Đ", "D"))
    bare = "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
    return SEPARATORS.sub(" ", bare.lower()).strip()


@dataclass
class Mapping:
    columns: dict[str, str] = field(default_factory=dict)  # source column -> field name
    unknown: list[str] = field(default_factory=list)  # source columns matching no field
    values: dict[str, dict[str, str]] = field(default_factory=dict)  # the user's: field -> folded file text -> choice
    id_column: str | None = None  # the file's feature ids, when keyed by id
    version_column: str | None = None  # and the versions they were exported at
    constants: dict[str, object] = field(default_factory=dict)  # field -> the value every row gets (--set)

    def missing_required(self, layer: Layer) -> list[str]:
        """The layer's required fields no column fills and no value for every row gives."""
        filled = {*self.columns.values(), *self.constants}
        return [f.name for f in layer.writable if f.required and f.name not in filled]


DBF_NAME_LENGTH = 10


def dbf_names(names: list[str]) -> dict[str, str]:
    """The names GDAL gives these columns in a shapefile: cut at 10 characters, a name already taken ending
    in _1, _2... instead ("description_en" after "description": "descript_1")."""
    out: dict[str, str] = {}
    for name in names:
        cut, n = name[:DBF_NAME_LENGTH], 1
        while cut.lower() in {c.lower() for c in out.values()}:
            suffix = f"_{n}"
            cut, n = name[:DBF_NAME_LENGTH - len(suffix)] + suffix, n + 1
        out[name] = cut
    return out


class MappingError(ValueError):
    pass


def field_keys(f: Field) -> set[str]:
    return {fold(f.name), fold(f.vi), fold(f.en)}


def suggest_mapping(layer: Layer, columns: list[str], overrides: dict[str, str] | None = None) -> Mapping:
    """Columns matched to writable fields by name or label; `overrides` (column -> field or "") win."""
    overrides = overrides or {}
    writable = {f.name: f for f in layer.writable}
    for column, target in overrides.items():
        if column not in columns:
            raise MappingError(f"--map names column {column!r}, which the file does not have ({', '.join(columns)})")
        if target and target not in writable:
            raise MappingError(f"--map names field {target!r}, which {layer.id} does not have or computes itself")
    claimed: dict[str, str] = {}  # field -> the column the user mapped to it
    for column, target in overrides.items():
        if target and claimed.setdefault(target, column) != column:
            raise MappingError(f"--map maps columns {claimed[target]!r} and {column!r} to the same field {target!r}: choose one")
    by_key = {key: f.name for f in writable.values() for key in field_keys(f)}
    if "name" in writable:  # "Tên" alone, as most tables head the name column, whatever the layer calls it
        by_key.setdefault("ten", "name")
    for name, cut in dbf_names([f.name for f in layer.fields]).items():  # a shapefile of this app's export
        if name in writable:
            by_key.setdefault(fold(cut), name)
    mapping = Mapping()
    for column in columns:
        # The user's choice of a field wins over a column matching it by name.
        target = overrides[column] if column in overrides else by_key.get(fold(column))
        if target and target not in mapping.columns.values() and claimed.get(target, column) == column:
            mapping.columns[column] = target
        elif column not in overrides:
            mapping.unknown.append(column)
    return mapping


VALUES_MATCHED = 0.8  # of a column's distinct words, what must read as a field's values for it to be suggested


def suggest_by_values(layer: Layer, mapping: Mapping, records: list[dict]) -> None:
    """Columns no name matched whose words are mostly a list field's values ("LOAI_CAY" holding "Lúa",
    "Rau màu"), suggested for that field if no column fills it: the user sees them chosen, not a field
    left to one value for every row."""
    for f in (f for f in layer.writable if f.kind == "enum" and f.name not in mapping.columns.values()):
        best, best_share = None, VALUES_MATCHED
        for column in mapping.unknown:
            words = {str(r[column]).strip() for r in records if isinstance(r.get(column), str) and r[column].strip()}
            share = sum(map_choice(f, w) is not None for w in words) / len(words) if words else 0
            if share >= best_share:
                best, best_share = column, share
        if best:
            mapping.columns[best] = f.name
            mapping.unknown.remove(best)


LABEL_PARTS = re.compile(r"\s*(?:[,;/]|\bvà\b|\band\b)\s*")


@cache
def choice_lookup(f: Field) -> dict[str, str]:
    """Every way a file may write a choice (value, Vietnamese or English label), folded. A label naming
    several things ("Cơ khí, rèn, đúc") answers to each of them too, unless another choice's does."""
    lookup = {}
    for c in f.choices:
        for key in (c.value, c.vi, c.en, c.value.replace("_", " ")):
            lookup.setdefault(fold(key), c.value)
    parts: dict[str, set[str]] = {}
    for c in f.choices:
        for label in (c.vi, c.en):
            for part in LABEL_PARTS.split(label):
                if fold(part):
                    parts.setdefault(fold(part), set()).add(c.value)
    for key, values in parts.items():
        if len(values) == 1:
            lookup.setdefault(key, values.pop())
    return lookup


def map_choice(f: Field, raw, chosen: dict[str, str] | None = None) -> str | None:
    """The enum value a file's text stands for (the user's `chosen` values first, folded text -> value),
    or None when it names none."""
    if not isinstance(raw, str | int | float):  # nothing, or a list or a map from the file
        return None
    key = fold(raw)
    return (chosen or {}).get(key) or choice_lookup(f).get(key)


def chosen_values(layer: Layer, values: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """The user's own reading of enum text (field -> file text -> choice), checked and folded.

    For the words a file uses that no label matches: "Lúa nếp" is `rice`
    to this officer, though the layer has no such label.
    """
    out = {}
    for name, pairs in values.items():
        f = next((f for f in layer.writable if f.name == name), None)
        if f is None or f.kind != "enum":
            raise MappingError(f"--value names field {name!r}, which is not a field of {layer.id} with a list of values")
        for text, choice in pairs.items():
            if choice not in f.choice_values():
                raise MappingError(
                    f"--value gives {choice!r} for {text!r}, which is not a value of {name} ({', '.join(f.choice_values())})"
                )
            read = out.setdefault(name, {})
            if read.get(fold(text), choice) != choice:  # "Lúa nếp" and "LÚA NẾP" are one word to the matching
                raise MappingError(f"--value gives {name} two values for {text!r} written alike: {read[fold(text)]!r} and {choice!r}")
            read[fold(text)] = choice
    return out
