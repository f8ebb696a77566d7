"""`flask import`: the report, exit codes, and clear errors instead of tracebacks.

These runs commit, as the command does: every feature they make is named
with MARK and removed afterwards with its history.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
from pyproj import Transformer
from sqlalchemy import text

from importers.encodings import encode_legacy
from tests.importing import MARK, count, point, remove_marked, snapshot, square, write, zones


@pytest.fixture(autouse=True)
def clean(engine):
    remove_marked(engine)
    yield
    remove_marked(engine)


@pytest.fixture()
def flask_import(app):
    runner = app.test_cli_runner()

    def run(*args: str):
        # `flask` (FlaskGroup) pushes an app context for every command; the test runner does not.
        with app.app_context():
            result = runner.invoke(args=["import", *map(str, args)])
        # Whatever happens, the user sees a message, never a traceback.
        assert result.exception is None or isinstance(result.exception, SystemExit), result.output
        assert "Traceback" not in result.output
        return result

    return run


def state(engine) -> dict:
    with engine.connect() as c:
        out = snapshot(c)
        out["marked"] = sum(
            count(c, t, "name LIKE :m", {"m": MARK + "%"}) for t in ("farming_zones", "aquaculture_areas", "craft_villages", "relics")
        )
        return out


def marked(engine, table: str, columns: str = "name") -> list:
    with engine.connect() as c:
        return c.execute(text(f"SELECT {columns} FROM {table} WHERE name LIKE :m ORDER BY name"), {"m": MARK + "%"}).all()


def test_import_prints_the_report_and_records_the_user(flask_import, engine, tmp_path):
    names = [f"{MARK} vùng lúa Nam Hùng", f"{MARK} vùng rau Nam Dương"]
    path = write(zones(names, ["Lúa", "Rau màu"], ghi_chu=["a", "b"]), tmp_path / "vung.geojson")

    result = flask_import("farming_zones", path, "--user", "tran.thi.binh")

    assert result.exit_code == 0, result.output
    assert "loaded; rows read 2, inserted 2, updated 0, rejected 0" in result.output
    assert "mapping: name -> name, crop -> crop" in result.output
    assert "columns not imported: ghi_chu" in result.output
    assert marked(engine, "farming_zones", "name, crop, district") == [
        (names[0], "rice", "Nam Trực"),
        (names[1], "vegetables", "Nam Trực"),
    ]
    with engine.connect() as c:
        history = c.execute(
            text(
                "SELECT h.operation, h.username FROM feature_history h JOIN farming_zones f "
                "ON h.layer = 'farming_zones' AND h.feature_id = f.id WHERE f.name LIKE :m"
            ),
            {"m": MARK + "%"},
        ).all()
    assert history == [("create", "tran.thi.binh")] * 2


def test_dry_run_exits_0_and_writes_nothing(flask_import, engine, tmp_path):
    path = write(zones([f"{MARK} một", f"{MARK} hai"], ["Lúa", "ngô"]), tmp_path / "thu.geojson")
    before = state(engine)

    result = flask_import("farming_zones", path, "--dry-run")

    assert result.exit_code == 0, result.output
    assert "dry run: nothing written; rows read 2, would load 1" in result.output
    assert "row 2: crop: unknown value 'ngô'" in result.output
    assert state(engine) == before


def test_rejected_rows_fail_the_command_unless_skipped(flask_import, engine, tmp_path):
    path = write(zones([f"{MARK} một", f"{MARK} hai", f"{MARK} ba"], ["Lúa", "ngô", "Muối"]), tmp_path / "ba.geojson")
    before = state(engine)

    result = flask_import("farming_zones", path)
    assert result.exit_code != 0
    assert "nothing loaded" in result.output and "row 2: crop: unknown value 'ngô'" in result.output
    assert state(engine) == before

    result = flask_import("farming_zones", path, "--skip-invalid")
    assert result.exit_code == 0, result.output
    assert "inserted 2" in result.output
    assert marked(engine, "farming_zones") == [(f"{MARK} ba",), (f"{MARK} một",)]


def test_invalid_shape_is_reported_with_its_location_and_repaired_on_request(flask_import, engine, tmp_path):
    x, y, s = 106.2, 20.3, 0.004
    bowtie = gpd.GeoSeries.from_wkt([f"POLYGON(({x} {y}, {x + s} {y + s}, {x + s} {y}, {x} {y + s}, {x} {y}))"])
    path = write(gpd.GeoDataFrame({"name": [f"{MARK} chéo"], "crop": ["Lúa"]}, geometry=bowtie, crs=4326), tmp_path / "cheo.geojson")

    result = flask_import("farming_zones", path)
    assert result.exit_code != 0
    assert "row 1: geometry: invalid: Self-intersection at [106.202, 20.302]" in result.output

    result = flask_import("farming_zones", path, "--repair", "--user", "sua")
    assert result.exit_code == 0, result.output
    assert "repaired" in result.output
    assert marked(engine, "farming_zones", "ST_IsValid(geom), ST_NumGeometries(geom)") == [(True, 2)]


def test_every_rejected_row_goes_to_the_rejected_file(flask_import, engine, tmp_path):
    """More rejections than the report prints (200): the file has them all, with the place of a bad shape."""
    x, y, s = 106.2, 20.3, 0.004
    names = [f"{MARK} {i}" for i in range(230)]
    gdf = zones(names, ["ngô" if i % 10 else "Lúa" for i in range(230)])
    gdf["geometry"] = [square(i % 16, i // 16) for i in range(230)]
    gdf.loc[0, "geometry"] = gpd.GeoSeries.from_wkt([f"POLYGON(({x} {y}, {x + s} {y + s}, {x + s} {y}, {x} {y + s}, {x} {y}))"])[0]
    path = write(gdf, tmp_path / "nhieu.geojson")
    before = state(engine)

    result = flask_import("farming_zones", path, "--dry-run", "--rejected", tmp_path / "loai.csv")
    assert result.exit_code == 0, result.output
    assert "... and 8 more rejected rows (--rejected FILE lists them all)" in result.output
    raw = (tmp_path / "loai.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # Excel reads UTF-8 only after this mark
    rows = pd.read_csv(tmp_path / "loai.csv", encoding="utf-8-sig", keep_default_na=False)
    assert list(rows.columns) == ["row", "reason", "longitude", "latitude"]
    assert len(rows) == 208 and rows["row"].tolist() == [1] + [i + 1 for i in range(230) if i % 10]
    assert rows["reason"].iloc[1] == "crop: unknown value 'ngô'"
    first = rows.iloc[0]
    assert first["reason"] == "geometry: invalid: Self-intersection"
    assert (round(float(first["longitude"]), 3), round(float(first["latitude"]), 3)) == (106.202, 20.302)
    assert rows["longitude"].iloc[1] == ""
    assert state(engine) == before

    # A file that cannot be written stops the run before anything goes in.
    result = flask_import("farming_zones", path, "--skip-invalid", "--rejected", tmp_path / "missing" / "loai.csv")
    assert result.exit_code != 0 and "cannot write" in result.output, result.output
    assert state(engine) == before


def test_words_no_label_matches_are_listed_then_read_as_the_values_given(flask_import, engine, tmp_path):
    crops = ["Lúa nếp", "Lúa", "Lúa nếp", "Ngô lai", "lua nep"]
    path = write(zones([f"{MARK} {i}" for i in range(5)], crops), tmp_path / "dia_phuong.geojson")

    result = flask_import("farming_zones", path, "--dry-run")
    assert "would load 1" in result.output
    # "lua nep" is "Lúa nếp" written otherwise: one word, as the matching compares them.
    assert ("crop: values no label matches: 'Lúa nếp' (3), 'Ngô lai' (1); "
            "read them as a value with --value crop:TEXT=VALUE") in result.output

    # Compared as names are: "ngo lai" is "Ngô lai", and one reading of "Lúa nếp" covers "lua nep".
    result = flask_import("farming_zones", path, "--value", "crop:Lúa nếp=rice", "--value", "crop:ngo lai=other")
    assert result.exit_code == 0, result.output
    assert "inserted 5" in result.output and "no label matches" not in result.output
    assert marked(engine, "farming_zones", "crop") == [("rice",), ("rice",), ("rice",), ("other",), ("rice",)]


@pytest.mark.parametrize(("value", "says"), [
    ("crop:Lúa nếp=maize", "'maize' for 'Lúa nếp', which is not a value of crop (rice, rice_seed"),
    ("season:Lúa nếp=rice", "--value names field 'season', which is not a field of farming_zones with a list of values"),
    ("crop=rice", "expected FIELD:TEXT=VALUE"),
    ("crop:Lúa nếp=rice & crop:LÚA NẾP=other", "two values for 'LÚA NẾP' written alike: 'rice' and 'other'"),
])
def test_a_value_that_cannot_be_read_stops_the_run(flask_import, engine, tmp_path, value, says):
    path = write(zones([f"{MARK} 1"], ["Lúa nếp"]), tmp_path / "mot.geojson")
    before = state(engine)
    result = flask_import("farming_zones", path, *(arg for one in value.split(" & ") for arg in ("--value", one)))
    assert result.exit_code != 0 and says in result.output, result.output
    assert state(engine) == before


def test_map_and_key_update_on_reimport(flask_import, engine, tmp_path):
    gdf = gpd.GeoDataFrame(
        {"ten": [f"{MARK} Đồng Sơn"], "loai": ["Lúa"], "ghi_chu": ["x"]}, geometry=[square(0)], crs=4326
    )
    path = write(gdf, tmp_path / "v1.geojson")
    args = ("farming_zones", path, "--map", "ten=name", "--map", "loai=crop", "--map", "ghi_chu=")
    assert flask_import(*args).exit_code == 0
    gdf["loai"] = ["Cây ăn quả"]
    write(gdf, path)

    result = flask_import(*args, "--key", "name", "--user", "lan")

    assert result.exit_code == 0, result.output
    assert "inserted 0, updated 1" in result.output
    assert "mapping: ten -> name, loai -> crop" in result.output and "columns not imported" not in result.output
    assert marked(engine, "farming_zones", "crop, version") == [("fruit", 2)]

    result = flask_import("farming_zones", path, "--map", "khong_co=name")
    assert result.exit_code != 0 and "khong_co" in result.output


@pytest.mark.parametrize(
    "name, content",
    [
        ("rong.geojson", b""),
        ("ghi_chu.geojson", "Đây là biên bản, không phải bản đồ.\n".encode()),
        ("anh.gpkg", b"\x89PNG\r\n\x1a\n" + b"\x00" * 100),
        ("vung.zip", b"PK\x05\x06" + b"\x00" * 18),
    ],
    ids=["empty", "text", "png-as-gpkg", "empty-zip"],
)
def test_unreadable_files_fail_with_a_message(flask_import, engine, tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    before = state(engine)
    result = flask_import("farming_zones", path)
    assert result.exit_code != 0
    assert "Error:" in result.output and name in result.output
    assert state(engine) == before


def test_unknown_layer_and_missing_file(flask_import, tmp_path):
    path = write(zones([f"{MARK} x"], ["Lúa"]), tmp_path / "x.geojson")
    result = flask_import("khong_co_lop", path)
    assert result.exit_code != 0 and "farming_zones" in result.output
    result = flask_import("admin_units", path)
    assert result.exit_code != 0
    result = flask_import("farming_zones", tmp_path / "khong_co.geojson")
    assert result.exit_code != 0


def vn2000_relics(tmp_path):
    gdf = gpd.GeoDataFrame(
        {"name": [f"{MARK} đền VN-2000"], "kind": ["Đền"], "rank": ["Cấp tỉnh"]}, geometry=[point(0)], crs=4326
    ).to_crs(9209)
    path = write(gdf, tmp_path / "den.shp", encoding="UTF-8")
    path.with_suffix(".prj").unlink()
    return path, gdf.geometry[0]


def test_metres_without_crs_fail_with_the_hint_and_crs_option_fixes_it(flask_import, engine, tmp_path):
    path, projected = vn2000_relics(tmp_path)
    before = state(engine)

    result = flask_import("relics", path)
    assert result.exit_code != 0
    assert "--crs EPSG:9209" in result.output
    assert state(engine) == before

    result = flask_import("relics", path, "--crs", "EPSG:9209")
    assert result.exit_code == 0, result.output
    [(x, y)] = marked(engine, "relics", "ST_X(geom), ST_Y(geom)")
    assert (x, y) == pytest.approx(Transformer.from_crs(9209, 4326, always_xy=True).transform(projected.x, projected.y), abs=1e-7)


def test_zipped_shapefile(flask_import, engine, tmp_path):
    names = [f"{MARK} ao tôm Giao Phong", f"{MARK} bãi ngao Giao Xuân"]
    gdf = gpd.GeoDataFrame(
        {"TEN_VUNG": names, "DOI_TUONG": ["Tôm", "Ngao"], "LOAI_NUOC": ["Nước lợ", "Nước mặn"]},
        geometry=[square(0), square(1)],
        crs=4326,
    ).to_crs(9209)
    shp = write(gdf, tmp_path / "ao_nuoi.shp", encoding="UTF-8")
    archive = tmp_path / "ao_nuoi.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for part in tmp_path.glob("ao_nuoi.*"):
            if part.suffix != ".zip":
                z.write(part, f"du_lieu/{part.name}")
    assert {p.suffix for p in shp.parent.glob("ao_nuoi.*")} >= {".shp", ".shx", ".dbf", ".prj", ".cpg"}

    result = flask_import(
        "aquaculture_areas", archive, "--map", "DOI_TUONG=species", "--map", "LOAI_NUOC=water_type"
    )

    assert result.exit_code == 0, result.output
    assert marked(engine, "aquaculture_areas", "name, species, water_type, district") == [
        (names[0], "shrimp", "brackish", "Nam Trực"),
        (names[1], "clam", "marine", "Nam Trực"),
    ]


def test_geopackage_with_two_layers_needs_a_choice(flask_import, engine, tmp_path):
    path = tmp_path / "hai_lop.gpkg"
    write(zones([f"{MARK} lớp một"], ["Lúa"]), path, layer="mot")
    write(zones([f"{MARK} lớp hai"], ["Muối"]), path, layer="hai")
    result = flask_import("farming_zones", path)
    assert result.exit_code != 0 and "mot" in result.output and "hai" in result.output
    result = flask_import("farming_zones", path, "--source-layer", "hai")
    assert result.exit_code == 0, result.output
    assert marked(engine, "farming_zones", "name, crop") == [(f"{MARK} lớp hai", "salt")]
    result = flask_import("farming_zones", path, "--source-layer", "ba")
    assert result.exit_code != 0 and "ba" in result.output


def test_csv_and_xlsx_coordinates_are_found_by_column_name(flask_import, engine, tmp_path):
    csv_path = tmp_path / "di_tich.csv"
    csv_path.write_text(
        f"Tên di tích,Loại hình,Xếp hạng,kinh_do,vi_do\n{MARK} chùa CSV,Chùa,Cấp tỉnh,{point(0).x},{point(0).y}\n",
        encoding="utf-8",
    )
    xlsx_path = tmp_path / "lang_nghe.xlsx"
    pyogrio.write_dataframe(
        pd.DataFrame({"Tên làng nghề": [f"{MARK} làng XLSX"], "Nghề": ["Mây tre đan"], "lon": [point(1).x], "lat": [point(1).y]}),
        xlsx_path,
        driver="XLSX",
    )
    assert flask_import("relics", csv_path).exit_code == 0
    result = flask_import("craft_villages", xlsx_path)
    assert result.exit_code == 0, result.output
    assert marked(engine, "relics", "name, kind, rank, ST_X(geom), ST_Y(geom)") == [
        (f"{MARK} chùa CSV", "pagoda", "provincial", pytest.approx(point(0).x), pytest.approx(point(0).y))
    ]
    assert marked(engine, "craft_villages", "name, craft, ST_X(geom)") == [
        (f"{MARK} làng XLSX", "weaving", pytest.approx(point(1).x))
    ]


def test_swapped_coordinates_in_a_csv_fail_the_command(flask_import, engine, tmp_path):
    path = tmp_path / "dao.csv"
    path.write_text(
        f"name,kind,rank,lon,lat\n{MARK} đảo,Đền,Cấp tỉnh,{point(0).y},{point(0).x}\n", encoding="utf-8"
    )
    before = state(engine)
    result = flask_import("relics", path)
    assert result.exit_code != 0
    assert "row 1: geometry: longitude and latitude look swapped" in result.output
    assert state(engine) == before


# TCVN3 (ABC) bytes, written out by hand from the TCVN 5712:1993 table.
TCVN3 = {
    "Vùng lúa Nam Định": b"V\xefng l\xf3a Nam \xa7\xdenh",
    "Hợp tác xã Hải Hậu": b"H\xeep t\xb8c x\xb7 H\xb6i H\xcbu",
    "Lúa": b"L\xf3a",
}


def test_tcvn3_dbf_through_flask_import(flask_import, engine, tmp_path):
    gdf = gpd.GeoDataFrame(
        {
            "TEN": [MARK + " " + TCVN3["Vùng lúa Nam Định"].decode("latin-1")],
            "CAY_TRONG": [TCVN3["Lúa"].decode("latin-1")],
            "CHU_SO_HUU": [TCVN3["Hợp tác xã Hải Hậu"].decode("latin-1")],
        },
        geometry=[square(0)],
        crs=4326,
    )
    path = write(gdf, tmp_path / "vung_tcvn3.shp", encoding="latin1")
    path.with_suffix(".cpg").unlink(missing_ok=True)  # legacy files carry none
    dbf = path.with_suffix(".dbf").read_bytes()
    assert TCVN3["Vùng lúa Nam Định"] in dbf and "Định".encode() not in dbf

    result = flask_import("farming_zones", path, "--encoding", "tcvn3", "--map", "TEN=name", "--map", "CHU_SO_HUU=owner")

    assert result.exit_code == 0, result.output
    assert marked(engine, "farming_zones", "name, crop, owner") == [
        (f"{MARK} Vùng lúa Nam Định", "rice", "Hợp tác xã Hải Hậu")
    ]


def test_the_real_flask_command(engine, database_url, tmp_path):
    """Through the `flask` entry point itself, as a user runs it: progress, report, exit codes."""
    good = write(zones([f"{MARK} dòng lệnh"], ["Lúa"]), tmp_path / "lenh.geojson")
    empty = tmp_path / "rong.geojson"
    empty.write_bytes(b"")
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "DATABASE_URL": database_url}

    def flask(*args):
        return subprocess.run(
            [sys.executable, "-m", "flask", "--app", "app", "import", *map(str, args)],
            cwd=root, env=env, capture_output=True, text=True, timeout=120,
        )

    done = flask("farming_zones", good, "--user", "cli")
    assert done.returncode == 0, done.stderr
    assert "loaded; rows read 1, inserted 1, updated 0, rejected 0" in done.stdout
    assert marked(engine, "farming_zones", "crop") == [("rice",)]
    failed = flask("farming_zones", empty)
    assert failed.returncode != 0
    assert "Error: rong.geojson is empty" in failed.stderr and "Traceback" not in failed.stderr


def test_an_import_is_undone_by_the_command_it_prints(flask_import, engine, tmp_path, app):
    path = write(zones([f"{MARK} một", f"{MARK} hai"], ["Lúa", "Muối"]), tmp_path / "hai.geojson")
    before = state(engine)
    result = flask_import("farming_zones", path, "--user", "lan")
    assert result.exit_code == 0 and "inserted 2" in result.output, result.output
    command = next(line for line in result.output.splitlines() if "undo with: flask " in line)
    args = command.split("undo with: flask ")[1].split()
    assert args[0] == "undo-import" and len(args) == 2

    runner = app.test_cli_runner()
    with app.app_context():
        logged = runner.invoke(args=["import-log", "--user", "lan", "--limit", "1"])
        assert logged.exit_code == 0 and logged.output.split()[0] == args[1], logged.output
        assert "farming_zones  lan  hai.geojson  read 2, inserted 2, updated 0, rejected 0" in logged.output
        undone = runner.invoke(args=args)
        assert undone.exit_code == 0 and "deleted 2, restored 0, changed since and left 0" in undone.output, undone.output
        assert (state(engine)["farming_zones"], state(engine)["marked"]) == (before["farming_zones"], 0)
        again = runner.invoke(args=args)
        assert again.exit_code != 0 and "The import cannot be undone: it has been undone already." in again.output
        assert "undone" in runner.invoke(args=["import-log", "--user", "lan", "--limit", "1"]).output
        unknown = runner.invoke(args=["undo-import", "999999999"])
    assert unknown.exit_code != 0 and "no import 999999999" in unknown.output
    with engine.connect() as c:
        by = c.execute(text("SELECT username FROM feature_history WHERE operation = 'delete' ORDER BY id DESC LIMIT 1")).scalar_one()
    assert by == "lan"  # the import's user, as no other was named


@pytest.mark.parametrize("how", ["cpg", "option"])
def test_a_windows_1258_shapefile_keeps_every_letter(flask_import, engine, tmp_path, how):
    """GDAL's own conversion of Windows-1258 dropped the last letter of each text ("Lú" for "Lúa") and of
    column names: the importer decodes it itself, as the .cpg says or the user chooses."""
    gdf = gpd.GeoDataFrame({"TEN": [f"{MARK} Ruộng Giao Thủy"], "Cây trồng": ["Lúa"], "CHU": ["Hợp tác xã Xuân Trường"]},
                           geometry=[square(0)], crs=4326)
    path = write(gdf, tmp_path / "ruong_1258.shp", encoding="cp1258")
    cpg = path.with_suffix(".cpg")
    if how == "cpg":
        cpg.write_text("1258")
    else:
        cpg.unlink(missing_ok=True)
    assert "Lúa".encode() not in path.with_suffix(".dbf").read_bytes()
    extra = ("--encoding", "cp1258") if how == "option" else ()
    result = flask_import("farming_zones", path, *extra, "--map", "TEN=name", "--map", "CHU=owner")
    assert result.exit_code == 0, result.output
    assert "Cây trồng -> crop" in result.output  # the column's name whole, so matched by the field's label
    assert marked(engine, "farming_zones", "name, crop, owner") == [(f"{MARK} Ruộng Giao Thủy", "rice", "Hợp tác xã Xuân Trường")]


def test_a_windows_1258_csv_with_vietnamese_headers(flask_import, engine, tmp_path):
    """Excel's CSV on a Vietnamese Windows: headers in Windows-1258 too, coordinates under "Kinh độ" and "Vĩ độ"."""
    rows = f"Tên làng nghề,Nghề,Kinh độ,Vĩ độ\r\n{MARK} Làng muối Văn Lý,Làm muối,106.21,20.31\r\n"
    path = tmp_path / "excel.csv"
    path.write_bytes(encode_legacy(rows, "cp1258"))
    result = flask_import("craft_villages", path, "--encoding", "cp1258")
    assert result.exit_code == 0, result.output
    assert marked(engine, "craft_villages", "name, craft, ST_AsText(geom)") == [
        (f"{MARK} Làng muối Văn Lý", "salt", "POINT(106.21 20.31)")]


