"""The Nam Định sample as loaded by the fixtures, checked against the source files."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import pytest
from shapely import wkt
from shapely.geometry import Point, shape
from sqlalchemy import text

from importers.synthetic import generate_zones

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample"


def csv_rows(name: str) -> list[dict]:
    with open(SAMPLE / name, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def geojson_features(name: str) -> list[dict]:
    with open(SAMPLE / name, encoding="utf-8") as fh:
        return json.load(fh)["features"]


def scalar(conn, sql: str, **params):
    return conn.execute(text(sql), params).scalar_one()


def districts_from_file() -> dict[str, object]:
    return {
        f["properties"]["code"]: shape(f["geometry"])
        for f in geojson_features("admin_units.geojson")
        if f["properties"]["level"] == "district"
    }


# --- counts ----------------------------------------------------------------


def test_relics_and_craft_villages_are_all_loaded(conn):
    assert scalar(conn, "SELECT count(*) FROM relics") == len(csv_rows("relics.csv"))
    assert scalar(conn, "SELECT count(*) FROM craft_villages") == len(csv_rows("craft_villages.csv"))


def test_production_areas_are_split_by_category(conn):
    categories = Counter(r["category"] for r in csv_rows("production_areas.csv"))
    aquaculture = categories.pop("aquaculture")
    assert scalar(conn, "SELECT count(*) FROM aquaculture_areas") == aquaculture
    # Everything else (rice, vegetables, salt, ...) is a farming zone: none is dropped.
    assert scalar(conn, "SELECT count(*) FROM farming_zones") == sum(categories.values())
    salt = sum(n for c, n in categories.items() if "salt" in c)
    assert scalar(conn, "SELECT count(*) FROM farming_zones WHERE crop = 'salt'") == salt


def test_admin_units_match_the_boundary_file(conn):
    levels = Counter(f["properties"]["level"] for f in geojson_features("admin_units.geojson"))
    for level in ("province", "district"):
        assert scalar(conn, "SELECT count(*) FROM admin_units WHERE level = :l", l=level) == levels[level]
        assert scalar(conn, "SELECT count(*) FROM admin_units WHERE level = :l AND NOT approximate", l=level) == levels[level]
    codes = {f["properties"]["code"] for f in geojson_features("admin_units.geojson")}
    db_codes = {r[0] for r in conn.execute(text("SELECT code FROM admin_units WHERE level <> 'commune'"))}
    assert db_codes == codes


def test_one_commune_area_per_commune_point_inside_a_district(conn):
    districts = districts_from_file()
    points = geojson_features("commune_points.geojson")
    inside = {p["properties"]["code"] for p in points if any(d.intersects(shape(p["geometry"])) for d in districts.values())}
    assert inside, "no commune point lies in a district"
    db_codes = {r[0] for r in conn.execute(text("SELECT code FROM admin_units WHERE level = 'commune'"))}
    assert db_codes == inside
    assert scalar(conn, "SELECT count(*) FROM admin_units WHERE level = 'commune'") == len(inside)


def test_names_survive_with_their_diacritics(conn):
    for name, table in (("relics.csv", "relics"), ("craft_villages.csv", "craft_villages")):
        expected = {r["name_vi"] for r in csv_rows(name)}
        loaded = {r[0] for r in conn.execute(text(f"SELECT name FROM {table}"))}
        assert loaded == expected
    areas = {r["name_vi"] for r in csv_rows("production_areas.csv")}
    loaded = {r[0] for r in conn.execute(text("SELECT name FROM farming_zones UNION ALL SELECT name FROM aquaculture_areas"))}
    assert loaded == areas


# --- production areas ------------------------------------------------------


@pytest.mark.parametrize("table", ["farming_zones", "aquaculture_areas"])
def test_production_areas_are_illustrative_polygons(conn, table):
    rows = conn.execute(
        text(f"SELECT name, illustrative, ST_GeometryType(geom) AS kind, ST_IsValid(geom) AS valid, area_ha, source FROM {table}")
    ).all()
    assert rows
    for row in rows:
        assert row.kind in ("ST_Polygon", "ST_MultiPolygon"), row.name
        assert row.valid, row.name
        assert row.illustrative is True, row.name
        assert row.area_ha and row.area_ha > 0, row.name
        assert "illustrative" in row.source.lower(), row.name


def test_production_areas_are_drawn_around_their_centre_points(conn):
    by_name = {r["name_vi"]: r for r in csv_rows("production_areas.csv")}
    rows = conn.execute(
        text("SELECT name, ST_AsText(geom) AS wkt FROM farming_zones UNION ALL SELECT name, ST_AsText(geom) FROM aquaculture_areas")
    ).all()
    for row in rows:
        source = by_name[row.name]
        centre = Point(float(source["centre_lon"]), float(source["centre_lat"]))
        assert wkt.loads(row.wkt).contains(centre), row.name


def test_production_areas_get_the_district_their_source_names(conn):
    expected = {r["name_vi"]: r["district_vi"] for r in csv_rows("production_areas.csv")}
    rows = conn.execute(text("SELECT name, district FROM farming_zones UNION ALL SELECT name, district FROM aquaculture_areas"))
    for name, district in rows:
        assert district == expected[name], name


# --- points ----------------------------------------------------------------


@pytest.mark.parametrize(("table", "source"), [("relics", "relics.csv"), ("craft_villages", "craft_villages.csv")])
def test_every_point_has_the_district_its_source_names(conn, table, source):
    expected = {r["name_vi"]: r["district_vi"] for r in csv_rows(source)}
    rows = conn.execute(text(f"SELECT name, district, district_code, commune FROM {table}")).all()
    assert len(rows) == len(expected)
    for row in rows:
        assert row.district is not None and row.district_code is not None, row.name
        assert row.district == expected[row.name], row.name
        # Every point in the sample is inside some commune area.
        assert row.commune is not None, row.name


def test_points_keep_their_coordinates(conn):
    expected = {r["name_vi"]: (float(r["lon"]), float(r["lat"])) for r in csv_rows("relics.csv")}
    for name, lon, lat in conn.execute(text("SELECT name, ST_X(geom), ST_Y(geom) FROM relics")):
        assert (lon, lat) == pytest.approx(expected[name], abs=1e-7)


# --- commune areas ---------------------------------------------------------


def test_commune_areas_are_valid_approximate_and_inside_their_district(conn):
    rows = conn.execute(
        text(
            """
            SELECT c.code, c.approximate, ST_IsValid(c.geom) AS valid, ST_IsEmpty(c.geom) AS empty,
                   ST_Area(c.geom) AS area, ST_Area(ST_Difference(c.geom, d.geom)) AS outside, c.source
              FROM admin_units c LEFT JOIN admin_units d ON d.code = c.parent_code AND d.level = 'district'
             WHERE c.level = 'commune'
            """
        )
    ).all()
    assert rows
    for row in rows:
        assert row.approximate is True, row.code
        assert row.valid and not row.empty and row.area > 0, row.code
        assert row.outside is not None, f"{row.code} has no parent district"
        # Floating-point slivers only: under a millionth of the commune's area.
        assert row.outside <= row.area * 1e-6, row.code
        assert "approximate" in row.source.lower()


def test_commune_areas_tile_their_districts(conn):
    rows = conn.execute(
        text(
            """
            SELECT d.code, ST_Area(d.geom::geography) AS district_area,
                   sum(ST_Area(c.geom::geography)) AS communes_area
              FROM admin_units d JOIN admin_units c ON c.parent_code = d.code AND c.level = 'commune'
             WHERE d.level = 'district' GROUP BY d.code, d.geom
            """
        )
    ).all()
    assert len(rows) == len(districts_from_file())
    for row in rows:
        # No gaps and no overlaps: the cells add up to the district.
        assert row.communes_area == pytest.approx(row.district_area, rel=1e-4), row.code


def test_each_commune_point_lies_in_its_own_area(conn):
    areas = {
        code: shape(json.loads(geom))
        for code, geom in conn.execute(text("SELECT code, ST_AsGeoJSON(geom) FROM admin_units WHERE level = 'commune'"))
    }
    for p in geojson_features("commune_points.geojson"):
        code = p["properties"]["code"]
        if code in areas:
            assert areas[code].intersects(shape(p["geometry"])), code


# --- loading again ---------------------------------------------------------

COUNT_ALL = " + ".join(
    f"(SELECT count(*) FROM {t})" for t in ("admin_units", "farming_zones", "aquaculture_areas", "craft_villages", "relics")
)


def test_load_if_empty_is_idempotent(app, engine):
    with engine.connect() as c:
        before = scalar(c, f"SELECT {COUNT_ALL}")
    result = app.test_cli_runner().invoke(args=["sample", "load", "--if-empty"])
    assert result.exit_code == 0, result.output
    assert "already loaded" in result.output
    with engine.connect() as c:
        assert scalar(c, f"SELECT {COUNT_ALL}") == before



def test_synthetic_zones_come_in_the_number_asked_inside_the_province(conn):
    before = conn.execute(text("SELECT count(*) FROM farming_zones")).scalar_one()
    assert generate_zones(conn, 700, seed=0.1) == 700
    rows = conn.execute(
        text(
            "SELECT count(*) AS n, count(DISTINCT name) AS names, count(district) AS placed, "
            "bool_and(ST_IsValid(geom)) AS valid, min(area_ha) AS smallest, max(area_ha) AS largest "
            "FROM farming_zones WHERE source = 'synthetic benchmark data'"
        )
    ).one()
    assert conn.execute(text("SELECT count(*) FROM farming_zones")).scalar_one() == before + 700
    assert rows.n == rows.names == rows.placed == 700
    assert rows.valid
    assert 0.3 < rows.smallest and rows.largest < 10
