"""Loads the Nam Định sample in data/sample/ into the layers.

The sample's production areas are centre points only; the loader draws an
indicative octagon of the reported size around each and marks it
illustrative, as the sources require.
"""

from __future__ import annotations

import csv
import json
import math
import re
from pathlib import Path

from shapely.geometry import Point, shape
from sqlalchemy import Connection

from layers import REGISTRY
from layers.query import count_rows
from layers.store import build_commune_areas, delete_all, insert_features

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "data" / "sample"
ILLUSTRATIVE_NOTE = "Illustrative shape drawn around a commune point; not a surveyed boundary."
DEFAULT_AREA_HA = 50.0
MAX_AREA_HA = 500.0
LOAD_ORDER = ("admin_units", "farming_zones", "aquaculture_areas", "craft_villages", "relics")

RELIC_KINDS = (  # first keyword found in the source's kind wins
    ("pagoda", "pagoda"), ("temple", "temple"), ("church", "church"), ("communal", "communal_house"),
    ("shrine", "shrine"), ("house", "house"), ("park", "nature"), ("bridge", "monument"), ("tower", "monument"),
)
RELIC_RANKS = {"special national": "special_national", "national": "national", "provincial": "provincial"}
CRAFTS = (
    ("bronze", "metalwork"), ("blacksmith", "metalwork"), ("mechanical", "metalwork"), ("wood", "woodwork"),
    ("mother-of-pearl", "woodwork"), ("lacquer", "lacquer"), ("bamboo", "weaving"), ("rattan", "weaving"),
    ("silk", "textile"), ("fish sauce", "food"), ("rice wine", "food"), ("pho", "food"), ("salt", "salt"),
    ("ornamental", "horticulture"),
)
CROPS = {"rice": "rice", "rice seed": "rice_seed", "vegetables": "vegetables", "horticulture": "ornamental",
         "salt production": "salt"}


def keyword_choice(text: str, table: tuple[tuple[str, str], ...], default: str = "other") -> str:
    lowered = text.lower()
    return next((value for word, value in table if word in lowered), default)


def first_mentioned(text: str, words: tuple[str, ...]) -> str:
    found = [(text.find(w), w) for w in words if w in text]
    return min(found)[1] if found else "mixed"