MY_MAPS_KML = """<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2"><Document><name>Bản đồ khảo sát</name>
<Placemark><name>{mark} điểm lẻ</name><Point><coordinates>106.30,20.30,0</coordinates></Point></Placemark>
<Folder><name>Làng nghề</name>
<Placemark><name>{mark} Làng muối Văn Lý</name><description>ghi chú</description>
  <ExtendedData><Data name="Nghề"><value>Làm muối</value></Data><Data name="Số hộ làm nghề"><value>120</value></Data></ExtendedData>
  <Point><coordinates>106.21,20.31,4.5</coordinates></Point></Placemark>
<Folder><name>Ven biển</name><Placemark><name>{mark} ven biển</name><Point><coordinates>106.40,20.25</coordinates></Point></Placemark></Folder>
<Placemark><name>{mark} Làng mộc La Xuyên</name>
  <ExtendedData><Data name="Nghề"><value>Chạm khắc gỗ, đồ gỗ</value></Data></ExtendedData>
  <Point><coordinates>106.22,20.32</coordinates></Point></Placemark>
</Folder></Document></kml>"""


@pytest.mark.parametrize("packed", [False, True], ids=["kml", "kmz"])
def test_a_phone_s_kml_keeps_its_placemarks_attributes(flask_import, engine, tmp_path, packed):
    """Google My Maps and phone apps write attributes as ExtendedData, which GDAL's KML driver leaves out:
    they are read beside it, per folder."""
    kml = tmp_path / "doc.kml"
    kml.write_text(MY_MAPS_KML.format(mark=MARK), encoding="utf-8")
    path = kml
    if packed:
        path = tmp_path / "khao_sat.kmz"
        with zipfile.ZipFile(path, "w") as archive:
            archive.write(kml, "doc.kml")
    result = flask_import("craft_villages", path, "--source-layer", "Làng nghề")
    assert result.exit_code == 0, result.output
    assert "Nghề -> craft" in result.output and "Số hộ làm nghề -> households" in result.output
    assert sorted(marked(engine, "craft_villages", "name, craft, households")) == sorted([
        (f"{MARK} Làng mộc La Xuyên", "woodwork", None), (f"{MARK} Làng muối Văn Lý", "salt", 120)])


