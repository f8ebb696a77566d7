"""The vocabulary of a layer declaration: fields, choices, styles, layers.

A declaration says what a layer *is*; tables, API output, filters, forms and
popups are all derived from it elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# "photo" is the http(s) address of a picture of the feature: stored, checked and
# filtered as a "url", but shown as the picture (above a popup or a detail page's
# table, never in a published map, whose photos would be outside links).
FieldKind = Literal["text", "longtext", "integer", "number", "enum", "date", "boolean", "url", "photo"]
GeometryKind = Literal["Point", "Polygon", "MultiPolygon", "Geometry"]
OverlapPolicy = Literal["reject", "warn", "allow"]

# Kinds whose value is an http(s) address.
URL_KINDS = frozenset({"url", "photo"})
# Kinds whose value is free text (an enum's is one of its choices).
FREE_TEXT_KINDS = frozenset({"text", "longtext", *URL_KINDS})

# Geometry types a client may send for each declared kind.
ACCEPTED_GEOMETRIES = {
    "Point": ("Point",),
    "Polygon": ("Polygon",),
    "MultiPolygon": ("Polygon", "MultiPolygon"),
    "Geometry": ("Point", "Polygon", "MultiPolygon"),
}

# Columns every editable layer carries besides its declared fields.
SYSTEM_FIELDS = ("created_at", "updated_at", "version")
# Place columns the database derives from admin_units.
PLACE_FIELDS = ("district", "district_code", "commune", "commune_code")


@dataclass(frozen=True)
class Choice:
    value: str
    vi: str
    en: str

    def label(self, lang: str) -> str:
        return self.en if lang == "en" else self.vi


@dataclass(frozen=True)
class Field:
    name: str
    kind: FieldKind
    vi: str
    en: str
    choices: tuple[Choice, ...] = ()
    unit: str | None = None
    required: bool = False
    filterable: bool = False
    searchable: bool = False
    popup: bool = False
    # Filled in by the database, never by a client.
    computed: bool = False
    max_length: int | None = None

    def label(self, lang: str) -> str:
        return self.en if lang == "en" else self.vi

    @property
    def is_url(self) -> bool:
        """Its value is an http(s) address (a link, or a photo)."""
        return self.kind in URL_KINDS

    @property
    def is_free_text(self) -> bool:
        """Its value is text as written, not one of a list of choices."""
        return self.kind in FREE_TEXT_KINDS

    def choice_values(self) -> tuple[str, ...]:
        return tuple(c.value for c in self.choices)

    def config(self, lang: str) -> dict:
        """What the browser's code (filters, popups, forms) knows of the field, in `lang`."""
        return {
            "name": self.name,
            "label": self.label(lang),
            "kind": self.kind,
            "unit": self.unit,
            "popup": self.popup,
            "filterable": self.filterable,
            "choices": [{"value": c.value, "label": c.label(lang)} for c in self.choices],
        }

    def display(self, value, lang: str) -> str | None:
        """A stored value as people read it: choice labels, yes/no, numbers with their unit; None when empty."""
        if value is None or value == "":
            return None
        if self.kind == "enum":
            choice = next((c for c in self.choices if c.value == value), None)
            return choice.label(lang) if choice else str(value)
        if self.kind == "boolean":
            return ("Yes" if value else "No") if lang == "en" else ("Có" if value else "Không")
        unit = f" {self.unit}" if self.unit else ""
        if self.kind == "number":
            return f"{value:,.2f}{unit}"
        return f"{value}{unit}"


@dataclass(frozen=True)
class Style:
    color: str
    fill_color: str
    fill_opacity: float = 0.35
    weight: int = 2
    radius: int = 7


