"""Statistics (/stats) against figures computed independently with geopandas.

The layers are read from the test database with geopandas; areas are measured
here on the WGS 84 ellipsoid with pyproj.Geod, and grouped in Python, then
compared with what the server computed in SQL.
"""

from __future__ import annotations

import csv
import io
import re

import geopandas
import openpyxl
import pandas as pd
import pyogrio
import pytest
import shapely
from pyproj import Geod
from sqlalchemy import text

from layers import REGISTRY
from layers.stats import COUNT_LABEL, TABLES
from tests.conftest import signed_in
from tests.places import district_off_the_coast

GEOD = Geod(ellps="WGS84")
# A word no sample name holds, so `q` can single out the zones added here.
MARK = "Thốngkêthử"
MARK_FOLDED = "thongkethu"

# name suffix, crop, certification, commune slot, shape
EXTRA_ZONES = [
    ("1", "rice", "vietgap", 0, "square"),
    ("2", "rice", "vietgap", 0, "two_parts"),
    ("3", "rice", None, 1, "holed"),
    ("4", "vegetables", "organic", 1, "square"),
    ("5", "fruit", "globalgap", 2, "square"),
    ("6", "fruit", "vietgap", 3, "holed"),
    ("7", "ornamental", "conventional", 4, "two_parts"),
    ("8", "rice", "organic", 5, "square"),
    ("9", "vegetables", "vietgap", 6, "holed"),
]
SHAPES = {
    "square": "ST_Expand(p, 0.004)",
    "holed": "ST_Difference(ST_Expand(p, 0.005), ST_Expand(p, 0.002))",
    "two_parts": "ST_Union(ST_Expand(ST_Translate(p, -0.006, 0), 0.002), ST_Expand(ST_Translate(p, 0.006, 0), 0.002))",
}


@pytest.fixture(scope="module")
def extra_zones(engine):
    """Farming zones with varied crops, certifications, holes and parts; two communes in each of a few districts."""
    with engine.connect() as conn:
        communes = conn.execute(
            text(
                "SELECT code FROM (SELECT code, parent_code, row_number() OVER (PARTITION BY parent_code ORDER BY code) AS n "
                "FROM admin_units WHERE level = 'commune') c WHERE n <= 2 ORDER BY parent_code, n LIMIT 7"
            )
        ).scalars().all()
    assert len(communes) == 7
    made = []
    with engine.begin() as conn:
        for suffix, crop, certification, slot, shape in EXTRA_ZONES:
            made.append(
                conn.execute(
                    text(
                        f"INSERT INTO farming_zones (name, crop, certification, geom) "
                        f"SELECT :name, :crop, :certification, ST_Multi({SHAPES[shape]}) "
                        f"FROM admin_units c, LATERAL ST_PointOnSurface(c.geom) AS p "
                        f"WHERE c.level = 'commune' AND c.code = :code RETURNING id"
                    ),
                    {"name": f"Vùng {MARK} {suffix}", "crop": crop, "certification": certification, "code": communes[slot]},
                ).scalar_one()
            )
    yield made
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM farming_zones WHERE id = ANY(:ids)"), {"ids": made})


def geodesic_ha(geom) -> float:
    """Area on the WGS 84 ellipsoid, holes subtracted, in hectares."""
    area, _perimeter = GEOD.geometry_area_perimeter(shapely.orient_polygons(geom))
    return abs(area) / 10_000


def read_layer(engine, layer: str) -> geopandas.GeoDataFrame:
    frame = geopandas.read_postgis(f"SELECT * FROM {layer}", engine, geom_col="geom")
    if not frame.empty and frame.geom_type.isin(["Polygon", "MultiPolygon"]).all():
        frame["geodesic_ha"] = frame.geometry.map(geodesic_ha)
    return frame


def missing_to_none(value):
    return None if pd.isna(value) else value