def test_the_app_s_own_kml_export_imports_again(flask_import, engine, tmp_path, app):
    """An export to KML, opened in Google Earth and sent back: the attributes it wrote come back."""
    path = tmp_path / "lang_nghe.kml"
    with app.app_context():
        exported = app.test_cli_runner().invoke(args=["export", "craft_villages", str(path)])
    assert exported.exit_code == 0, exported.output
    with engine.connect() as c:
        villages = c.execute(text("SELECT count(*) FROM craft_villages")).scalar_one()
    result = flask_import("craft_villages", path, "--dry-run")
    assert result.exit_code == 0, result.output
    assert f"rows read {villages}, would load {villages}, rejected 0" in result.output
    assert "craft -> craft" in result.output


def test_tcvn3_text_behind_a_wrong_cpg_is_pointed_out(flask_import, engine, tmp_path):
    gdf = gpd.GeoDataFrame(
        {"TEN": [MARK + " " + TCVN3["Vùng lúa Nam Định"].decode("latin-1")], "CAY_TRONG": [TCVN3["Lúa"].decode("latin-1")],
         "CHU_SO_HUU": [TCVN3["Hợp tác xã Hải Hậu"].decode("latin-1")]},
        geometry=[square(0)], crs=4326)
    path = write(gdf, tmp_path / "sai_cpg.shp", encoding="latin1")
    said = "the text looks like TCVN3 (ABC), a Vietnamese encoding older than Unicode: choose it (--encoding tcvn3)"
    for cpg in ("1252", "UTF-8", None):  # what old tools wrote, wrongly, or nothing
        if cpg:
            path.with_suffix(".cpg").write_text(cpg)
        else:
            path.with_suffix(".cpg").unlink()
        result = flask_import("farming_zones", path, "--map", "TEN=name")
        assert result.exit_code != 0 and said in result.output, (cpg, result.output)
    assert marked(engine, "farming_zones", "name") == []
    chosen = flask_import("farming_zones", path, "--dry-run", "--map", "TEN=name", "--encoding", "cp1252")
    assert chosen.exit_code == 0 and f"note: {said}" in chosen.output, chosen.output  # the user's choice, questioned
    right = flask_import("farming_zones", path, "--dry-run", "--map", "TEN=name", "--encoding", "tcvn3")
    assert "looks like" not in right.output and "rejected 0" in right.output