@dataclass(frozen=True)
class Layer:
    id: str
    vi: str
    en: str
    geometry: GeometryKind
    fields: tuple[Field, ...]
    style: Style
    public: bool = True
    visible: bool = True
    # Derive area_ha / district / commune in the database.
    derive_area: bool = False
    derive_place: bool = True
    editable: bool = True
    # Drawn as outlines under every map, filtered so (e.g. {"level": "district"}).
    outline_filter: dict | None = None
    # Same-layer features sharing area: refused, accepted with a warning, or fine.
    overlap: OverlapPolicy = "allow"
    # Field holding the start/end of validity, for OGC `datetime`.
    temporal: tuple[str, str] | None = None
    description_vi: str = ""
    description_en: str = ""
    order: int = 0

    def title(self, lang: str) -> str:
        return self.en if lang == "en" else self.vi

    def description(self, lang: str) -> str:
        return self.description_en if lang == "en" else self.description_vi

    def field(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @property
    def filterable(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.filterable)

    @property
    def searchable(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.searchable)

    @property
    def photos(self) -> tuple[Field, ...]:
        """The fields holding the address of a picture of the feature."""
        return tuple(f for f in self.fields if f.kind == "photo")

    @property
    def writable(self) -> tuple[Field, ...]:
        """Fields a client may set: everything the database does not derive."""
        return tuple(f for f in self.fields if not f.computed)

    @property
    def accepted_geometries(self) -> tuple[str, ...]:
        return ACCEPTED_GEOMETRIES[self.geometry]

    @property
    def is_point(self) -> bool:
        return self.geometry == "Point"

    @property
    def property_names(self) -> tuple[str, ...]:
        """Every property a feature of this layer carries, in output order."""
        extra = SYSTEM_FIELDS if self.editable else ()
        return self.field_names + extra


def text(name: str, vi: str, en: str, **kw) -> Field:
    return Field(name, "text", vi, en, **kw)


def enum(name: str, vi: str, en: str, choices: list[tuple[str, str, str]], **kw) -> Field:
    return Field(name, "enum", vi, en, choices=tuple(Choice(*c) for c in choices), **kw)


def place_fields() -> tuple[Field, ...]:
    """District and commune, derived by the database from admin_units."""
    return (
        text("district", "Huyện/thành phố", "District", filterable=True, popup=True, computed=True),
        text("district_code", "Mã huyện", "District code", computed=True),
        text("commune", "Xã/phường", "Commune", popup=True, computed=True),
        text("commune_code", "Mã xã", "Commune code", computed=True),
    )


def area_field() -> Field:
    return Field("area_ha", "number", "Diện tích", "Area", unit="ha", popup=True, computed=True)


def illustrative_field() -> Field:
    return Field(
        "illustrative", "boolean", "Hình vẽ minh hoạ", "Illustrative shape", popup=True,
    )


def name_fields(vi: str) -> tuple[Field, ...]:
    """`name` as written locally and `name_en` for visitors; both searchable."""
    return (
        text("name", vi, "Name", required=True, searchable=True, popup=True, max_length=200),
        text("name_en", "Tên tiếng Anh", "English name", searchable=True, max_length=200),
    )


def description_fields(popup: bool = False) -> tuple[Field, ...]:
    return (
        Field("description", "longtext", "Mô tả", "Description", popup=popup),
        Field("description_en", "longtext", "Mô tả (tiếng Anh)", "Description (English)"),
    )


def source_field() -> Field:
    return text("source", "Nguồn", "Source", max_length=1000)


def zone_fields(active_vi: str) -> tuple[Field, ...]:
    """What farming and aquaculture zones share besides their own kind fields."""
    return (
        enum(
            "status", "Trạng thái", "Status",
            [("planned", "Quy hoạch", "Planned"), ("active", active_vi, "Active"), ("suspended", "Tạm ngừng", "Suspended")],
            filterable=True, popup=True,
        ),
        text("owner", "Hợp tác xã/chủ sở hữu", "Cooperative/owner", searchable=True, popup=True, max_length=200),
        text("products", "Sản phẩm", "Products", popup=True, max_length=500),
        *description_fields(),
        source_field(),
        illustrative_field(),
        area_field(),
        *place_fields(),
    )