def expected(frame: pd.DataFrame, keys: tuple[str, ...], area: bool) -> dict[tuple, tuple]:
    """(count, hectares) per group, summed here from the features."""
    out: dict[tuple, tuple] = {}
    for record in frame.to_dict("records"):
        key = tuple(missing_to_none(record[k]) for k in keys)
        count, hectares = out.get(key, (0, 0.0))
        out[key] = (count + 1, hectares + (record["geodesic_ha"] if area else 0.0))
    return out


def served(table: dict, keys: tuple[str, ...]) -> dict[tuple, tuple]:
    out = {}
    for row in table["rows"]:
        key = tuple(row[k] for k in keys)
        assert key not in out, f"group {key} served twice"
        out[key] = (row["count"], row.get("area_ha", 0.0))
    return out


def assert_same_figures(got: dict, want: dict) -> None:
    assert set(got) == set(want)
    for key, (count, hectares) in want.items():
        assert got[key][0] == count, key
        assert got[key][1] == pytest.approx(hectares, rel=1e-6, abs=1e-3), key


def figures(client, **params) -> dict:
    response = client.get("/stats", query_string={"f": "json", **params})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def tables_of(document: dict) -> dict[str, dict]:
    return {t["id"]: t for t in document["tables"]}


def check_table(table: dict, frame: pd.DataFrame, keys: tuple[str, ...], area: bool) -> None:
    assert_same_figures(served(table, keys), expected(frame, keys, area))
    assert table["total"]["count"] == len(frame)
    if area:
        assert table["total"]["area_ha"] == pytest.approx(frame["geodesic_ha"].sum() if len(frame) else 0.0, rel=1e-6, abs=1e-3)


@pytest.fixture(scope="module")
def farming(engine, extra_zones):
    return read_layer(engine, "farming_zones")


def test_farming_area_per_crop_per_district(client, farming):
    assert farming["crop"].nunique() >= 4 and farming["district"].nunique() >= 4
    table = tables_of(figures(client))["farming_crop"]
    check_table(table, farming, ("district", "crop"), area=True)


def test_farming_area_per_certification(client, farming):
    assert farming["certification"].isna().any() and farming["certification"].nunique() >= 3
    table = tables_of(figures(client))["farming_certification"]
    check_table(table, farming, ("district", "certification"), area=True)
    not_set = [r for r in table["rows"] if r["certification"] is None]
    assert not_set and all(r["certification_label"] == "Chưa xác định" for r in not_set)


def test_farming_area_per_commune(client, farming):
    document = figures(client, by="commune")
    assert document["by"] == "commune"
    table = tables_of(document)["farming_crop"]
    # Two communes of one district hold zones of the same crop: they stay apart.
    per_district = expected(farming, ("district", "crop"), area=True)
    per_commune = expected(farming, ("district", "commune", "crop"), area=True)
    assert len(per_commune) > len(per_district)
    check_table(table, farming, ("district", "commune", "crop"), area=True)
    assert all(r["place"] == f"{r['commune']} ({r['district']})" for r in table["rows"])


def test_aquaculture_area_per_species_and_water_type(client, engine):
    frame = read_layer(engine, "aquaculture_areas")
    assert len(frame) > 0
    table = tables_of(figures(client))["aquaculture_species"]
    check_table(table, frame, ("district", "species", "water_type"), area=True)


def test_relics_per_rank_and_kind(client, engine):
    frame = read_layer(engine, "relics")
    assert frame["rank"].nunique() > 1
    table = tables_of(figures(client))["relics_rank"]
    assert "area_ha" not in table["total"]
    check_table(table, frame, ("district", "rank", "kind"), area=False)


def test_craft_villages_per_craft(client, engine):
    frame = read_layer(engine, "craft_villages")
    table = tables_of(figures(client, by="commune"))["craft_villages_craft"]
    check_table(table, frame, ("district", "commune", "craft"), area=False)