@pytest.mark.parametrize("cpg", ["UTF-16", "IBM037"])
def test_a_cpg_naming_an_encoding_no_dbf_is_in_is_refused(flask_import, engine, tmp_path, cpg):
    gdf = gpd.GeoDataFrame({"TEN": [f"{MARK} Vùng lúa"], "LOAI": ["Lúa"]}, geometry=[square(0)], crs=4326)
    path = write(gdf, tmp_path / "cpg_la.shp", encoding="cp1258")
    path.with_suffix(".cpg").write_text(cpg)
    result = flask_import("farming_zones", path, "--map", "TEN=name", "--map", "LOAI=crop")
    assert result.exit_code != 0 and "which no .dbf is written in: choose the text's encoding" in result.output, result.output
    assert marked(engine, "farming_zones") == []


@pytest.mark.parametrize("cpg", ["1252", "1258", "UTF-16", "IBM037"])
def test_utf8_text_behind_a_cpg_naming_another_encoding_is_read_as_utf8(flask_import, engine, tmp_path, cpg):
    """A tool writing its own code page in the .cpg before UTF-8 text: read as UTF-8, not as mojibake;
    a .cpg naming an encoding no .dbf can be in (its header is ASCII) is not taken at its word."""
    gdf = gpd.GeoDataFrame({"TEN": [f"{MARK} Vùng lúa Hải Hậu"], "Cây": ["Lúa"]}, geometry=[square(0)], crs=4326)
    path = write(gdf, tmp_path / "cpg_sai.shp", encoding="UTF-8")
    path.with_suffix(".cpg").write_text(cpg)
    result = flask_import("farming_zones", path, "--map", "TEN=name", "--map", "Cây=crop")
    assert result.exit_code == 0, result.output
    assert marked(engine, "farming_zones", "name") == [(f"{MARK} Vùng lúa Hải Hậu",)]
    if cpg.isdigit():
        assert f"note: the .cpg names cp{cpg}, but the text is UTF-8: read as UTF-8" in result.output


