"""Statistics: counts and areas per place and per attribute, computed in SQL.

Each table is declared once (which layer, which enum fields it groups by,
and whether it sums areas or only counts features); the SQL, the JSON, the
CSV/XLSX downloads and the charts all follow from that declaration. Figures
take each layer's ItemQuery, so they honour exactly the filters of the map.

Areas are the stored `area_ha`, which the database derives from the shape on
the geography (ST_Area(geom::geography) / 10000, kept to 4 decimals) on every
write; summing it keeps the statistics cheap on large layers and equal to the
area shown in popups and exports.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Connection, text

from layers import REGISTRY
from layers.base import Field, Layer
from layers.query import ItemQuery, in_force, where_clause

Measure = Literal["area", "count"]
PlaceLevel = Literal["district", "commune"]

# Place columns each level groups by (names shown, codes kept beside them).
PLACE_LEVELS: dict[str, tuple[str, ...]] = {
    "district": ("district",),
    "commune": ("district", "commune"),
}

# Column headings that are not a layer's own field, in the declaration's vi/en style.
COUNT_LABEL = ("Số lượng", "Count")
NOT_SET_LABEL = ("Chưa xác định", "Not set")


def pick(pair: tuple[str, str], lang: str) -> str:
    return pair[1] if lang == "en" else pair[0]


@dataclass(frozen=True)
class StatTable:
    id: str
    layer_id: str
    groups: tuple[str, ...]  # enum fields of the layer, besides the place
    measure: Measure
    vi: str
    en: str

    @property
    def layer(self) -> Layer:
        # Looked up each time: the registry is the one truth about a layer (e.g. public or not).
        return REGISTRY[self.layer_id]

    def title(self, lang: str) -> str:
        return self.en if lang == "en" else self.vi

    def group_fields(self) -> tuple[Field, ...]:
        return tuple(self.layer.field(name) for name in self.groups)


TABLES: tuple[StatTable, ...] = (
    StatTable(
        "farming_crop", "farming_zones", ("crop",), "area",
        "Diện tích vùng sản xuất theo cây trồng", "Farming area by crop",
    ),
    StatTable(
        "farming_certification", "farming_zones", ("certification",), "area",
        "Diện tích vùng sản xuất theo chứng nhận", "Farming area by certification",
    ),
    StatTable(
        "aquaculture_species", "aquaculture_areas", ("species", "water_type"), "area",
        "Diện tích nuôi trồng thủy sản theo đối tượng nuôi và loại nước",
        "Aquaculture area by species and water type",
    ),
    StatTable(
        "relics_rank", "relics", ("rank", "kind"), "count",
        "Di tích theo xếp hạng và loại hình", "Relics by rank and kind",
    ),
    StatTable(
        "craft_villages_craft", "craft_villages", ("craft",), "count",
        "Làng nghề theo nghề", "Craft villages by craft",
    ),
)


def check_table(table: StatTable) -> None:
    """Refuse a declaration that names what its layer does not have."""
    layer = REGISTRY.get(table.layer_id)
    if layer is None:
        raise ValueError(f"statistics table {table.id}: unknown layer {table.layer_id}")
    for name in table.groups:
        f = layer.field(name)
        if f is None or f.kind != "enum":
            raise ValueError(f"statistics table {table.id}: {name} is not an enum field of {layer.id}")
    if table.measure == "area" and not layer.derive_area:
        raise ValueError(f"statistics table {table.id}: {layer.id} has no derived area")
    if not all(layer.field(name) for name in PLACE_LEVELS["commune"]) or not layer.derive_place:
        raise ValueError(f"statistics table {table.id}: {layer.id} has no derived place")


for _table in TABLES:
    check_table(_table)
if len({t.id for t in TABLES}) != len(TABLES):
    raise ValueError("statistics table ids must be unique")


def get_table(table_id: str) -> StatTable | None:
    return next((t for t in TABLES if t.id == table_id), None)


@dataclass(frozen=True)
class StatRow:
    place: dict[str, str | None]  # district, district_code (+ commune, commune_code)
    groups: dict[str, str | None]  # stored enum values
    count: int
    area_ha: float | None


@dataclass(frozen=True)
class StatResult:
    table: StatTable
    by: PlaceLevel
    rows: list[StatRow]
    count: int
    area_ha: float | None


def place_columns(by: PlaceLevel) -> list[str]:
    return [c for name in PLACE_LEVELS[by] for c in (name, f"{name}_code")]


def table_statement(table: StatTable, by: PlaceLevel, query: ItemQuery) -> tuple[str, dict]:
    """One statement: a row per place and group, and the grand total (GROUPING SETS)."""
    where, params = where_clause(table.layer, query)
    keys = [f"t.{c}" for c in place_columns(by)] + [f"t.{g}" for g in table.groups]
    area = "round(sum(t.area_ha)::numeric, 4)::float8" if table.measure == "area" else "NULL::float8"
    order = [f"vung_fold(t.{name}) NULLS LAST, t.{name}_code NULLS LAST" for name in PLACE_LEVELS[by]]
    for i, f in enumerate(table.group_fields()):
        # Categories in the declaration's order, not the alphabet's.
        order.append(f"array_position(CAST(:order_{i} AS text[]), t.{f.name}) NULLS LAST")
        params[f"order_{i}"] = list(f.choice_values())
    statement = (
        f"SELECT {', '.join(keys)}, GROUPING({', '.join(keys)}) <> 0 AS is_total, "
        f"count(*) AS count, {area} AS area_ha "
        f"FROM {table.layer.id} AS t{where} "
        f"GROUP BY GROUPING SETS (({', '.join(keys)}), ()) "
        f"ORDER BY is_total, {', '.join(order)}"
    )
    return statement, params


def table_figures(conn: Connection, table: StatTable, by: PlaceLevel, query: ItemQuery) -> StatResult:
    if by not in PLACE_LEVELS:
        raise ValueError(f"unknown place level {by!r}")
    statement, params = table_statement(table, by, query)
    rows: list[StatRow] = []
    count, area = 0, (0.0 if table.measure == "area" else None)
    for r in conn.execute(text(statement), params).mappings():
        if r["is_total"]:
            count, area = r["count"], (r["area_ha"] or 0.0) if table.measure == "area" else None
            continue
        rows.append(
            StatRow(
                place={c: r[c] for c in place_columns(by)},
                groups={g: r[g] for g in table.groups},
                count=r["count"],
                area_ha=r["area_ha"],
            )
        )
    return StatResult(table, by, rows, count, area)


def all_figures(
    conn: Connection, tables: list[StatTable], by: PlaceLevel, queries: dict[str, ItemQuery]
) -> list[StatResult]:
    """Figures of several tables; `queries` holds one ItemQuery per layer (limit and offset unused)."""
    return [table_figures(conn, table, by, queries[table.layer_id]) for table in tables]


def communes_approximate(conn: Connection) -> bool:
    """Whether any commune in force has an approximate boundary (its figures are then indicative)."""
    return bool(
        conn.execute(
            text(
                "SELECT coalesce(bool_or(approximate), false) FROM admin_units WHERE level = 'commune' "
                f"AND {in_force(REGISTRY['admin_units'])}"
            )
        ).scalar_one()
    )