def test_labels_follow_the_language(client):
    table = tables_of(figures(client, lang="en"))["farming_crop"]
    labels = [c["label"] for c in table["columns"]]
    assert labels == ["District", "Crop", "Count", "Area (ha)"]
    crops = {c.value: c.en for c in REGISTRY["farming_zones"].field("crop").choices}
    assert all(r["crop_label"] == crops[r["crop"]] for r in table["rows"])
    assert table["title"] == next(t.en for t in TABLES if t.id == "farming_crop")


def test_filters_of_the_map_apply(client, farming, engine):
    district = farming.loc[farming["name"].str.contains(MARK), "district"].mode()[0]
    document = figures(client, **{"district": district, "farming_zones.crop": "rice,vegetables"})
    assert document["filters"] == {"district": district, "farming_zones.crop": "rice,vegetables"}
    tables = tables_of(document)
    chosen = farming[(farming["district"] == district) & farming["crop"].isin(["rice", "vegetables"])]
    assert 0 < len(chosen) < len(farming)
    check_table(tables["farming_crop"], chosen, ("district", "crop"), area=True)
    check_table(tables["farming_certification"], chosen, ("district", "certification"), area=True)
    # The crop filter belongs to farming zones; the district applies to every layer.
    relics = read_layer(engine, "relics")
    check_table(tables["relics_rank"], relics[relics["district"] == district], ("district", "rank", "kind"), area=False)


def test_free_text_ignores_diacritics(client, farming):
    tables = tables_of(figures(client, q=MARK_FOLDED))
    marked = farming[farming["name"].str.contains(MARK)]
    assert len(marked) == len(EXTRA_ZONES)
    check_table(tables["farming_crop"], marked, ("district", "crop"), area=True)
    assert tables["relics_rank"]["rows"] == [] and tables["relics_rank"]["total"]["count"] == 0


def test_empty_form_fields_are_no_filter(client):
    assert figures(client, **{"district": "", "q": " ", "farming_zones.crop": ""}) == figures(client) | {"filters": {}}


@pytest.fixture()
def communes(engine):
    """Changes the communes' rows for one test (committed, so the app sees them); puts back their flags and ends after."""
    with engine.connect() as conn:
        before = conn.execute(
            text("SELECT id, approximate, valid_to FROM admin_units WHERE level = 'commune' ORDER BY id")
        ).all()
    assert before

    def change(sql: str, **params) -> None:
        with engine.begin() as conn:
            conn.execute(text(sql), params)

    try:
        yield change
    finally:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "UPDATE admin_units a SET approximate = b.approximate, valid_to = b.valid_to "
                    "FROM unnest(CAST(:ids AS bigint[]), CAST(:flags AS boolean[]), CAST(:ends AS date[])) "
                    "AS b(id, approximate, valid_to) WHERE a.id = b.id"
                ),
                {
                    "ids": [r.id for r in before],
                    "flags": [r.approximate for r in before],
                    "ends": [r.valid_to for r in before],
                },
            )


def says_approximate(client) -> bool:
    flag = figures(client, by="commune")["approximate_places"]
    page = client.get("/stats?by=commune").get_data(as_text=True)
    assert ("stats-approximate" in page) is flag
    assert figures(client)["approximate_places"] is False  # per district, never
    return flag


def test_commune_figures_say_whether_they_are_approximate(client, communes):
    first = "(SELECT min(id) FROM admin_units WHERE level = 'commune')"
    communes(f"UPDATE admin_units SET approximate = (id = {first}) WHERE level = 'commune'")
    assert says_approximate(client) is True  # one approximate commune is enough
    communes("UPDATE admin_units SET approximate = false WHERE level = 'commune'")
    assert says_approximate(client) is False
    # A commune no longer in force does not count, approximate or not.
    communes(f"UPDATE admin_units SET approximate = true, valid_to = DATE '2001-01-01' WHERE id = {first}")
    assert says_approximate(client) is False


def read_csv(response) -> list[list[str]]:
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))