def test_words_of_a_label_listing_several_are_read_each(flask_import, engine, tmp_path):
    """"Phủ, miếu" is one kind of relic: a file writing "Phủ" or "Miếu" means it."""
    path = tmp_path / "phu.csv"
    path.write_text(f"wkt,name,kind,rank\nPOINT(106.17 20.42),{MARK} Phủ Dầy,Phủ,Quốc gia\n"
                    f"POINT(106.18 20.42),{MARK} Miếu Bà,miếu,Cấp tỉnh\n", encoding="utf-8")
    result = flask_import("relics", path)
    assert result.exit_code == 0, result.output
    assert marked(engine, "relics", "kind") == [("shrine",), ("shrine",)]


def test_notes_asking_for_what_the_user_gave_are_left_out(flask_import, tmp_path):
    gdf = gpd.GeoDataFrame({"TEN": [f"{MARK} không prj"], "LOAI": ["Lúa"]}, geometry=[square(0)], crs=4326)
    path = write(gdf, tmp_path / "khong_prj.shp", encoding="UTF-8")
    path.with_suffix(".prj").unlink()
    path.with_suffix(".cpg").unlink(missing_ok=True)
    asked = flask_import("farming_zones", path, "--dry-run", "--map", "TEN=name", "--map", "LOAI=crop")
    assert "No .prj" in asked.output and "No .cpg" in asked.output
    given = flask_import("farming_zones", path, "--dry-run", "--map", "TEN=name", "--map", "LOAI=crop",
                         "--crs", "EPSG:4326", "--encoding", "utf-8")
    assert "No .prj" not in given.output and "No .cpg" not in given.output and "rejected 0" in given.output


def exported_villages(engine, app, tmp_path, villages: list[tuple]) -> Path:
    """Craft villages (name after MARK, craft, households, products) a step apart, exported to a GeoPackage."""
    with engine.begin() as c:
        for i, (name, craft, households, products) in enumerate(villages):
            c.execute(text(
                "INSERT INTO craft_villages (name, craft, households, products, geom) "
                "VALUES (:name, :craft, :households, :products, ST_SetSRID(ST_MakePoint(:x, 20.42), 4326))"),
                {"name": f"{MARK} {name}", "craft": craft, "households": households, "products": products, "x": 106.17 + i * 0.01})
    return export_marked(app, "craft_villages", tmp_path / "xuat.gpkg")


def export_marked(app, layer_id: str, path: Path) -> Path:
    """The test's features of a layer, exported by `flask export` to `path` (its format by the extension)."""
    with app.app_context():
        exported = app.test_cli_runner().invoke(args=["export", layer_id, str(path), "--filter", f"q={MARK}"])
    assert exported.exit_code == 0, exported.output
    return path


def test_an_export_edited_elsewhere_comes_back_by_id(flask_import, engine, tmp_path, app):
    """Export to GeoPackage, edit in QGIS, import with --key id: the features it names are updated in
    place (names may repeat, ids do not), a row drawn anew (no id) is added, fields it lacks are kept."""
    path = exported_villages(engine, app, tmp_path, [("cùng tên", "salt", 10, "muối"), ("cùng tên", "woodwork", 20, "gỗ")])
    frame = pyogrio.read_dataframe(path)
    assert len(frame) == 2
    frame = frame[["id", "name", "craft", "households", "geometry"]]  # QGIS users drop columns too
    frame.loc[frame["craft"] == "woodwork", "households"] = 25
    added = frame.iloc[[0]].copy()
    added["id"], added["name"], added["households"] = None, f"{MARK} mới vẽ", 3
    frame = gpd.GeoDataFrame(pd.concat([frame, added], ignore_index=True), crs=4326)
    edited = write(frame, tmp_path / "lang_sua.gpkg")

    dry = flask_import("craft_villages", edited, "--key", "id", "--dry-run")
    assert "rows read 3, would load 3 (add 1, update 1, unchanged 1), rejected 0" in dry.output, dry.output
    result = flask_import("craft_villages", edited, "--key", "id")
    assert result.exit_code == 0, result.output
    assert "inserted 1, updated 1, unchanged 1" in result.output and "columns not imported: id" not in result.output
    rows = marked(engine, "craft_villages", "name, craft, households, products, version")
    assert sorted(rows) == sorted([(f"{MARK} cùng tên", "salt", 10, "muối", 1), (f"{MARK} cùng tên", "woodwork", 25, "gỗ", 2),
                                   (f"{MARK} mới vẽ", "salt", 3, None, 1)])


def test_key_id_without_ids_is_refused_clearly(flask_import, tmp_path):
    path = write(zones([f"{MARK} không mã"], ["Lúa"]), tmp_path / "khong_ma.geojson")
    result = flask_import("farming_zones", path, "--key", "id")
    assert result.exit_code != 0 and "--key id needs the file's column of feature ids" in result.output


def test_an_export_sent_back_loses_no_edit_made_since(flask_import, engine, tmp_path, app):
    """A colleague changed a village after the export: the file's row for it is refused (its version is
    older), so that edit is not overwritten; the other row goes in with --skip-invalid."""
    path = exported_villages(engine, app, tmp_path, [("A", "salt", 10, None), ("B", "salt", 20, None)])
    with engine.begin() as c:  # the colleague's edit, after the export
        c.execute(text("UPDATE craft_villages SET households = 11 WHERE name = :n"), {"n": f"{MARK} A"})
        a_id = c.execute(text("SELECT id FROM craft_villages WHERE name = :n"), {"n": f"{MARK} A"}).scalar_one()
    frame = pyogrio.read_dataframe(path)
    frame["households"] = frame["households"] + 100
    edited = write(frame, tmp_path / "sua.gpkg")

    refused = flask_import("craft_villages", edited, "--key", "id")
    assert refused.exit_code != 0
    assert f"id {a_id}: the feature was changed since the file was made (version 1 in the file, 2 now)" in refused.output
    assert sorted(marked(engine, "craft_villages", "name, households")) == [(f"{MARK} A", 11), (f"{MARK} B", 20)]
    loaded = flask_import("craft_villages", edited, "--key", "id", "--skip-invalid")
    assert "updated 1" in loaded.output and "columns not imported: version" not in loaded.output, loaded.output
    assert sorted(marked(engine, "craft_villages", "name, households")) == [(f"{MARK} A", 11), (f"{MARK} B", 120)]


def test_a_value_for_every_row_fills_a_field_no_column_has(flask_import, engine, tmp_path):
    """A phone's KML of relics has names and places, no rank: the officer gives every row the same one."""
    path = tmp_path / "di_tich.csv"
    path.write_text(f"ten,loai_hinh,lon,lat\n{MARK} Đền Chung,Đền,{point(0).x},{point(0).y}\n"
                    f"{MARK} Chùa Chung,Chùa,{point(1).x},{point(1).y}\n", encoding="utf-8")
    refused = flask_import("relics", path, "--map", "ten=name")
    assert refused.exit_code != 0 and "required field(s) not found in the file: rank" in refused.output
    done = flask_import("relics", path, "--map", "ten=name", "--set", "rank=Chưa xếp hạng")
    assert done.exit_code == 0 and "every row: rank = unranked" in done.output, done.output
    assert marked(engine, "relics", "name, kind, rank") == [(f"{MARK} Chùa Chung", "pagoda", "unranked"),
                                                           (f"{MARK} Đền Chung", "temple", "unranked")]