def read_csv(name: str) -> list[dict]:
    with open(SAMPLE_DIR / name, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def read_geojson(name: str) -> list[dict]:
    with open(SAMPLE_DIR / name, encoding="utf-8") as fh:
        return json.load(fh)["features"]


def point_wkt(lon: str, lat: str) -> str:
    return Point(float(lon), float(lat)).wkt


def reported_hectares(size: str) -> float:
    match = re.search(r"([\d,]+(?:\.\d+)?)\s*ha", size)
    area = float(match.group(1).replace(",", "")) if match else DEFAULT_AREA_HA
    return min(area, MAX_AREA_HA)


def octagon_wkt(lon: float, lat: float, hectares: float) -> str:
    """A regular octagon of about `hectares`, centred on the point."""
    radius_m = math.sqrt(hectares * 10_000 / (2 * math.sqrt(2)))  # octagon area = 2√2 r²
    dlat = radius_m / 111_320
    dlon = dlat / math.cos(math.radians(lat))
    corners = [
        (lon + dlon * math.cos(math.pi / 4 * i + math.pi / 8), lat + dlat * math.sin(math.pi / 4 * i + math.pi / 8))
        for i in range(8)
    ]
    return "MULTIPOLYGON(((" + ", ".join(f"{x:.7f} {y:.7f}" for x, y in corners + corners[:1]) + ")))"


def admin_rows() -> list[dict]:
    rows = []
    for feature in read_geojson("admin_units.geojson"):
        p = feature["properties"]
        geom = shape(feature["geometry"])
        rows.append({
            "code": p["code"], "name": p.get("name_short_vi") or p["name_vi"], "name_en": p.get("name_en"),
            "level": p["level"], "parent_code": p.get("parent_code"), "approximate": False,
            "source": f"{p.get('source')}; {p.get('license')}; boundaries {p.get('boundary_vintage')}",
            "geom": geom.wkt if geom.geom_type == "MultiPolygon" else f"MULTIPOLYGON({geom.wkt[len('POLYGON '):]})",
        })
    return rows


def commune_points() -> list[dict]:
    out = []
    for feature in read_geojson("commune_points.geojson"):
        p = feature["properties"]
        lon, lat = feature["geometry"]["coordinates"]
        out.append({"code": p["code"], "name": p["name_vi"], "name_en": p.get("name_ascii"), "lon": lon, "lat": lat})
    return out


def area_row(r: dict) -> dict:
    lon, lat = float(r["centre_lon"]), float(r["centre_lat"])
    return {
        "name": r["name_vi"], "name_en": r["name_en"], "products": r["products"], "status": "active",
        "description": r["description_vi"], "description_en": r["description_en"],
        "source": f"{r['fact_sources']}; centre: {r['coord_source']} ({r['coord_license']}); {ILLUSTRATIVE_NOTE}",
        "illustrative": True, "geom": octagon_wkt(lon, lat, reported_hectares(r["size_reported"])),
    }


def farming_rows() -> list[dict]:
    rows = []
    for r in read_csv("production_areas.csv"):
        if r["category"] in CROPS:
            certification = "organic" if "organic" in r["name_en"].lower() else None
            rows.append(area_row(r) | {"crop": CROPS[r["category"]], "certification": certification})
    return rows


def aquaculture_rows() -> list[dict]:
    rows = []
    for r in read_csv("production_areas.csv"):
        if r["category"] == "aquaculture":
            products = r["products"].lower()
            species = "mixed" if "other" in products else first_mentioned(products, ("shrimp", "clam"))
            method = "tidal_flat" if "tidal" in r["name_en"].lower() or "flat" in r["name_en"].lower() else (
                "intensive" if "industrial" in r["name_en"].lower() else "extensive")
            rows.append(area_row(r) | {"species": species, "water_type": "brackish", "method": method})
    return rows


def point_source(r: dict) -> str:
    return f"{r['fact_sources']}; coordinates: {r['coord_source']} ({r['coord_license']})"


def craft_rows() -> list[dict]:
    return [
        {
            "name": r["name_vi"], "name_en": r["name_en"], "craft": keyword_choice(r["craft_type"], CRAFTS),
            "products": r["craft_type"], "description": r["description_vi"], "description_en": r["description_en"],
            "precision": r["precision"], "source": point_source(r), "geom": point_wkt(r["lon"], r["lat"]),
        }
        for r in read_csv("craft_villages.csv")
    ]


def relic_rows() -> list[dict]:
    rows = []
    for r in read_csv("relics.csv"):
        address = ", ".join(x for x in (r["village_vi"], r["commune_vi"], r["district_vi"]) if x)
        rows.append({
            "name": r["name_vi"], "name_en": r["name_en"], "kind": keyword_choice(r["kind"], RELIC_KINDS),
            "rank": RELIC_RANKS.get(r["rank"], "unranked"), "decision": r["rank_detail"],
            "description": r["description_vi"], "description_en": r["description_en"], "address": address,
            "precision": r["precision"], "source": point_source(r), "geom": point_wkt(r["lon"], r["lat"]),
        })
    return rows


ROW_BUILDERS = {
    "farming_zones": farming_rows, "aquaculture_areas": aquaculture_rows,
    "craft_villages": craft_rows, "relics": relic_rows,
}


def sample_is_loaded(conn: Connection) -> bool:
    return count_rows(conn, REGISTRY["admin_units"]) > 0


def load_sample(conn: Connection, replace: bool = False) -> dict[str, int]:
    """Load every sample file; with `replace`, empty the layers first."""
    if replace:
        for layer_id in reversed(LOAD_ORDER):
            delete_all(conn, REGISTRY[layer_id])
    counts = {"admin_units": insert_features(conn, REGISTRY["admin_units"], admin_rows())}
    counts["admin_units"] += build_commune_areas(
        conn, commune_points(),
        "Approximate: Voronoi split of GeoNames commune points (CC BY 4.0) inside each district; not a boundary",
    )
    for layer_id, rows in ROW_BUILDERS.items():
        counts[layer_id] = insert_features(conn, REGISTRY[layer_id], rows())
    return counts