def expected_cells(table: dict) -> list[list]:
    """A JSON table as the rows people read: names, labels, then the figures."""
    out = []
    for row in table["rows"]:
        cells = []
        for c in table["columns"]:
            if c["kind"] == "place":
                cells.append(row[c["name"]] or "Chưa xác định")
            elif c["kind"] == "group":
                cells.append(row[f"{c['name']}_label"])
            else:
                cells.append(row[c["name"]])
        out.append(cells)
    return out


def test_csv_has_vietnamese_headings_and_the_json_rows(client, farming):
    params = {"by": "commune", "farming_zones.crop": "rice,fruit"}
    table = tables_of(figures(client, **params))["farming_crop"]
    rows = read_csv(client.get("/stats/farming_crop.csv", query_string=params))
    layer = REGISTRY["farming_zones"]
    assert rows[0] == [
        layer.field("district").vi, layer.field("commune").vi, layer.field("crop").vi, COUNT_LABEL[0], "Diện tích (ha)",
    ]
    want = expected_cells(table)
    assert len(rows) - 1 == len(want) > 0
    for got, cells in zip(rows[1:], want, strict=True):
        assert got[:3] == cells[:3]
        assert int(got[3]) == cells[3]
        assert float(got[4]) == pytest.approx(cells[4])


def test_csv_in_english(client):
    rows = read_csv(client.get("/stats/relics_rank.csv?lang=en"))
    assert rows[0] == ["District", "Rank", "Kind", "Count"]
    ranks = {c.en for c in REGISTRY["relics"].field("rank").choices}
    assert rows[1:] and all(r[1] in ranks for r in rows[1:])


def test_downloads_take_the_filters_of_the_whole_page(client, farming, engine):
    """Each table's links carry every filter of the page; another layer's filter leaves the table as it is."""
    unfiltered = read_csv(client.get("/stats/relics_rank.csv"))
    assert len(unfiltered) > 2
    for params in ({"farming_zones.crop": "rice"}, {"crop": "rice"}):
        assert read_csv(client.get("/stats/relics_rank.csv", query_string=params)) == unfiltered, params
        # The links the page itself gives, for every table.
        for table in figures(client, **params)["tables"]:
            for link in table["links"].values():
                assert client.get(link).status_code == 200, link
    # A filter on the table's own layer still filters.
    relics = read_layer(engine, "relics")
    national = relics[relics["rank"] == "national"]
    assert 0 < len(national) < len(relics)
    rows = read_csv(client.get("/stats/relics_rank.csv", query_string={"farming_zones.crop": "rice", "relics.rank": "national"}))
    assert {r[1] for r in rows[1:]} == {"Quốc gia"}
    assert sum(int(r[3]) for r in rows[1:]) == len(national)


def test_xlsx_reads_back(client, farming, tmp_path):
    table = tables_of(figures(client))["aquaculture_species"]
    response = client.get("/stats/aquaculture_species.xlsx")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    path = tmp_path / "aquaculture.xlsx"
    path.write_bytes(response.data)
    sheet = openpyxl.load_workbook(path).active
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert values[0] == [c["label"] for c in table["columns"]]
    assert values[0] == ["Huyện/thành phố", "Đối tượng nuôi", "Loại nước", "Số lượng", "Diện tích (ha)"]
    assert values[1:] == expected_cells(table)
    # GDAL reads it too, with numbers as numbers.
    frame = pyogrio.read_dataframe(path)
    assert list(frame.columns) == values[0]
    assert frame["Diện tích (ha)"].sum() == pytest.approx(table["total"]["area_ha"])


def test_xlsx_of_an_empty_table_keeps_its_headings(client, tmp_path):
    response = client.get("/stats/craft_villages_craft.xlsx", query_string={"q": "khongcotenay"})
    path = tmp_path / "empty.xlsx"
    path.write_bytes(response.data)
    values = [list(r) for r in openpyxl.load_workbook(path).active.iter_rows(values_only=True)]
    assert values == [["Huyện/thành phố", "Nghề", "Số lượng"]]