@pytest.mark.parametrize(("given", "said"), [
    ("rank=hạng nhất", "--set rank='hạng nhất': unknown value 'hạng nhất'"),
    ("kind=temple", "--set gives kind a value, which a column of the file fills too: choose one"),
    ("area_ha=3", "--set names field 'area_ha', which relics does not have or computes itself"),
    ("rank", "expected FIELD=VALUE"),
])
def test_a_value_for_every_row_that_cannot_be_is_refused(flask_import, engine, tmp_path, given, said):
    path = tmp_path / "di_tich.csv"
    path.write_text(f"ten,loai_hinh,lon,lat\n{MARK} Đền Lạ,Đền,{point(0).x},{point(0).y}\n", encoding="utf-8")
    result = flask_import("relics", path, "--map", "ten=name", "--set", given)
    assert result.exit_code != 0 and said in result.output, result.output
    assert marked(engine, "relics") == []


def test_a_keyed_dry_run_of_new_rows_says_how_many_it_would_add(flask_import, tmp_path):
    path = write(zones([f"{MARK} mới 1", f"{MARK} mới 2"], ["Lúa", "Lúa"]), tmp_path / "moi.geojson")
    result = flask_import("farming_zones", path, "--key", "name", "--dry-run")
    assert "would load 2 (add 2, update 0, unchanged 0), rejected 0" in result.output, result.output


def test_a_column_mapped_to_the_ids_without_key_id_is_refused(flask_import, tmp_path):
    path = write(zones([f"{MARK} mã"], ["Lúa"]), tmp_path / "ma.geojson")
    result = flask_import("farming_zones", path, "--map", "name=id", "--dry-run")
    assert result.exit_code != 0 and "--map name=id names the column of feature ids, which only --key id reads" in result.output


def test_a_key_that_is_no_field_is_named_as_such(flask_import, tmp_path):
    path = write(zones([f"{MARK} khoá lạ"], ["Lúa"]), tmp_path / "khoa.geojson")
    result = flask_import("farming_zones", path, "--key", "area_ha")
    assert result.exit_code != 0 and "unknown key field 'area_ha': a field of farming_zones the file fills, or id" in result.output


@pytest.mark.parametrize("cpg", [None, "", "garbage", "rot13", "hex", "1258\x00"])
def test_odd_cpg_files_and_names_not_in_utf8_get_an_answer(flask_import, tmp_path, cpg):
    """Windows-1258 column names behind no .cpg, or one naming no text encoding: a clear answer (choose
    the encoding), never a traceback; with a .cpg of 1258 and a NUL after it, read as Windows-1258."""
    gdf = gpd.GeoDataFrame({"TEN": [f"{MARK} cpg lạ"], "Cây trồng": ["Lúa"]}, geometry=[square(0)], crs=4326)
    path = write(gdf, tmp_path / "cpg_la.shp", encoding="cp1258")
    if cpg is None:
        path.with_suffix(".cpg").unlink(missing_ok=True)
    else:
        path.with_suffix(".cpg").write_text(cpg)
    result = flask_import("farming_zones", path, "--dry-run", "--map", "TEN=name")
    if cpg == "1258\x00":
        assert result.exit_code == 0 and "Cây trồng -> crop" in result.output, result.output
    else:
        assert result.exit_code != 0 and "holds text that is not UTF-8: choose its encoding" in result.output, result.output
    fixed = flask_import("farming_zones", path, "--dry-run", "--map", "TEN=name", "--encoding", "cp1258")
    assert fixed.exit_code == 0 and "Cây trồng -> crop" in fixed.output, fixed.output


def test_an_encoding_that_is_no_text_encoding_is_refused(flask_import, tmp_path):
    path = write(zones([f"{MARK} mã lạ"], ["Lúa"]), tmp_path / "ma_la.shp", encoding="UTF-8")
    result = flask_import("farming_zones", path, "--dry-run", "--encoding", "rot13")
    assert result.exit_code != 0 and "unknown text encoding 'rot13'" in result.output


def test_ids_naming_no_feature_or_another_layer_s_are_refused(flask_import, engine, tmp_path, app):
    """A feature deleted since the export does not come back; a file of another layer's ids is refused whole."""
    path = exported_villages(engine, app, tmp_path, [("còn", "salt", 1, None), ("đã xoá", "salt", 2, None)])
    with engine.begin() as c:
        gone = c.execute(text("DELETE FROM craft_villages WHERE name = :n RETURNING id"), {"n": f"{MARK} đã xoá"}).scalar_one()
    result = flask_import("craft_villages", path, "--key", "id")
    assert result.exit_code != 0
    assert f"id {gone}: no feature of craft_villages has this id (deleted since the file was made?)" in result.output
    assert sorted(marked(engine, "craft_villages")) == [(f"{MARK} còn",)]

    relics = tmp_path / "relics.gpkg"
    frame = pyogrio.read_dataframe(path)
    pyogrio.write_dataframe(frame, relics, layer="relics")  # named as an export of relics is
    other = flask_import("craft_villages", relics, "--key", "id")
    assert other.exit_code != 0 and "the file's layer is relics, another layer of this map" in other.output


def test_an_export_round_trip_through_geojson_changes_nothing(flask_import, engine, tmp_path, app):
    """GeoJSON rounds coordinates to 7 decimals and turns rings: sent back as it was, nothing changes."""
    with engine.begin() as c:
        c.execute(text(
            "INSERT INTO farming_zones (name, crop, geom) VALUES (:n, 'rice', ST_Multi(ST_GeomFromText("
            "'POLYGON((106.2012345678 20.3012345678, 106.2012345678 20.3052345678, 106.2052345678 20.3052345678, "
            "106.2052345678 20.3012345678, 106.2012345678 20.3012345678))', 4326)))"), {"n": f"{MARK} tròn số"})
    path = tmp_path / "vung.geojson"
    export_marked(app, "farming_zones", path)
    result = flask_import("farming_zones", path, "--key", "id")
    assert result.exit_code == 0 and "inserted 0, updated 0, unchanged 1" in result.output, result.output
    assert marked(engine, "farming_zones", "version") == [(1,)]


def test_an_unchanged_round_trip_of_areas_refusing_overlaps_goes_back_without_refusal(flask_import, engine, tmp_path, app):
    """GeoJSON rounds shapes to 7 decimals: two aquaculture areas touching along a slanted edge may then seem to
    overlap by a hair. Rows changing nothing are no writes, so no overlap check refuses them."""
    with engine.begin() as c:
        for i, wkt in enumerate([
            "POLYGON((106.40 20.22, 106.4013333333 20.2213333333, 106.40 20.2213333333, 106.40 20.22))",
            "POLYGON((106.40 20.22, 106.4013333333 20.22, 106.4013333333 20.2213333333, 106.40 20.22))",
        ]):
            c.execute(text("INSERT INTO aquaculture_areas (name, species, water_type, geom) VALUES "
                           "(:n, 'shrimp', 'brackish', ST_Multi(ST_GeomFromText(:w, 4326)))"), {"n": f"{MARK} ao {i}", "w": wkt})
    path = tmp_path / "ao.geojson"
    export_marked(app, "aquaculture_areas", path)
    result = flask_import("aquaculture_areas", path, "--key", "id")
    assert result.exit_code == 0 and "updated 0, unchanged 2, rejected 0" in result.output, result.output


def test_a_shapefile_round_trip_keeps_text_longer_than_a_dbf_holds(flask_import, engine, tmp_path, app):
    """A shapefile cuts text at 254 bytes: sent back by id, the cut descriptions are the stored ones, not edits."""
    long_text = "Làng nghề truyền thống " * 30  # about 700 bytes in UTF-8
    with engine.begin() as c:
        for i, (name, description) in enumerate([("dài", long_text), ("ngắn", None)]):
            c.execute(text("INSERT INTO craft_villages (name, craft, description, geom) "
                           "VALUES (:n, 'salt', :d, ST_SetSRID(ST_MakePoint(:x, 20.42), 4326))"),
                      {"n": f"{MARK} {name}", "d": description, "x": 106.17 + i * 0.01})
    shp = export_marked(app, "craft_villages", tmp_path / "lang.zip")
    result = flask_import("craft_villages", shp, "--key", "id")
    assert result.exit_code == 0, result.output
    assert "note: 1 text value(s) cut at 254 bytes by the shapefile were kept whole, as stored" in result.output
    assert "updated 0, unchanged 2" in result.output, result.output
    assert marked(engine, "craft_villages", "description, version") == [(long_text, 1), (None, 1)]
    # Saved as a GeoPackage in between (QGIS "Save as"), the cut text is still the stored text.
    gpkg = write(pyogrio.read_dataframe(f"/vsizip/{shp}"), tmp_path / "lang.gpkg")
    again = flask_import("craft_villages", gpkg, "--key", "id")
    assert again.exit_code == 0 and "updated 0, unchanged 2" in again.output, again.output
    assert "1 text value(s) cut at 254 bytes by the shapefile were kept whole" in again.output
    assert marked(engine, "craft_villages", "description, version") == [(long_text, 1), (None, 1)]


ROUND_TRIP_LAYERS = ["farming_zones", "aquaculture_areas", "craft_villages", "relics"]


@pytest.mark.parametrize("suffix", [".gpkg", ".zip", ".kml", ".csv", ".geojson"])
@pytest.mark.parametrize("layer_id", ROUND_TRIP_LAYERS)
def test_every_export_sent_back_unchanged_changes_nothing(flask_import, engine, tmp_path, app, layer_id, suffix):
    """The sample of each layer, exported in each format and sent back by id as it is: every row is read,
    none refused, and none would change anything."""
    path = tmp_path / f"{layer_id}{suffix}"
    with app.app_context():
        exported = app.test_cli_runner().invoke(args=["export", layer_id, str(path)])
    assert exported.exit_code == 0, exported.output
    with engine.connect() as c:
        count = c.execute(text(f"SELECT count(*) FROM {layer_id}")).scalar_one()
    result = flask_import(layer_id, path, "--key", "id", "--dry-run")
    assert result.exit_code == 0, result.output
    assert f"rows read {count}, would load {count} (add 0, update 0, unchanged {count}), rejected 0" in result.output, \
        result.output


def test_a_longitude_latitude_export_saved_as_a_workbook_keeps_the_shapes_too(flask_import, engine, tmp_path, app):
    """Opened in Excel and saved as .xlsx, the usual way: its points are no shapes for areas either."""
    path = tmp_path / "vung.csv"
    with app.app_context():
        exported = app.test_cli_runner().invoke(args=["export", "farming_zones", str(path), "--geometry", "lonlat"])
    assert exported.exit_code == 0, exported.output
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[0, "season"] = "Vụ hè thu"
    frame.to_excel(tmp_path / "vung.xlsx", index=False)
    result = flask_import("farming_zones", tmp_path / "vung.xlsx", "--key", "id", "--dry-run")
    assert result.exit_code == 0, result.output
    assert f"(add 0, update 1, unchanged {len(frame) - 1}), rejected 0" in result.output, result.output


def test_a_longitude_latitude_export_edited_and_sent_back_keeps_the_shapes(flask_import, engine, tmp_path, app):
    """A planner's CSV with a point for each zone, edited in a spreadsheet: the values come back, the zones
    keep their shapes; a row added without an id has no shape to add."""
    path = tmp_path / "vung.csv"
    with app.app_context():
        exported = app.test_cli_runner().invoke(args=["export", "farming_zones", str(path), "--geometry", "lonlat"])
    assert exported.exit_code == 0, exported.output
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[0, "season"] = "Vụ đông xuân"
    new = frame.iloc[[0]].assign(id="", name=f"{MARK} mới")
    deleted = frame.iloc[[0]].assign(id="999999", name=f"{MARK} đã xoá")
    # A row of another zone's point under this zone's id: a file of another layer would look so.
    elsewhere = frame.iloc[[1]].assign(id=frame.loc[0, "id"], version=frame.loc[0, "version"])
    pd.concat([frame, new, deleted, elsewhere]).to_csv(path, index=False)
    with engine.connect() as c:
        shapes = dict(c.execute(text("SELECT id, ST_AsEWKB(geom) FROM farming_zones")).all())
    result = flask_import("farming_zones", path, "--key", "id", "--skip-invalid")
    assert result.exit_code == 0, result.output
    assert f"inserted 0, updated 1, unchanged {len(frame) - 1}, rejected 3" in result.output, result.output
    assert "the features its rows name keep their shapes" in result.output
    rows = len(frame)
    assert f"row {rows + 1}: no id: a point is no shape to add" in result.output
    assert f"row {rows + 2}: id 999999: no feature of farming_zones has it, and a point is no shape to add" in result.output
    assert f"row {rows + 3}: id {frame.loc[0, 'id']}: its point lies outside that feature (a row of another file?)" \
        in result.output
    with engine.connect() as c:
        assert dict(c.execute(text("SELECT id, ST_AsEWKB(geom) FROM farming_zones")).all()) == shapes
        season = c.execute(text("SELECT season FROM farming_zones WHERE id = :id"), {"id": int(frame.loc[0, "id"])}).scalar_one()
    assert season == "Vụ đông xuân"


def test_an_export_sent_back_by_name_is_refused_where_a_colleague_changed_the_feature_since(flask_import, engine,
                                                                                             tmp_path, app):
    """The export's version column guards any key, not only id: the old copy would undo the colleague's edit."""
    with engine.begin() as c:
        c.execute(text("INSERT INTO relics (name, kind, rank, description, geom) VALUES "
                       "(:n, 'temple', 'provincial', 'Mô tả cũ', ST_SetSRID(ST_MakePoint(106.17, 20.42), 4326))"),
                  {"n": f"{MARK} đền cũ"})
    path = tmp_path / "di_tich.gpkg"
    with app.app_context():
        assert app.test_cli_runner().invoke(args=["export", "relics", str(path), "--filter", f"q={MARK}"]).exit_code == 0
    with engine.begin() as c:
        c.execute(text("UPDATE relics SET description = 'Mô tả của đồng nghiệp' WHERE name = :n"), {"n": f"{MARK} đền cũ"})
    frame = pyogrio.read_dataframe(path)
    frame["festival"] = "Lễ hội tháng Giêng"
    write(frame, tmp_path / "sua.gpkg")
    result = flask_import("relics", tmp_path / "sua.gpkg", "--key", "name")
    assert result.exit_code != 0, result.output
    assert f"row 1: name {MARK} đền cũ: the feature was changed since the file was made (version 1 in the file, 2 now)" \
        in result.output, result.output
    assert marked(engine, "relics", "description, festival") == [("Mô tả của đồng nghiệp", None)]