@pytest.fixture()
def formula_district(committed, engine):
    """A district off the coast whose name looks like a spreadsheet formula, with one relic in it."""
    name = '=HYPERLINK("http://example.invalid","x")'
    return district_off_the_coast(
        engine, committed, "formula-test", name,
        {"name": "Đình thử", "kind": "communal_house", "rank": "unranked"},
    )


def test_text_that_looks_like_a_formula_stays_text(client, formula_district, tmp_path):
    params = {"district": formula_district}
    path = tmp_path / "relics.xlsx"
    path.write_bytes(client.get("/stats/relics_rank.xlsx", query_string=params).data)
    sheet = openpyxl.load_workbook(path).active
    cell = sheet["A2"]
    assert (cell.value, cell.data_type) == (formula_district, "s")
    assert [c.value for c in sheet[2]] == [formula_district, "Chưa xếp hạng", "Đình", 1]
    # CSV has no cell types: the apostrophe tells the spreadsheet it is text.
    rows = read_csv(client.get("/stats/relics_rank.csv", query_string=params))
    assert rows[1] == ["'" + formula_district, "Chưa xếp hạng", "Đình", "1"]


@pytest.mark.parametrize(
    "query",
    [
        "by=province",
        "f=xml",
        "farming_zones.crop=wheat",
        "relics.rank=imperial",
        "colour=red",
        "nowhere.crop=rice",
        "farming_zones.name=x",
        "bbox=1,2,3",
        "q=" + "a" * 201,
        "district=a&district=b",
    ],
)
def test_bad_parameters_are_400(client, query):
    for url in (f"/stats?f=json&{query}", f"/stats/farming_crop.csv?{query}"):
        response = client.get(url)
        assert response.status_code == 400, url
        body = response.get_json()
        assert body["code"] == "InvalidParameterValue" and body["description"]


@pytest.mark.parametrize("path", ["/stats/nothing.csv", "/stats/farming_crop.pdf", "/stats/farming_zones.csv"])
def test_unknown_download_is_404(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response.get_json()["code"] == "NotFound"


def test_layers_not_public_are_for_users_only(app, client, make_user, private_relics):
    assert "relics_rank" not in tables_of(figures(client))
    assert client.get("/stats/relics_rank.csv").status_code == 404
    assert client.get("/stats?f=json&relics.rank=national").status_code == 400
    assert "table-relics_rank" not in client.get("/stats").get_data(as_text=True)
    viewer = signed_in(app, make_user("stats_viewer", "viewer"))
    assert "relics_rank" in tables_of(figures(viewer, **{"relics.rank": "national"}))
    assert viewer.get("/stats/relics_rank.csv").status_code == 200


def test_page_shows_every_table(client):
    page = client.get("/stats")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    for table in TABLES:
        assert f'id="table-{table.id}"' in html and table.vi in html
        assert f"/stats/{table.id}.csv?" in html and f"/stats/{table.id}.xlsx?" in html
    assert 'name="farming_zones.crop"' in html and 'name="district"' in html and 'name="q"' in html
    assert 'id="stats-data"' in html


def test_page_filters_show_their_choices_in_the_language_and_keep_what_was_chosen(client):
    html = client.get("/stats?farming_zones.crop=rice&lang=en").get_data(as_text=True)
    select = re.search(r'<select id="filter-farming_zones-crop" name="farming_zones.crop">(.*?)</select>', html, re.S)[1]
    options = re.findall(r'<option value="(\w*)" ?(selected)?>([^<]*)</option>', select)
    crop = REGISTRY["farming_zones"].field("crop")
    assert [(value, label) for value, _, label in options[1:]] == [(c.value, c.en) for c in crop.choices]
    assert [value for value, chosen, _ in options if chosen] == ["rice"]


@pytest.mark.parametrize("paging", ["limit=5", "offset=3", "relics.limit=2"])
def test_statistics_cover_every_match_and_refuse_paging(client, paging):
    response = client.get(f"/stats?f=json&{paging}")
    assert response.status_code == 400
    assert paging.split("=")[0] in response.get_data(as_text=True)