def test_a_row_the_file_repeats_changes_nothing_when_it_changes_nothing(flask_import, engine, tmp_path, app):
    """Its copy refused as a repeated key, the row itself holds what is stored: no empty new version."""
    path = tmp_path / "vung.geojson"
    with engine.begin() as c:
        c.execute(text("INSERT INTO farming_zones (name, crop, geom) VALUES (:n, 'rice', "
                       "ST_Multi(ST_MakeEnvelope(106.2, 20.3, 106.201, 20.301, 4326)))"), {"n": f"{MARK} lặp"})
    with app.app_context():
        assert app.test_cli_runner().invoke(args=["export", "farming_zones", str(path), "--filter", f"q={MARK}"]).exit_code == 0
    frame = pyogrio.read_dataframe(path)
    write(pd.concat([frame, frame]), tmp_path / "lap.geojson")
    dry = flask_import("farming_zones", tmp_path / "lap.geojson", "--key", "id", "--skip-invalid", "--dry-run")
    assert "(add 0, update 0, unchanged 1), rejected 1" in dry.output, dry.output
    result = flask_import("farming_zones", tmp_path / "lap.geojson", "--key", "id", "--skip-invalid")
    assert "inserted 0, updated 0, unchanged 1, rejected 1" in result.output, result.output
    assert marked(engine, "farming_zones", "version") == [(1,)]


def test_a_shapefile_edit_of_the_english_description_comes_back(flask_import, engine, tmp_path, app):
    """A shapefile names description_en "descript_1" (after "descriptio"): an edit there is not lost."""
    with engine.begin() as c:
        c.execute(text("INSERT INTO craft_villages (name, craft, description, description_en, geom) VALUES "
                       "(:n, 'salt', 'Làng muối', 'Salt village', ST_SetSRID(ST_MakePoint(106.17, 20.42), 4326))"),
                  {"n": f"{MARK} hai thứ tiếng"})
    shp = export_marked(app, "craft_villages", tmp_path / "lang.zip")
    frame = pyogrio.read_dataframe(f"/vsizip/{shp}")
    assert {"descriptio", "descript_1"} <= set(frame.columns)
    frame["descript_1"] = "A salt-making village"
    edited = write(frame, tmp_path / "craft_villages.shp", encoding="UTF-8")
    result = flask_import("craft_villages", edited, "--key", "id")
    assert result.exit_code == 0 and "updated 1" in result.output, result.output
    assert marked(engine, "craft_villages", "description, description_en") == [("Làng muối", "A salt-making village")]


def test_an_import_that_changes_nothing_is_not_logged(flask_import, engine, tmp_path, app):
    path = exported_villages(engine, app, tmp_path, [("y nguyên", "salt", 1, None)])
    result = flask_import("craft_villages", path, "--key", "id")
    assert result.exit_code == 0, result.output
    assert "note: no row changed anything: nothing was written" in result.output and "undo with" not in result.output
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM imports WHERE file_name = 'xuat.gpkg' AND at > now() - interval '1 minute'"
                              )).scalar_one() == 0


def test_a_file_undone_can_be_sent_again(flask_import, engine, tmp_path, app):
    """Undo, fix, import again: the features hold again what the file was made from (a restore gave them a new
    version), so the file is not taken for a stale copy."""
    path = exported_villages(engine, app, tmp_path, [("làm lại", "salt", 1, None)])
    frame = pyogrio.read_dataframe(path)
    frame["households"] = 40
    edited = write(frame, tmp_path / "sua.gpkg", layer="craft_villages")
    first = flask_import("craft_villages", edited, "--key", "id")
    import_id = next(line for line in first.output.splitlines() if "undo with" in line).split()[-1]
    runner = app.test_cli_runner()
    with app.app_context():
        assert runner.invoke(args=["undo-import", import_id]).exit_code == 0
    assert marked(engine, "craft_villages", "households, version") == [(1, 3)]
    again = flask_import("craft_villages", edited, "--key", "id")
    assert again.exit_code == 0 and "updated 1" in again.output, again.output
    assert marked(engine, "craft_villages", "households") == [(40,)]


@pytest.mark.parametrize(("ids", "versions"), [(None, ["bản 2"]), ([4711], [7]), ([1], ["v2.1"])])
def test_id_and_version_columns_of_another_source_do_not_refuse_rows_by_name(flask_import, engine, tmp_path, ids,
                                                                              versions):
    """Only a row whose id names the very feature its key names is a copy whose version can be stale: an
    ArcGIS or OSM file has id and version columns of its own."""
    with engine.begin() as c:
        c.execute(text("INSERT INTO farming_zones (name, crop, geom) VALUES (:n, 'rice', "
                       "ST_Multi(ST_MakeEnvelope(106.2, 20.3, 106.201, 20.301, 4326)))"), {"n": f"{MARK} nguồn khác"})
        c.execute(text("UPDATE farming_zones SET season = 'Vụ mùa' WHERE name = :n"), {"n": f"{MARK} nguồn khác"})
    columns = {"version": versions} if ids is None else {"id": ids, "version": versions}
    path = write(zones([f"{MARK} nguồn khác"], ["Lúa"], owner=["HTX mới"], **columns), tmp_path / "khac.geojson")
    result = flask_import("farming_zones", path, "--key", "name")
    assert result.exit_code == 0 and "updated 1" in result.output, result.output
    assert marked(engine, "farming_zones", "owner") == [("HTX mới",)]


def test_an_id_column_mapped_by_another_name_still_guards_stale_copies(flask_import, engine, tmp_path, app):
    with engine.begin() as c:
        c.execute(text("INSERT INTO farming_zones (name, crop, geom) VALUES (:n, 'rice', "
                       "ST_Multi(ST_MakeEnvelope(106.2, 20.3, 106.201, 20.301, 4326)))"), {"n": f"{MARK} đổi tên cột"})
    path = tmp_path / "vung.gpkg"
    with app.app_context():
        assert app.test_cli_runner().invoke(args=["export", "farming_zones", str(path), "--filter", f"q={MARK}"]).exit_code == 0
    with engine.begin() as c:
        c.execute(text("UPDATE farming_zones SET owner = 'HTX đồng nghiệp' WHERE name = :n"), {"n": f"{MARK} đổi tên cột"})
    frame = pyogrio.read_dataframe(path).rename(columns={"id": "ma_dt"})
    frame["season"] = "Vụ chiêm"
    write(frame, tmp_path / "sua.gpkg")
    result = flask_import("farming_zones", tmp_path / "sua.gpkg", "--key", "id", "--map", "ma_dt=id")
    assert result.exit_code != 0 and "the feature was changed since the file was made" in result.output, result.output
    assert marked(engine, "farming_zones", "owner, season") == [("HTX đồng nghiệp", None)]


def test_a_long_text_shortened_in_a_geojson_is_an_edit_not_a_cut(flask_import, engine, tmp_path, app):
    """Only text of a shapefile's 251-254 bytes can be its cut; a description shortened by hand comes back."""
    long_text = "Làng nghề truyền thống " * 60
    with engine.begin() as c:
        c.execute(text("INSERT INTO craft_villages (name, craft, description, geom) "
                       "VALUES (:n, 'salt', :d, ST_SetSRID(ST_MakePoint(106.17, 20.42), 4326))"),
                  {"n": f"{MARK} mô tả dài", "d": long_text})
    path = tmp_path / "lang.geojson"
    export_marked(app, "craft_villages", path)
    frame = pyogrio.read_dataframe(path)
    frame["description"] = long_text[:900]
    write(frame, tmp_path / "ngan.geojson")
    result = flask_import("craft_villages", tmp_path / "ngan.geojson", "--key", "id")
    assert result.exit_code == 0 and "updated 1" in result.output and "cut at 254" not in result.output, result.output
    assert marked(engine, "craft_villages", "description") == [(long_text[:900].strip(),)]
