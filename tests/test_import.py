"""The importer end to end: real files of every format into PostGIS, checked and reported.

Files are written by the tests with pyogrio/GDAL (or by hand, as phones and
spreadsheets write them). Runs use the rolled-back `conn` unless a test needs
to see what was committed.
"""

from __future__ import annotations

import json
import math
import threading
import unicodedata
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
from pyproj import Geod
from shapely.geometry import LineString, MultiPoint, Point, Polygon
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

import layers.imports
from importers.run import ImportFailed, ImportOptions, run_import
from layers import REGISTRY
from layers.edit import geometry_shape_problem, lock_overlap_checks
from tests.importing import (
    MARK,
    SIDE,
    X0,
    Y0,
    count,
    do_import,
    history_count,
    point,
    reasons,
    remove_marked,
    snapshot,
    square,
    write,
    zones,
)

GEOD = Geod(ellps="WGS84")


def rows(conn, table: str, names, columns: str = "name") -> list:
    return conn.execute(
        text(f"SELECT {columns} FROM {table} WHERE name = ANY(:n) ORDER BY name"), {"n": list(names)}
    ).all()


def distance(conn, table: str, name: str, shape) -> float:
    """How far the stored shape of `name` is from `shape` (Hausdorff, degrees)."""
    return conn.execute(
        text(f"SELECT ST_HausdorffDistance(geom, ST_GeomFromText(:w, 4326)) FROM {table} WHERE name = :n"),
        {"w": shape.wkt, "n": name},
    ).scalar_one()


def coords(conn, table: str, name: str) -> list[float]:
    return list(conn.execute(text(f"SELECT ST_X(geom), ST_Y(geom) FROM {table} WHERE name = :n"), {"n": name}).one())


# --- formats --------------------------------------------------------------------------


def test_geojson_keeps_vietnamese_names(conn, tmp_path):
    names = ["Vùng lúa chất lượng cao Nam Lợi", "Cánh đồng mẫu lớn Đồng Sơn"]
    path = write(zones(names, ["Lúa", "Rau màu"], season=["Vụ xuân", "Vụ đông"]), tmp_path / "vung.geojson")
    before = count(conn, "farming_zones")

    report = do_import(conn, "farming_zones", path)

    assert report.committed and report.rejected == []
    assert (report.rows_read, report.inserted, report.would_load) == (2, 2, 2)
    assert count(conn, "farming_zones") == before + 2
    assert rows(conn, "farming_zones", names, "name, crop, season") == [
        ("Cánh đồng mẫu lớn Đồng Sơn", "vegetables", "Vụ đông"),
        ("Vùng lúa chất lượng cao Nam Lợi", "rice", "Vụ xuân"),
    ]
    # The shape arrives as drawn, as a multipolygon.
    kind, distance = conn.execute(
        text("SELECT GeometryType(geom), ST_HausdorffDistance(geom, ST_GeomFromText(:w, 4326)) FROM farming_zones WHERE name = :n"),
        {"w": square(0).wkt, "n": names[0]},
    ).one()
    assert kind == "MULTIPOLYGON" and distance < 1e-9


def test_shapefile_with_prj_and_cpg(conn, tmp_path):
    names = ["Vùng lúa Nam Hồng", "Vùng rau Nam Thắng", "Vùng hoa Điền Xá"]
    gdf = gpd.GeoDataFrame(
        {"TEN_VUNG": names, "CAY_TRONG": ["lúa", "rau màu", "Hoa, cây cảnh"], "MUA_VU": ["Vụ mùa", "", "Tết"]},
        geometry=[square(i) for i in range(3)],
        crs=4326,
    )
    path = write(gdf, tmp_path / "vung_san_xuat.shp", encoding="UTF-8")
    assert path.with_suffix(".prj").exists() and path.with_suffix(".cpg").exists()

    report = do_import(conn, "farming_zones", path)

    assert report.rejected == [] and report.inserted == 3
    assert report.mapping == {"TEN_VUNG": "name", "CAY_TRONG": "crop", "MUA_VU": "season"}
    assert rows(conn, "farming_zones", names, "name, crop, season") == [
        ("Vùng hoa Điền Xá", "ornamental", "Tết"),
        ("Vùng lúa Nam Hồng", "rice", "Vụ mùa"),
        ("Vùng rau Nam Thắng", "vegetables", None),
    ]


def test_geopackage_layer_is_chosen(conn, tmp_path):
    path = tmp_path / "qgis.gpkg"
    write(zones(["Vùng lúa Nghĩa Hưng"], ["Lúa"]), path, layer="vung_lua")
    relics = gpd.GeoDataFrame(
        {"name": ["Chùa Phổ Minh", "Đền Trần"], "kind": ["Chùa", "Đền"], "rank": ["Quốc gia đặc biệt", "national"]},
        geometry=[point(0), point(1)],
        crs=4326,
    )
    write(relics, path, layer="di_tich", append=False)
    assert sorted(name for name, _ in pyogrio.list_layers(path)) == ["di_tich", "vung_lua"]

    zones_report = do_import(conn, "farming_zones", path, source_layer="vung_lua")
    relics_report = do_import(conn, "relics", path, source_layer="di_tich")

    assert (zones_report.inserted, relics_report.inserted) == (1, 2)
    assert rows(conn, "relics", ["Chùa Phổ Minh", "Đền Trần"], "name, kind, rank") == [
        ("Chùa Phổ Minh", "pagoda", "special_national"),
        ("Đền Trần", "temple", "national"),
    ]
    assert coords(conn, "relics", "Đền Trần") == pytest.approx([point(1).x, point(1).y], abs=1e-9)

    with pytest.raises(ImportFailed, match="khong_co"):
        do_import(conn, "relics", path, source_layer="khong_co")


PHONE_KML = """<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2"><Document><name>Khảo sát thực địa</name>
{placemarks}
</Document></kml>"""
PLACEMARK = """<Placemark><name>{name}</name><description>{crop}</description>
<Polygon><outerBoundaryIs><LinearRing><coordinates>{coords}</coordinates></LinearRing></outerBoundaryIs></Polygon>
</Placemark>"""


def test_kml_from_a_phone_with_altitudes(conn, tmp_path):
    # Phones write altitudes ("lon,lat,0"); the layers are flat.
    marks = []
    for i, (name, crop) in enumerate([("Ruộng lúa thôn Đông", "Lúa"), ("Vườn rau thôn Tây", "Rau màu")]):
        ring = " ".join(f"{x},{y},0" for x, y in square(i).exterior.coords)
        marks.append(PLACEMARK.format(name=name, crop=crop, coords=ring))
    path = tmp_path / "khao_sat.kml"
    path.write_text(PHONE_KML.format(placemarks="\n".join(marks)), encoding="utf-8")

    report = do_import(conn, "farming_zones", path, mapping={"Description": "crop"})

    assert report.rejected == [] and report.inserted == 2
    assert report.mapping == {"Name": "name", "Description": "crop"}
    assert rows(conn, "farming_zones", ["Ruộng lúa thôn Đông", "Vườn rau thôn Tây"], "name, crop, ST_NDims(geom)") == [
        ("Ruộng lúa thôn Đông", "rice", 2),
        ("Vườn rau thôn Tây", "vegetables", 2),
    ]


def test_csv_with_longitude_and_latitude_columns(conn, tmp_path):
    path = tmp_path / "di_tich.csv"
    path.write_text(
        "ten,loai_hinh,xep_hang,lon,lat\n"
        f"Chùa Cổ Lễ,Chùa,Quốc gia,{point(0).x},{point(0).y}\n"
        f"\"Đình Hành Thiện, Xuân Hồng\",Đình,Cấp tỉnh,{point(1).x},{point(1).y}\n",
        encoding="utf-8",
    )
    report = do_import(
        conn, "relics", path,
        mapping={"ten": "name", "loai_hinh": "kind", "xep_hang": "rank"},
        open_options={"X_POSSIBLE_NAMES": "lon", "Y_POSSIBLE_NAMES": "lat"},
    )
    assert report.rejected == [] and report.inserted == 2
    assert set(report.unknown_columns) == {"lon", "lat"}
    assert rows(conn, "relics", ["Chùa Cổ Lễ", "Đình Hành Thiện, Xuân Hồng"], "name, kind, rank") == [
        ("Chùa Cổ Lễ", "pagoda", "national"),
        ("Đình Hành Thiện, Xuân Hồng", "communal_house", "provincial"),
    ]
    assert coords(conn, "relics", "Chùa Cổ Lễ") == pytest.approx([point(0).x, point(0).y], abs=1e-9)


def test_csv_rows_with_unreadable_coordinates_say_the_shape_is_missing(conn, tmp_path):
    """Degrees written as 106°10'56"E, a missing latitude, "NaN": the row has no shape, and is told why."""
    path = tmp_path / "dms.csv"
    path.write_text(
        "ten,loai_hinh,xep_hang,lon,lat\n"
        f"Chùa Một,Chùa,Quốc gia,{point(0).x},{point(0).y}\n"
        "Chùa Hai,Chùa,Quốc gia,\"106°10'56\"\"E\",\"20°26'12\"\"N\"\n"
        f"Chùa Ba,Chùa,Quốc gia,{point(2).x},\n"
        "Chùa Bốn,Chùa,Quốc gia,NaN,NaN\n",
        encoding="utf-8",
    )
    report = do_import(conn, "relics", path, mapping={"ten": "name", "loai_hinh": "kind", "xep_hang": "rank"},
                       open_options={"X_POSSIBLE_NAMES": "lon", "Y_POSSIBLE_NAMES": "lat"}, dry_run=True)
    missing = "geometry: is missing: no coordinates, or ones that are no numbers"
    assert reasons(report) == {2: missing, 3: missing, 4: missing}


def test_a_list_where_a_value_belongs_is_refused_quoting_it(conn, tmp_path):
    """GeoJSON lists: the column is the file's like any other, and a list is no crop."""
    from importers.run import import_file

    path = tmp_path / "danh_sach.geojson"
    ring = json.dumps([list(c) for c in square(0).exterior.coords])
    path.write_text('{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": '
                    '{"name": "Vùng danh sách", "crop": ["rice"], "tags": ["a", "b"]}, '
                    f'"geometry": {{"type": "Polygon", "coordinates": [{ring}]}}}}]}}', encoding="utf-8")
    report = import_file(conn, REGISTRY["farming_zones"], path, ImportOptions(dry_run=True, username="tester"), tmp_path)
    assert reasons(report) == {1: "crop: unknown value '[ \"rice\" ]'"}
    assert report.unknown_columns == ["tags"]


def test_a_sheet_with_a_title_above_its_header_is_read_from_the_header(conn, tmp_path):
    """Official tables open with a merged title row (and a blank one): the header is found below it, and
    the rows are numbered from the first under it."""
    import openpyxl

    from importers.run import import_file

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Làng nghề"
    sheet.append(["DANH SÁCH LÀNG NGHỀ TỈNH NAM ĐỊNH NĂM 2024"])
    sheet.merge_cells("A1:E1")
    sheet.append([])
    sheet.append(["Tên làng nghề", "Nghề", "Số hộ làm nghề", "Kinh độ", "Vĩ độ"])
    sheet.append(["Làng muối Bảng Tính", "Làm muối", 120, point(0).x, point(0).y])
    sheet.append(["Làng nghề Thiếu hộ", "Làm muối", "nhiều", point(1).x, point(1).y])
    path = tmp_path / "lang_nghe.xlsx"
    book.save(path)
    report = import_file(conn, REGISTRY["craft_villages"], path, ImportOptions(skip_invalid=True, username="t"), tmp_path / "w")
    assert "Sheet Làng nghề: its header is row 3; the rows above it were left out." in report.notes
    assert "rows are counted from the first under the header: row 1 is the spreadsheet's row 4" in report.notes
    assert report.mapping == {"Tên làng nghề": "name", "Nghề": "craft", "Số hộ làm nghề": "households"}
    assert (report.rows_read, report.inserted, reasons(report)) == (
        2, 1, {2: "households: must be a whole number (the file holds 'nhiều')"})
    row = conn.execute(text("SELECT craft, households, ST_X(geom) FROM craft_villages WHERE name = 'Làng muối Bảng Tính'")).one()
    assert (row.craft, row.households, round(row[2], 6)) == ("salt", 120, round(point(0).x, 6))


@pytest.mark.parametrize("title", [False, True])
def test_a_sheet_naming_two_columns_alike_is_refused(conn, tmp_path, title):
    import openpyxl

    from importers.run import import_file

    book = openpyxl.Workbook()
    if title:
        book.active.append(["DANH SÁCH DI TÍCH"])
    book.active.append(["Tên di tích", "Loại hình", "Xếp hạng", "Kinh độ", "Vĩ độ", "Tên di tích"])
    book.active.append(["Đền Đôi Tên", "Đền", "Quốc gia", point(0).x, point(0).y, "Đền khác"])
    path = tmp_path / "trung_cot.xlsx"
    book.save(path)
    with pytest.raises(ImportFailed, match="more than one column named 'Tên di tích'"):
        import_file(conn, REGISTRY["relics"], path, ImportOptions(username="t"), tmp_path / "w")


def test_an_empty_flag_is_no_answer_not_a_wrong_one(conn, tmp_path):
    """A CSV export of a zone whose illustrative flag is unset writes an empty cell: read as unset."""
    path = tmp_path / "co.csv"
    path.write_text(f"name,crop,illustrative,wkt\nVùng cờ trống,Lúa,,\"{square(0).wkt}\"\n", encoding="utf-8")
    report = do_import(conn, "farming_zones", path, open_options={"GEOM_POSSIBLE_NAMES": "wkt"})
    assert report.rejected == [] and report.inserted == 1


def test_a_file_without_features_says_so(conn, tmp_path):
    path = tmp_path / "rong.geojson"
    path.write_text('{"type": "FeatureCollection", "features": []}', encoding="utf-8")
    with pytest.raises(ImportFailed, match="rong.geojson holds no features"):
        do_import(conn, "farming_zones", path)


def test_csv_with_a_wkt_column(conn, tmp_path):
    path = tmp_path / "vung.csv"
    path.write_text(
        "Tên vùng,Cây trồng,wkt\n"
        f"Vùng muối Bạch Long,Muối,\"{square(0).wkt}\"\n"
        f"Vùng lúa giống Hải Hậu,Lúa giống,\"{square(1).wkt}\"\n",
        encoding="utf-8",
    )
    report = do_import(conn, "farming_zones", path, open_options={"GEOM_POSSIBLE_NAMES": "wkt"})
    assert report.rejected == [] and report.inserted == 2
    assert rows(conn, "farming_zones", ["Vùng muối Bạch Long", "Vùng lúa giống Hải Hậu"], "name, crop") == [
        ("Vùng lúa giống Hải Hậu", "rice_seed"),
        ("Vùng muối Bạch Long", "salt"),
    ]
    assert distance(conn, "farming_zones", "Vùng lúa giống Hải Hậu", square(1)) < 1e-9
    assert report.unknown_columns == ["wkt"]


def test_xlsx_with_longitude_and_latitude_columns(conn, tmp_path):
    assert "XLSX" in pyogrio.list_drivers()
    path = tmp_path / "lang_nghe.xlsx"
    frame = pd.DataFrame(
        {
            "Tên làng nghề": ["Làng sơn mài thử nghiệm Cát Đằng", "Làng rèn thử nghiệm Vân Chàng"],
            "Nghề": ["Sơn mài", "Cơ khí, rèn, đúc"],
            "Số hộ làm nghề": [120, 300],
            "kinh_do": [point(0).x, point(1).x],
            "vi_do": [point(0).y, point(1).y],
        }
    )
    pyogrio.write_dataframe(frame, path, driver="XLSX")

    # GDAL reads spreadsheets without geometry: the importer builds points from the named columns.
    report = do_import(conn, "craft_villages", path, table_geometry={"x": "kinh_do", "y": "vi_do"})
    assert report.rejected == [] and report.inserted == 2
    assert rows(conn, "craft_villages", ["Làng sơn mài thử nghiệm Cát Đằng", "Làng rèn thử nghiệm Vân Chàng"], "name, craft, households") == [
        ("Làng rèn thử nghiệm Vân Chàng", "metalwork", 300),
        ("Làng sơn mài thử nghiệm Cát Đằng", "lacquer", 120),
    ]
    assert coords(conn, "craft_villages", "Làng rèn thử nghiệm Vân Chàng") == pytest.approx([point(1).x, point(1).y], abs=1e-9)


@pytest.mark.parametrize(
    "name, content",
    [
        ("empty.geojson", b""),
        ("notes.geojson", "Biên bản họp thôn, không phải bản đồ.\n".encode()),
        ("broken.gpkg", b"SQLite format 3\x00" + b"\x00" * 200),
    ],
    ids=["empty", "text", "broken-gpkg"],
)
@pytest.mark.filterwarnings("ignore:GPKG. bad application_id")
def test_unreadable_files_are_refused_clearly(conn, tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    before = snapshot(conn)
    with pytest.raises(ImportFailed, match=f"cannot read {name}"):
        do_import(conn, "farming_zones", path)
    assert snapshot(conn) == before


# --- mapping --------------------------------------------------------------------------


def test_a_column_whose_words_are_a_list_field_s_values_is_suggested_for_it():
    from importers.mapping import suggest_by_values, suggest_mapping

    mapping = suggest_mapping(REGISTRY["farming_zones"], ["name", "LOAI_CAY", "GHI_CHU"])
    records = [{"LOAI_CAY": crop, "GHI_CHU": note} for crop, note in
               [("Lúa", "Lúa tốt"), ("Rau màu", "ven sông"), ("Lúa nếp", "Lúa"), ("Muối", "gần biển"), ("lua", None)]]
    suggest_by_values(REGISTRY["farming_zones"], mapping, records)
    # 4 of its 5 words are crops ("Lúa nếp" is no label): suggested; the notes (1 in 4) are not.
    assert mapping.columns == {"name": "name", "LOAI_CAY": "crop"} and mapping.unknown == ["GHI_CHU"]
    assert "crop" not in mapping.missing_required(REGISTRY["farming_zones"])


@pytest.mark.parametrize("column", ["Tên", "TEN", "ten"])
def test_a_column_headed_only_name_fills_the_name(column):
    from importers.mapping import suggest_mapping

    mapping = suggest_mapping(REGISTRY["relics"], [column, "Loại hình", "Xếp hạng"])
    assert mapping.columns == {column: "name", "Loại hình": "kind", "Xếp hạng": "rank"} and not mapping.missing_required(REGISTRY["relics"])


def test_columns_match_by_label_ignoring_case_and_diacritics(conn, tmp_path):
    gdf = gpd.GeoDataFrame(
        {
            "TÊN VÙNG": ["Vùng lúa Trực Ninh"],
            "cay_trong": ["Lúa"],
            "Trạng Thái": ["Đang sản xuất"],
            "chung-nhan": ["VietGAP"],
            "Hop tac xa/chu so huu": ["HTX Trực Đạo"],
            "Ghi chú khác": ["bỏ qua"],
        },
        geometry=[square(0)],
        crs=4326,
    )
    report = do_import(conn, "farming_zones", write(gdf, tmp_path / "nhan.geojson"))
    assert report.mapping == {
        "TÊN VÙNG": "name",
        "cay_trong": "crop",
        "Trạng Thái": "status",
        "chung-nhan": "certification",
        "Hop tac xa/chu so huu": "owner",
    }
    assert report.unknown_columns == ["Ghi chú khác"]
    assert rows(conn, "farming_zones", ["Vùng lúa Trực Ninh"], "crop, status, certification, owner") == [
        ("rice", "active", "vietgap", "HTX Trực Đạo")
    ]


def test_label_and_name_columns_both_match(conn, tmp_path):
    gdf = gpd.GeoDataFrame({"Cây trồng": ["rice"], "CAY_TRONG": ["salt"], "Name": ["Vùng hai cột"]}, geometry=[square(0)], crs=4326)
    report = do_import(conn, "farming_zones", write(gdf, tmp_path / "hai_cot.geojson"))
    # One column per field: the first that matches wins, the other is reported, not merged.
    assert report.mapping == {"Cây trồng": "crop", "Name": "name"}
    assert report.unknown_columns == ["CAY_TRONG"]
    assert rows(conn, "farming_zones", ["Vùng hai cột"], "crop") == [("rice",)]


def test_map_overrides_the_suggestion(conn, tmp_path):
    gdf = gpd.GeoDataFrame(
        {"ten": ["Vùng A"], "name": ["Area A"], "loai": ["lúa"], "crop": ["salt"], "status": ["planned"]},
        geometry=[square(0)],
        crs=4326,
    )
    path = write(gdf, tmp_path / "map.geojson")
    report = do_import(
        conn, "farming_zones", path,
        mapping={"ten": "name", "name": "name_en", "loai": "crop", "crop": "", "status": ""},
    )
    assert report.mapping == {"ten": "name", "name": "name_en", "loai": "crop"}
    assert report.unknown_columns == []
    assert rows(conn, "farming_zones", ["Vùng A"], "name_en, crop, status") == [("Area A", "rice", None)]

    with pytest.raises(ImportFailed, match="khong_co"):
        do_import(conn, "farming_zones", path, mapping={"khong_co": "name"})
    with pytest.raises(ImportFailed, match="area_ha"):
        do_import(conn, "farming_zones", path, mapping={"loai": "area_ha"})


def test_enum_values_by_value_and_label(conn, tmp_path):
    crops = ["Lúa", "lua", "rice", "LÚA", "Rice", "Lúa giống", "rice_seed", "rice seed", "Cây ăn quả", "cay an qua",
             "hoa cay canh", "Hoa cây cảnh"]
    names = [f"Vùng {i}" for i in range(len(crops))]
    gdf = gpd.GeoDataFrame({"name": names, "crop": crops}, geometry=[square(i % 5, i // 5) for i in range(len(crops))], crs=4326)
    report = do_import(conn, "farming_zones", write(gdf, tmp_path / "enum.geojson"))
    assert report.rejected == []
    got = dict(rows(conn, "farming_zones", names, "name, crop"))
    assert [got[n] for n in names] == ["rice"] * 5 + ["rice_seed"] * 3 + ["fruit"] * 2 + ["ornamental"] * 2


def test_unknown_enum_value_rejects_the_row_naming_field_and_value(conn, tmp_path):
    gdf = zones(["Vùng lúa", "Vùng ngô", "Vùng muối"], ["Lúa", "Ngô", "Muối"], status=["active", "đang làm", None])
    report = do_import(conn, "farming_zones", write(gdf, tmp_path / "ngo.geojson"), skip_invalid=True)
    assert reasons(report) == {2: "crop: unknown value 'Ngô'; status: unknown value 'đang làm'"}
    assert report.inserted == 2
    assert rows(conn, "farming_zones", ["Vùng lúa", "Vùng ngô", "Vùng muối"], "name, crop, status") == [
        ("Vùng lúa", "rice", "active"),
        ("Vùng muối", "salt", None),
    ]


def test_required_field_missing_fails_naming_it(conn, tmp_path):
    gdf = gpd.GeoDataFrame({"name": ["Ao tôm"], "species": ["Tôm"]}, geometry=[square(0)], crs=4326)
    before = snapshot(conn)
    with pytest.raises(ImportFailed) as failure:
        do_import(conn, "aquaculture_areas", write(gdf, tmp_path / "thieu.geojson"))
    assert "water_type" in str(failure.value) and "species" not in str(failure.value)
    assert snapshot(conn) == before


def test_required_value_empty_rejects_the_row(conn, tmp_path):
    gdf = zones(["Vùng có cây", ""], ["Lúa", "Muối"])
    gdf.loc[0, "crop"] = None
    report = do_import(conn, "farming_zones", write(gdf, tmp_path / "rong.geojson"))
    assert set(reasons(report)) == {1, 2}
    assert "crop" in reasons(report)[1] and "name" in reasons(report)[2]
    assert not report.committed


# --- dry run, all or nothing, checks ---------------------------------------------------


def three_zones_one_bad(tmp_path) -> Path:
    return write(zones(["Vùng một", "Vùng hai", "Vùng ba"], ["Lúa", "khoai mì", "Muối"]), tmp_path / "ba.geojson")


def test_dry_run_writes_nothing_and_reports(conn, tmp_path):
    path = three_zones_one_bad(tmp_path)
    before = snapshot(conn)

    report = do_import(conn, "farming_zones", path, dry_run=True)

    assert snapshot(conn) == before
    assert report.dry_run and not report.committed
    assert (report.rows_read, report.would_load, report.inserted) == (3, 2, 0)
    assert reasons(report) == {2: "crop: unknown value 'khoai mì'"}
    # Without the bad row, a dry run still writes nothing.
    good = write(zones(["Vùng một"], ["Lúa"]), tmp_path / "mot.geojson")
    report = do_import(conn, "farming_zones", good, dry_run=True)
    assert (report.rows_read, report.would_load, report.rejected) == (1, 1, [])
    assert snapshot(conn) == before


def test_a_rejected_row_loads_nothing_by_default(conn, tmp_path):
    path = three_zones_one_bad(tmp_path)
    before = snapshot(conn)
    report = do_import(conn, "farming_zones", path)
    assert not report.committed and report.inserted == 0
    assert list(reasons(report)) == [2]
    assert snapshot(conn) == before


def test_skip_invalid_loads_the_rest(conn, tmp_path):
    path = three_zones_one_bad(tmp_path)
    before = count(conn, "farming_zones")
    report = do_import(conn, "farming_zones", path, skip_invalid=True)
    assert report.committed and report.inserted == 2 and list(reasons(report)) == [2]
    assert count(conn, "farming_zones") == before + 2
    assert rows(conn, "farming_zones", ["Vùng một", "Vùng hai", "Vùng ba"]) == [("Vùng ba",), ("Vùng một",)]


def bowtie(x: float, y: float, s: float = SIDE) -> Polygon:
    return Polygon([(x, y), (x + s, y + s), (x + s, y), (x, y + s)])


def test_self_intersecting_polygon_is_rejected_with_its_location(conn, tmp_path):
    shape = bowtie(X0, Y0)
    assert not shape.is_valid
    gdf = gpd.GeoDataFrame({"name": ["Vùng chéo", "Vùng vuông"], "crop": ["Lúa", "Lúa"]}, geometry=[shape, square(3)], crs=4326)
    before = snapshot(conn)

    report = do_import(conn, "farming_zones", write(gdf, tmp_path / "cheo.geojson"))

    assert not report.committed and snapshot(conn) == before
    [rejected] = report.rejected
    assert rejected["row"] == 1
    assert "Self-intersection" in rejected["reason"]
    assert rejected["location"] == pytest.approx([X0 + SIDE / 2, Y0 + SIDE / 2], abs=1e-7)


def test_repair_makes_the_shape_valid(conn, tmp_path):
    gdf = gpd.GeoDataFrame({"name": ["Vùng chéo"], "crop": ["Lúa"]}, geometry=[bowtie(X0, Y0)], crs=4326)
    report = do_import(conn, "farming_zones", write(gdf, tmp_path / "cheo.geojson"), repair=True)
    assert report.rejected == [] and report.inserted == 1
    assert any("repaired" in n for n in report.notes)
    valid, parts, area = conn.execute(
        text("SELECT ST_IsValid(geom), ST_NumGeometries(geom), ST_Area(geom) FROM farming_zones WHERE name = 'Vùng chéo'")
    ).one()
    assert valid and parts == 2
    assert area == pytest.approx(SIDE * SIDE / 2, rel=1e-6)  # two triangles: half the square


def test_aquaculture_overlaps_are_rejected(conn, tmp_path):
    existing_id, inside = conn.execute(
        text("SELECT id, ST_AsText(ST_Buffer(ST_PointOnSurface(geom), 0.0005)) FROM aquaculture_areas ORDER BY id LIMIT 1")
    ).one()
    from shapely import wkt

    gdf = gpd.GeoDataFrame(
        {
            "name": ["Ao chồng vùng cũ", "Ao mới", "Ao chồng ao mới", "Ao riêng"],
            "species": ["Tôm", "Cá", "Cua", "Ngao"],
            "water_type": ["Nước lợ", "Nước ngọt", "Nước lợ", "Nước mặn"],
        },
        geometry=[wkt.loads(inside), square(0), square(0).buffer(0.001), square(4)],
        crs=4326,
    )
    before = snapshot(conn)
    report = do_import(conn, "aquaculture_areas", write(gdf, tmp_path / "ao.geojson"))
    assert reasons(report) == {
        1: f"geometry: overlaps feature(s) {existing_id}",
        3: "geometry: overlaps row 2 of the file",
    }
    assert not report.committed and snapshot(conn) == before

    report = do_import(conn, "aquaculture_areas", write(gdf, tmp_path / "ao.geojson"), skip_invalid=True)
    assert report.inserted == 2
    assert rows(conn, "aquaculture_areas", gdf["name"], "name, species, water_type") == [
        ("Ao mới", "fish", "fresh"),
        ("Ao riêng", "clam", "marine"),
    ]


def test_aquaculture_areas_that_only_touch_are_accepted(conn, tmp_path):
    x, y = X0 + 8 * SIDE, Y0
    gdf = gpd.GeoDataFrame(
        {"name": ["Ao bờ tây", "Ao bờ đông", "Ao trùm bờ"], "species": ["Tôm"] * 3, "water_type": ["Nước lợ"] * 3},
        geometry=[square(4), square(4).envelope.union(square(5)).envelope.difference(square(4)), square(4).buffer(0.0001)],
        crs=4326,
    )
    assert gdf.geometry[0].touches(gdf.geometry[1]) and (x, y) == tuple(gdf.geometry[0].bounds[:2])
    report = do_import(conn, "aquaculture_areas", write(gdf, tmp_path / "bo.geojson"))
    assert reasons(report) == {3: "geometry: overlaps row 1 of the file"}


def test_an_invalid_shape_refused_for_another_rule_carries_no_location(conn, tmp_path):
    bow_tie = Polygon([(X0, Y0), (X0 + SIDE, Y0 + SIDE), (X0 + SIDE, Y0), (X0, Y0 + SIDE), (X0, Y0)])
    frame = zones(["Nơ nhiều đỉnh", "Nơ"], ["Lúa", "Lúa"])
    frame.loc[0, "geometry"] = bow_tie.segmentize(SIDE / 4)  # invalid, and over the vertex limit below
    frame.loc[1, "geometry"] = bow_tie
    report = do_import(conn, "farming_zones", write(frame, tmp_path / "no.geojson"), max_vertices=8, dry_run=True)
    first, second = report.rejected
    assert first["reason"].startswith("geometry: has ") and "location" not in first
    assert second["reason"].startswith("geometry: invalid: ") and len(second["location"]) == 2


def test_a_shape_of_the_wrong_type_is_refused_in_the_words_of_a_single_write(conn, tmp_path):
    frame = gpd.GeoDataFrame(
        {"name": ["Đường bờ", "Điểm"], "crop": ["Lúa", "Lúa"]},
        geometry=[LineString([(X0, Y0), (X0 + SIDE, Y0)]), Point(X0, Y0)], crs=4326,
    )
    report = do_import(conn, "farming_zones", write(frame, tmp_path / "sai.gpkg"), dry_run=True)
    layer = REGISTRY["farming_zones"]
    assert reasons(report) == {
        1: "geometry: " + geometry_shape_problem({"type": "LineString", "coordinates": []}, layer),
        2: "geometry: " + geometry_shape_problem({"type": "Point", "coordinates": []}, layer),
    }
    assert reasons(report)[1] == "geometry: type LineString not accepted here; expected Polygon or MultiPolygon"


def test_an_import_into_a_layer_refusing_overlaps_holds_the_writers_lock(conn, engine, tmp_path):
    """The lock single writes take: an API write cannot slip an overlapping shape in before the import commits."""
    layer = REGISTRY["aquaculture_areas"]

    def writer_may_start() -> bool:
        """Whether a single write's lock is free now, asked from another connection."""
        with engine.begin() as other:
            other.execute(text("SET LOCAL lock_timeout = '100ms'"))
            try:
                lock_overlap_checks(other, layer)
                return True
            except DBAPIError:
                return False

    assert writer_may_start()
    gdf = gpd.GeoDataFrame({"name": ["Ao khoá"], "species": ["Tôm"], "water_type": ["Nước lợ"]}, geometry=[square(8)], crs=4326)
    assert do_import(conn, "aquaculture_areas", write(gdf, tmp_path / "khoa.geojson")).inserted == 1
    assert not writer_may_start()


def test_a_row_refused_for_its_values_does_not_stand_in_the_way_of_others(conn, tmp_path):
    """With --skip-invalid, a refused row is not loaded: it neither overlaps later rows nor repeats their key."""
    gdf = gpd.GeoDataFrame(
        {
            "name": ["Ao hỏng", "Ao tốt", "Ao trùng tên"],
            "species": ["Cá voi", "Tôm", "Cá"],
            "water_type": ["Nước lợ", "Nước lợ", "Nước ngọt"],
        },
        geometry=[square(6), square(6).buffer(-0.0005), square(7)],
        crs=4326,
    )
    gdf.loc[2, "name"] = "Ao hỏng"  # the same key as the refused row 1
    report = do_import(conn, "aquaculture_areas", write(gdf, tmp_path / "hong.geojson"), skip_invalid=True, key="name")
    assert list(reasons(report)) == [1] and "species" in reasons(report)[1]
    assert report.inserted == 2


def test_reimport_by_key_updates_instead_of_duplicating(conn, tmp_path):
    first = zones(["Vùng A", "Vùng B"], ["Lúa", "Lúa"], status=["planned", "planned"])
    do_import(conn, "farming_zones", write(first, tmp_path / "v1.geojson"), username="lan")
    total = count(conn, "farming_zones")
    ids = dict(rows(conn, "farming_zones", ["Vùng A", "Vùng B"], "name, id"))

    second = zones(["Vùng A", "Vùng B", "Vùng C"], ["Rau màu", "Lúa", "Muối"], status=["active", "suspended", None])
    second.geometry = [square(0).buffer(0.0005, join_style="mitre"), square(1), square(2)]
    report = do_import(conn, "farming_zones", write(second, tmp_path / "v2.geojson"), key="name", username="minh")

    assert report.committed and (report.updated, report.inserted) == (2, 1)
    assert count(conn, "farming_zones") == total + 1
    assert rows(conn, "farming_zones", ["Vùng A", "Vùng B", "Vùng C"], "name, id, crop, status, version") == [
        ("Vùng A", ids["Vùng A"], "vegetables", "active", 2),
        ("Vùng B", ids["Vùng B"], "rice", "suspended", 2),
        ("Vùng C", rows(conn, "farming_zones", ["Vùng C"], "id")[0][0], "salt", None, 1),
    ]
    area = conn.execute(text("SELECT area_ha FROM farming_zones WHERE name = 'Vùng A'")).scalar_one()
    assert area == pytest.approx(abs(GEOD.geometry_area_perimeter(second.geometry[0])[0]) / 10_000, rel=1e-3)
    history = conn.execute(
        text("SELECT version, operation, username FROM feature_history WHERE layer = 'farming_zones' AND feature_id = :i ORDER BY version"),
        {"i": ids["Vùng A"]},
    ).all()
    assert history == [(1, "create", "lan"), (2, "update", "minh")]


def test_reimport_of_aquaculture_areas_by_key(conn, tmp_path):
    # An area re-imported by its key overlaps its own earlier version: that is the update, not a conflict.
    gdf = gpd.GeoDataFrame(
        {"name": ["Đầm tôm Giao Xuân"], "species": ["Tôm"], "water_type": ["Nước lợ"]}, geometry=[square(0)], crs=4326
    )
    path = write(gdf, tmp_path / "dam.geojson")
    assert do_import(conn, "aquaculture_areas", path).inserted == 1
    gdf["species"] = ["Nuôi ghép"]
    report = do_import(conn, "aquaculture_areas", write(gdf, path), key="name")
    assert report.rejected == [] and (report.updated, report.inserted) == (1, 0)
    assert rows(conn, "aquaculture_areas", ["Đầm tôm Giao Xuân"], "species, version") == [("mixed", 2)]


def test_duplicate_keys_in_a_file_are_rejected(conn, tmp_path):
    gdf = zones(["Vùng A", "Vùng B", "Vùng A"], ["Lúa", "Lúa", "Muối"])
    report = do_import(conn, "farming_zones", write(gdf, tmp_path / "trung.geojson"), key="name")
    assert reasons(report) == {3: "key Vùng A repeats row 1"}
    assert not report.committed

    with pytest.raises(ImportFailed, match="season"):
        do_import(conn, "farming_zones", tmp_path / "trung.geojson", key="season")


def test_every_imported_feature_has_history_with_the_user(conn, tmp_path):
    names = [f"Vùng lịch sử {i}" for i in range(4)]
    report = do_import(conn, "farming_zones", write(zones(names, ["Lúa"] * 4), tmp_path / "ls.geojson"), username="nguyen.van.an")
    assert report.inserted == 4
    history = conn.execute(
        text(
            "SELECT f.name, h.version, h.operation, h.username, h.properties->>'crop' FROM farming_zones f "
            "JOIN feature_history h ON h.layer = 'farming_zones' AND h.feature_id = f.id WHERE f.name = ANY(:n) ORDER BY f.name"
        ),
        {"n": names},
    ).all()
    assert history == [(n, 1, "create", "nguyen.van.an", "rice") for n in names]


def test_imported_history_holds_the_properties_an_edit_records(conn, tmp_path):
    """The bulk path turns row triggers off: its history must still be the layer's, whole."""
    do_import(conn, "farming_zones", write(zones(["Vùng so sánh"], ["Lúa"]), tmp_path / "ss.geojson"))
    # An ordinary write after the import, one row.
    conn.execute(text("UPDATE farming_zones SET owner = 'HTX thử' WHERE name = 'Vùng so sánh'"))
    created, updated = conn.execute(
        text(
            "SELECT h.properties FROM feature_history h JOIN farming_zones f ON h.layer = 'farming_zones' "
            "AND h.feature_id = f.id WHERE f.name = 'Vùng so sánh' ORDER BY h.version"
        )
    ).scalars().all()
    assert set(created) == set(updated) and "geom" not in created and "search_text" not in created
    changed = {"owner", "version", "updated_at"}
    assert {k: v for k, v in created.items() if k not in changed} == {k: v for k, v in updated.items() if k not in changed}
    assert (created["owner"], updated["owner"]) == (None, "HTX thử")


def test_area_and_place_are_derived(conn, tmp_path):
    report = do_import(conn, "farming_zones", write(zones(["Vùng đo diện tích"], ["Lúa"]), tmp_path / "dt.geojson"))
    assert report.inserted == 1
    area_ha, district, commune, commune_code = conn.execute(
        text("SELECT area_ha, district, commune, commune_code FROM farming_zones WHERE name = 'Vùng đo diện tích'")
    ).one()
    expected = abs(GEOD.geometry_area_perimeter(square(0))[0]) / 10_000
    assert area_ha == pytest.approx(expected, rel=1e-3)
    assert district == "Nam Trực"
    centre = square(0).centroid
    where = conn.execute(
        text("SELECT name, code FROM admin_units WHERE level = 'commune' AND ST_Contains(geom, ST_SetSRID(ST_Point(:x, :y), 4326))"),
        {"x": centre.x, "y": centre.y},
    ).one()
    assert (commune, commune_code) == tuple(where)


def test_batches_number_rows_through_the_file(conn, tmp_path):
    crops = ["Lúa"] * 7
    crops[5] = "sắn"
    names = [f"Vùng lô {i}" for i in range(7)]
    gdf = gpd.GeoDataFrame({"name": names, "crop": crops}, geometry=[square(i % 4, i // 4) for i in range(7)], crs=4326)
    seen = []
    report = do_import(conn, "farming_zones", write(gdf, tmp_path / "lo.geojson"), batch_size=3, skip_invalid=True)
    assert reasons(report) == {6: "crop: unknown value 'sắn'"}
    report = do_import(
        conn, "farming_zones", tmp_path / "lo.geojson", batch_size=3, dry_run=True,
    )
    assert report.rows_read == 7
    run_import(conn, REGISTRY["farming_zones"], tmp_path / "lo.geojson", ImportOptions(batch_size=3, dry_run=True), seen.append)
    assert sum(seen) == 7 and len(seen) == math.ceil(7 / 3)


# --- a failure half way ----------------------------------------------------------------


def test_a_failure_half_way_leaves_the_database_as_it_was(engine, tmp_path):
    names = [f"{MARK} lô {i}" for i in range(6)]
    gdf = gpd.GeoDataFrame({"name": names, "crop": ["Lúa"] * 6}, geometry=[square(i % 3, i // 3) for i in range(6)], crs=4326)
    path = write(gdf, tmp_path / "giua_chung.geojson")
    calls = []

    def progress(n: int) -> None:
        calls.append(n)
        if len(calls) == 2:
            raise RuntimeError("the disk is full")

    try:
        with engine.connect() as c:
            before = snapshot(c)
        with engine.connect() as c:
            outer = c.begin()
            with pytest.raises(RuntimeError, match="disk is full"):  # not retold as a reading error
                run_import(c, REGISTRY["farming_zones"], path, ImportOptions(batch_size=2, username="x"), progress)
            # The caller may go on and commit its own work: the import left nothing in it.
            outer.commit()
        with engine.connect() as c:
            assert snapshot(c) == before
            assert count(c, "farming_zones", "name LIKE :m", {"m": MARK + "%"}) == 0
            stage = c.execute(text("SELECT to_regclass('pg_temp.import_stage')")).scalar_one()
            assert stage is None
    finally:
        remove_marked(engine)



def test_two_keyed_imports_at_once_add_each_key_once(engine, tmp_path):
    names = [f"{MARK} lô {i}" for i in range(3)]
    path = write(zones(names, ["Lúa"] * 3), tmp_path / "hai_lan.geojson")
    reports = {}

    def second() -> None:
        with engine.begin() as c:
            reports["second"] = run_import(c, REGISTRY["farming_zones"], path, ImportOptions(key="name", username="y"))

    try:
        with engine.connect() as c:
            first = c.begin()
            reports["first"] = run_import(c, REGISTRY["farming_zones"], path, ImportOptions(key="name", username="x"))
            racer = threading.Thread(target=second)
            racer.start()
            racer.join(timeout=2)
            assert racer.is_alive()  # waits for the first import's commit
            first.commit()
        racer.join(timeout=30)
        assert (reports["first"].inserted, reports["second"].inserted, reports["second"].unchanged) == (3, 0, 3)
        with engine.connect() as c:
            assert count(c, "farming_zones", "name LIKE :m", {"m": MARK + "%"}) == 3
    finally:
        remove_marked(engine)


def test_a_database_error_after_updates_undoes_them(conn, tmp_path):
    first = zones(["Vùng A", "Vùng B"], ["Lúa", "Lúa"])
    do_import(conn, "farming_zones", write(first, tmp_path / "v1.geojson"))
    before = snapshot(conn)
    # The database refuses one new row, after the import has already updated A and B.
    conn.execute(text(
        "CREATE FUNCTION pg_temp.refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "IF NEW.name = 'Vùng hỏng' THEN RAISE EXCEPTION 'refused by the database'; END IF; RETURN NEW; END $$"
    ))
    conn.execute(text("CREATE TRIGGER zz_refuse BEFORE INSERT ON farming_zones FOR EACH ROW EXECUTE FUNCTION pg_temp.refuse()"))
    second = zones(["Vùng A", "Vùng B", "Vùng hỏng"], ["Muối", "Muối", "Muối"])

    with pytest.raises(DBAPIError, match="refused by the database"):
        do_import(conn, "farming_zones", write(second, tmp_path / "v2.geojson"), key="name")

    # The caller's transaction is intact and holds nothing of the failed import.
    assert snapshot(conn) == before
    assert rows(conn, "farming_zones", ["Vùng A", "Vùng B"], "crop, version") == [("rice", 1), ("rice", 1)]


def test_a_key_matching_several_features_is_refused(conn, tmp_path):
    do_import(conn, "farming_zones", write(zones(["Vùng đôi"], ["Lúa"]), tmp_path / "a.geojson"))
    second = zones(["Vùng đôi"], ["Lúa"])
    second.geometry = [square(3)]
    do_import(conn, "farming_zones", write(second, tmp_path / "b.geojson"))
    report = do_import(conn, "farming_zones", write(zones(["Vùng đôi"], ["Muối"]), tmp_path / "c.geojson"), key="name")
    assert reasons(report) == {1: "key Vùng đôi matches 2 features; it must name one"}
    assert not report.committed
    assert rows(conn, "farming_zones", ["Vùng đôi"], "crop") == [("rice",), ("rice",)]


def test_overlaps_in_a_layer_that_allows_them_are_noted(conn, tmp_path):
    do_import(conn, "farming_zones", write(zones(["Lúa mùa"], ["Lúa"]), tmp_path / "a.geojson"))
    report = do_import(conn, "farming_zones", write(zones(["Rau vụ đông"], ["Rau màu"]), tmp_path / "b.geojson"))
    assert report.committed and report.inserted == 1
    assert any("1 row(s) overlap other zones" in note for note in report.notes)


@pytest.fixture(params=["early", "split", "clustered"])
def overlap_scan(request, monkeypatch):
    """Overlaps found among the file's first rows, or (too few there) among the later rows that touch another."""
    early_rows = {"split": 3, "clustered": 1}.get(request.param)
    if early_rows:
        monkeypatch.setattr(layers.imports, "EARLY_ROWS", early_rows)
    return request.param


def test_a_late_row_overlapping_only_a_feature_of_the_layer_is_noted(conn, tmp_path, overlap_scan):
    do_import(conn, "farming_zones", write(zones(["Vùng cũ"], ["Lúa"]).set_geometry([square(10)]), tmp_path / "cu.geojson"))
    frame = zones(["Ô một", "Ô hai", "Ô ba", "Ô bốn"], ["Lúa"] * 4)
    frame.geometry = [square(0), square(2), square(4), square(10).buffer(-0.0001)]  # only the last overlaps, a feature
    report = do_import(conn, "farming_zones", write(frame, tmp_path / "moi.geojson"))
    assert report.committed and report.inserted == 4
    assert any(note.startswith("1 row(s) overlap other zones") and note.endswith("rows 4") for note in report.notes)


def test_overlaps_within_the_file_are_noted_by_row(conn, tmp_path, overlap_scan):
    frame = zones(["Ô một", "Ô hai", "Ô ba", "Ô bốn"], ["Lúa"] * 4)
    frame.loc[2, "geometry"] = square(0).buffer(-0.0001)  # inside row 1
    frame.loc[3, "geometry"] = square(1).union(square(0))  # over rows 1 and 2
    report = do_import(conn, "farming_zones", write(frame, tmp_path / "o.geojson"))
    assert report.committed and report.inserted == 4
    assert any(note.startswith("2 row(s) overlap other zones") and note.endswith("rows 3, 4") for note in report.notes)


def test_shapes_that_only_touch_are_not_noted(conn, tmp_path, overlap_scan):
    frame = zones(["Ô trái", "Ô phải", "Ô riêng"], ["Lúa"] * 3)
    frame.loc[1, "geometry"] = square(0).union(square(1)).envelope.difference(square(0))  # shares an edge with row 1
    report = do_import(conn, "farming_zones", write(frame, tmp_path / "t.geojson"))
    assert report.committed and report.inserted == 3
    assert not any("overlap" in note for note in report.notes)


def test_many_overlaps_are_noted_by_their_first_rows(conn, tmp_path, overlap_scan):
    frame = zones([f"Ô trùng {i}" for i in range(23)], ["Lúa"] * 23)
    frame["geometry"] = [square(5, 3).buffer(-0.00001 * i) for i in range(23)]  # each inside the one before
    report = do_import(conn, "farming_zones", write(frame, tmp_path / "many.geojson"))
    assert report.committed and report.inserted == 23
    expected = "more than 20 rows overlap other zones, which this layer allows; the first: rows "
    assert expected + ", ".join(str(r) for r in range(2, 22)) + ", ..." in report.notes


def test_a_legacy_csv_keeps_the_files_beside_it_and_loses_its_stale_note(conn, tmp_path):
    """Converted to UTF-8 in a folder of its own, a CSV keeps its .prj (here UTM 48N), and the upload's
    note "not UTF-8, save it as UTF-8" no longer applies."""
    from pyproj import CRS, Transformer

    from importers.encodings import encode_legacy
    from importers.run import import_file
    from importers.sources import CSV_NOT_UTF8

    to_utm = Transformer.from_crs(4326, 32648, always_xy=True)
    ring = [to_utm.transform(x, y) for x, y in square(0).exterior.coords]
    wkt = "POLYGON((" + ",".join(f"{x:.2f} {y:.2f}" for x, y in ring) + "))"
    text_csv = f'name,crop,wkt\nVùng Ấp Đông,Lúa,"{wkt}"\n'
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "vung.csv").write_bytes(encode_legacy(text_csv, "cp1258"))
    (tmp_path / "src" / "vung.prj").write_text(CRS.from_epsg(32648).to_wkt("WKT1_ESRI"))
    options = ImportOptions(encoding="cp1258", username="tester")
    report = import_file(conn, REGISTRY["farming_zones"], tmp_path / "src" / "vung.csv", options, tmp_path / "work")
    assert report.inserted == 1, report
    assert CSV_NOT_UTF8 not in report.notes
    where = conn.execute(
        text("SELECT ST_X(ST_Centroid(geom)), ST_Y(ST_Centroid(geom)), district FROM farming_zones WHERE name = 'Vùng Ấp Đông'")
    ).one()
    centre = square(0).centroid
    assert (round(where[0], 4), round(where[1], 4)) == (round(centre.x, 4), round(centre.y, 4)) and where.district


@pytest.mark.parametrize("name", ["UTF-8", "utf8", "Utf_8"])
def test_utf8_named_any_way_is_accepted_for_any_format(conn, tmp_path, name):
    from importers.run import import_file

    path = write(zones(["Vùng tên mã"], ["Lúa"]), tmp_path / "z.geojson")
    report = import_file(conn, REGISTRY["farming_zones"], path, ImportOptions(encoding=name, username="tester"), tmp_path / "w")
    assert report.inserted == 1


@pytest.mark.parametrize(("households", "loaded"), [("85", 85), (" 120 ", 120), ("1.000", None), ("12.345", None)])
def test_numbers_written_as_text_fill_number_fields_unless_ambiguous(households, loaded):
    """"1.000" is a thousand in Vietnamese writing and one elsewhere: left as text, so refused."""
    from importers.run import convert_value

    value, problem = convert_value(REGISTRY["craft_villages"].field("households"), households)
    assert (value, problem is None) == (loaded, loaded is not None)


@pytest.mark.parametrize("raw", [["Lúa", "Ngô"], {"cay": "Lúa"}])
def test_a_list_or_map_where_a_choice_belongs_is_an_unknown_value(raw):
    from importers.run import Unmatched, convert_column

    unmatched = Unmatched()
    values, problems = convert_column(REGISTRY["farming_zones"].field("crop"), [raw, "Lúa"], None, None, unmatched)
    assert values == [None, "rice"] and problems[0].startswith("unknown value") and 1 not in problems
    assert unmatched.commonest(5)[0]["rows"] == 1


def test_a_reimport_by_key_writes_only_the_file_s_columns_and_only_what_changes(conn, tmp_path):
    """Fields the file does not carry keep their values (a spreadsheet of names and crops must not
    empty the season and owner), and a feature the file would not change gets no new version."""
    names = ["Vùng giữ cột 1", "Vùng giữ cột 2", "Vùng giữ cột 3"]
    first = zones(names, ["Lúa", "Lúa", "Lúa"], season=["Vụ chiêm", "Vụ mùa", "Vụ đông"], owner=["HTX A", "HTX B", "HTX C"])
    assert do_import(conn, "farming_zones", write(first, tmp_path / "v1.geojson")).inserted == 3
    history_before = history_count(conn)

    second = zones(names, ["Lúa", "Rau màu", "Lúa"])  # only the second zone changes, and only its crop
    report = do_import(conn, "farming_zones", write(second, tmp_path / "v2.geojson"), key="name")
    assert (report.updated, report.inserted, report.unchanged) == (1, 0, 2)
    rows = conn.execute(text(
        "SELECT name, crop, season, owner, version FROM farming_zones WHERE name = ANY(:n) ORDER BY name"), {"n": names}).all()
    assert [tuple(r) for r in rows] == [
        ("Vùng giữ cột 1", "rice", "Vụ chiêm", "HTX A", 1),
        ("Vùng giữ cột 2", "vegetables", "Vụ mùa", "HTX B", 2),
        ("Vùng giữ cột 3", "rice", "Vụ đông", "HTX C", 1),
    ]
    assert history_count(conn) == history_before + 1


def test_a_row_rejected_for_two_reasons_is_one_entry_and_counted_once(conn, tmp_path):
    gdf = zones(["Vùng hai lỗi", "Vùng tốt"], ["Khoai tây", "Lúa"])
    x, y = X0 + 0.05, Y0
    gdf.loc[0, "geometry"] = Polygon([(x, y), (x + SIDE, y + SIDE), (x + SIDE, y), (x, y + SIDE)])  # a bow tie: a second reason
    report = do_import(conn, "farming_zones", write(gdf, tmp_path / "hai_loi.geojson"), skip_invalid=True)
    [entry] = report.rejected  # one entry a row, its reasons together
    assert entry["reason"] == "crop: unknown value 'Khoai tây'; geometry: invalid: Self-intersection" and "location" in entry
    assert report.rejected_rows == 1
    assert (report.would_load, report.inserted) == (1, 1)
    logged = conn.execute(text("SELECT rejected FROM imports WHERE id = :id"), {"id": report.import_id}).scalar_one()
    assert logged == 1


def test_two_reasons_without_a_place_give_no_empty_location():
    from importers.run import one_entry_a_row

    merged = one_entry_a_row([{"row": 4, "reason": "district: outside the districts you may edit"},
                              {"row": 4, "reason": "key 4 names a feature outside the districts you may edit"}])
    assert merged == [{"row": 4, "reason": "district: outside the districts you may edit; "
                                           "key 4 names a feature outside the districts you may edit"}]


def zones_csv(path: Path, rows: list[tuple[str, str]]) -> Path:
    """A CSV of rice zones: (name, WKT) each."""
    path.write_text("name,crop,wkt\n" + "".join(f'{name},Lúa,"{wkt}"\n' for name, wkt in rows), encoding="utf-8")
    return path


def test_a_curved_shape_is_refused_with_its_row_and_what_to_do(conn, tmp_path):
    """Shapely reads no arcs: the file is refused by name and row, with the way to straighten them."""
    x, y = X0, Y0
    path = zones_csv(tmp_path / "cong.csv", [
        ("Vùng thẳng", f"POLYGON(({x} {y},{x + 0.004} {y},{x + 0.004} {y + 0.004},{x} {y}))"),
        ("Vùng cong", f"CURVEPOLYGON(CIRCULARSTRING({x + 0.01} {y},{x + 0.012} {y + 0.002},{x + 0.014} {y},"
                      f"{x + 0.012} {y - 0.002},{x + 0.01} {y}))")])
    before = snapshot(conn)
    with pytest.raises(ImportFailed, match=r"^row 2 of cong\.csv holds a curved shape \(arcs\).*CONVERT_TO_LINEAR"):
        do_import(conn, "farming_zones", path)
    assert snapshot(conn) == before


def test_measures_are_dropped_like_heights(conn, tmp_path):
    x, y = X0, Y0
    path = zones_csv(tmp_path / "do_dac.csv", [
        ("Vùng đo M", f"POLYGON M (({x} {y} 1,{x + 0.004} {y} 2,{x + 0.004} {y + 0.004} 3,{x} {y} 1))"),
        ("Vùng đo ZM", f"POLYGON ZM (({x + 0.01} {y} 5 1,{x + 0.014} {y} 5 2,{x + 0.014} {y + 0.004} 5 3,{x + 0.01} {y} 5 1))")])
    report = do_import(conn, "farming_zones", path)
    assert report.inserted == 2, report.rejected
    shapes = conn.execute(text("SELECT ST_NDims(geom), ST_Zmflag(geom) FROM farming_zones WHERE name LIKE 'Vùng đo %'")).all()
    assert [tuple(r) for r in shapes] == [(2, 0), (2, 0)]


def test_a_file_with_two_columns_of_one_name_is_refused_clearly(conn, tmp_path):
    path = tmp_path / "trung_cot.csv"
    path.write_text(f"lon,lat,name,name,kind,rank\n{X0},{Y0},Đình A,Đình B,Đình,Quốc gia\n", encoding="utf-8")
    with pytest.raises(ImportFailed, match="more than one column named 'name'"):
        do_import(conn, "relics", path)


def test_two_columns_mapped_to_one_field_are_refused_and_the_user_s_pick_wins_over_a_name(conn, tmp_path):
    path = write(zones(["Vùng chọn cột"], ["Muối"], loai=["Lúa"]), tmp_path / "chon.geojson")
    with pytest.raises(ImportFailed, match="maps columns 'name' and 'crop' to the same field 'name'"):
        do_import(conn, "farming_zones", path, mapping={"name": "name", "crop": "name"})
    report = do_import(conn, "farming_zones", path, mapping={"loai": "crop"})  # not the column called crop
    assert report.inserted == 1 and report.mapping == {"name": "name", "loai": "crop"} and "crop" in report.unknown_columns
    assert conn.execute(text("SELECT crop FROM farming_zones WHERE name = 'Vùng chọn cột'")).scalar_one() == "rice"


def test_whole_numbers_in_a_column_of_fractions_are_whole(conn, tmp_path):
    """GDAL types a column holding 2.5 as real: 5.0 and 7.0 are still whole numbers of households."""
    path = tmp_path / "ho.csv"
    rows = "".join(f"POINT({106.17 + i * 0.003} 20.42),Làng hộ {i},Làm muối,{n}\n" for i, n in enumerate(["5", "7", "2.5"]))
    path.write_text("wkt,name,craft,households\n" + rows, encoding="utf-8")
    report = do_import(conn, "craft_villages", path, skip_invalid=True)
    assert report.inserted == 2 and reasons(report) == {3: "households: must be a whole number (the file holds '2.5')"}
    households = conn.execute(text("SELECT households FROM craft_villages WHERE name LIKE 'Làng hộ %' ORDER BY name")).scalars()
    assert list(households) == [5, 7]


@pytest.mark.parametrize("dry_run", [True, False])
def test_rows_in_no_district_are_noted(conn, tmp_path, dry_run):
    """A place inside the working area but beyond the province (Thái Bình, across the Trà Lý) gets no
    district: loaded, but said, in a dry run too."""
    path = tmp_path / "ngoai_tinh.csv"
    path.write_text("wkt,name,craft\nPOINT(106.17 20.42),Làng trong tỉnh,Làm muối\n"
                    "POINT(106.3437 20.4486),Làng ngoài tỉnh,Làm muối\n", encoding="utf-8")
    report = do_import(conn, "craft_villages", path, dry_run=dry_run)
    assert report.rejected == [] and report.would_load == 2
    assert ("1 row(s) lie in no district of the province (at sea, or beyond its border): they get no district "
            "or commune: rows 2") in report.notes
    if not dry_run:
        places = conn.execute(text("SELECT name, district IS NOT NULL FROM craft_villages WHERE name LIKE 'Làng % tỉnh' ORDER BY name"))
        assert [tuple(r) for r in places] == [("Làng ngoài tỉnh", False), ("Làng trong tỉnh", True)]


def test_a_key_naming_two_identical_features_is_refused_not_a_crash(conn, tmp_path):
    """Set aside as unchanged only where the key names one feature: two identical features of one name are
    the repeated-key check's business."""
    first = write(zones(["Vùng trùng tên", "Vùng trùng tên"], ["Lúa", "Lúa"]), tmp_path / "hai.geojson")
    assert do_import(conn, "farming_zones", first).inserted == 2
    gdf = zones(["Vùng trùng tên"], ["Lúa"])
    report = do_import(conn, "farming_zones", write(gdf, tmp_path / "mot.geojson"), key="name", dry_run=True)
    assert reasons(report) == {1: "key Vùng trùng tên matches 2 features; it must name one"}


def test_flags_written_as_text_or_numbers_are_read(conn, tmp_path):
    """KML, CSV and DBF have no boolean type: exports write 1 and 0, people write có and không."""
    path = tmp_path / "co_khong.csv"
    x, y = X0, Y0
    rows = [("Vùng cờ 1", "1"), ("Vùng cờ 2", "không"), ("Vùng cờ 3", "True")]
    path.write_text("name,crop,illustrative,wkt\n" + "".join(
        f'{name},Lúa,{flag},"POLYGON(({x + i * 0.01} {y},{x + i * 0.01 + 0.004} {y},{x + i * 0.01 + 0.004} {y + 0.004},'
        f'{x + i * 0.01} {y}))"\n' for i, (name, flag) in enumerate(rows)), encoding="utf-8")
    report = do_import(conn, "farming_zones", path)
    assert report.rejected == [] and report.inserted == 3
    flags = conn.execute(text("SELECT illustrative FROM farming_zones WHERE name LIKE 'Vùng cờ %' ORDER BY name")).scalars()
    assert list(flags) == [True, False, True]


def test_text_spelled_in_decomposed_letters_is_stored_composed_and_matches_its_key(conn, tmp_path):
    """A Mac or a web form may write "ộ" as o + two marks: stored as the usual one letter, so keys match."""
    name = "Vùng lúa Hải Hậu Độc Lập"
    do_import(conn, "farming_zones", write(zones([name], ["Lúa"]), tmp_path / "nfc.geojson"))
    decomposed = unicodedata.normalize("NFD", name)
    assert decomposed != name
    report = do_import(conn, "farming_zones", write(zones([decomposed], ["Lúa"]), tmp_path / "nfd.geojson"), key="name")
    assert (report.inserted, report.updated, report.unchanged) == (0, 0, 1)
    report = do_import(conn, "farming_zones", write(zones([decomposed], ["Lúa"]), tmp_path / "nfd.geojson"))
    assert report.inserted == 1
    stored = conn.execute(text("SELECT name FROM farming_zones WHERE name = :n OR name = :d"), {"n": name, "d": decomposed})
    assert list(stored.scalars()) == [name, name]  # both imports stored it composed


@pytest.mark.parametrize("shape", ['{"type": "GeometryCollection", "geometries": []}', '{"type": "Polygon", "coordinates": []}'])
def test_a_file_of_only_empty_shapes_says_so_row_by_row(conn, tmp_path, shape):
    """No bounds to judge: not taken for metres declared as degrees."""
    path = tmp_path / "rong.geojson"
    path.write_text('{"type": "FeatureCollection", "features": [{"type": "Feature", '
                    f'"properties": {{"name": "Vùng rỗng", "crop": "rice"}}, "geometry": {shape}}}]}}', encoding="utf-8")
    report = do_import(conn, "farming_zones", path, dry_run=True)
    assert reasons(report) == {1: "geometry: is empty"}


def test_multipoints_of_one_point_go_into_a_point_layer(conn, tmp_path):
    """QGIS writes point layers as MultiPoint; a multipoint of two points is still no point."""
    gdf = gpd.GeoDataFrame({"name": ["Đền một", "Đền hai"], "kind": ["temple", "temple"], "rank": ["provincial"] * 2},
                           geometry=[MultiPoint([point(0)]), MultiPoint([point(1), point(2)])], crs=4326)
    report = do_import(conn, "relics", write(gdf, tmp_path / "qgis.gpkg", layer="Di tích"), skip_invalid=True)
    assert report.inserted == 1 and list(reasons(report)) == [2]
    assert "expected Point" in reasons(report)[2]
    kind = conn.execute(text("SELECT GeometryType(geom) FROM relics WHERE name = 'Đền một'")).scalar_one()
    assert kind == "POINT"


def test_a_kml_point_stays_a_point_beside_a_multigeometry(conn, tmp_path):
    """GDAL would make every shape of the layer Multi when it meets one MultiGeometry: not so."""
    path = tmp_path / "google_earth.kml"
    path.write_text(
        '<kml xmlns="http://www.opengis.net/kml/2.2"><Document><Folder><name>Di tích</name>'
        '<Placemark><name>Đền Đơn</name><ExtendedData><Data name="kind"><value>temple</value></Data>'
        '<Data name="rank"><value>provincial</value></Data></ExtendedData>'
        "<Point><coordinates>106.17,20.42</coordinates></Point></Placemark>"
        '<Placemark><name>Đền Đôi</name><ExtendedData><Data name="kind"><value>temple</value></Data>'
        '<Data name="rank"><value>provincial</value></Data></ExtendedData>'
        "<MultiGeometry><Point><coordinates>106.171,20.42</coordinates></Point>"
        "<Point><coordinates>106.172,20.42</coordinates></Point></MultiGeometry></Placemark>"
        "</Folder></Document></kml>", encoding="utf-8")
    from importers.run import import_file

    report = import_file(conn, REGISTRY["relics"], path, ImportOptions(skip_invalid=True, username="tester"), tmp_path)
    assert report.inserted == 1 and list(reasons(report)) == [2]


def test_points_sent_again_are_noted_as_already_there(conn, tmp_path):
    path = tmp_path / "di_tich.csv"
    path.write_text("ten,loai_hinh,xep_hang,lon,lat\n"
                    f"Chùa Hai Lần,Chùa,Quốc gia,{point(0).x},{point(0).y}\n"
                    f"Chùa Khác,Chùa,Quốc gia,{point(1).x},{point(1).y}\n", encoding="utf-8")
    options = {"mapping": {"ten": "name", "loai_hinh": "kind", "xep_hang": "rank"},
               "open_options": {"X_POSSIBLE_NAMES": "lon", "Y_POSSIBLE_NAMES": "lat"}}
    first = do_import(conn, "relics", path, **options)
    assert not any("already is" in note for note in first.notes)
    conn.execute(text("UPDATE relics SET name = 'Chùa Đổi Tên' WHERE name = 'Chùa Khác'"))
    again = do_import(conn, "relics", path, dry_run=True, **options)
    assert ("1 row(s) lie where a feature of the same name already is: to update those instead of adding copies, "
            "import with --key name: rows 1") in again.notes
    path.write_text(path.read_text(encoding="utf-8").replace("ten,", "id,ten,").replace("\nChùa", "\n,Chùa"), encoding="utf-8")
    exported = do_import(conn, "relics", path, dry_run=True, **options)  # a file with an id column: by that
    assert any(note.endswith("import with --key id: rows 1") for note in exported.notes), exported.notes


def test_rows_without_a_key_are_noted_as_new_features(conn, tmp_path):
    path = write(zones(["Vùng có chủ", "Vùng không chủ", "Vùng chủ rỗng"], ["Lúa"] * 3, owner=["HTX A", None, ""]),
                 tmp_path / "chu.geojson")
    for _ in range(2):
        report = do_import(conn, "farming_zones", path, key="owner")
        assert "2 row(s) have no owner: each is added as a new feature: rows 2, 3" in report.notes
    assert (report.inserted, report.unchanged) == (2, 1)


def test_a_number_too_large_to_read_is_refused_where_text_belongs(conn, tmp_path):
    """GDAL reads 1e400 as infinity and stops a 30-digit whole number at 2**63 - 1: either would be stored
    as some other text than the file's."""
    path = tmp_path / "lon.geojson"
    ring = [list(c) for c in square(0).exterior.coords]
    features = [
        f'{{"type": "Feature", "properties": {props}, "geometry": {{"type": "Polygon", "coordinates": [{json.dumps(ring)}]}}}}'
        for props in ('{"name": 1e400, "crop": "rice"}', '{"name": 5, "crop": "rice", "owner": 123456789012345678901234567890}',
                      '{"name": 42, "crop": "rice", "owner": 7}')
    ]
    path.write_text('{"type": "FeatureCollection", "features": [' + ", ".join(features) + "]}", encoding="utf-8")
    report = do_import(conn, "farming_zones", path, skip_invalid=True)
    too_large = "is a number too large to be read exactly: write it as text (in quotes)"
    assert reasons(report) == {1: f"name: {too_large}", 2: f"owner: {too_large}"}
    assert report.inserted == 1


def test_a_number_with_a_dot_between_thousands_is_refused_with_its_text(conn, tmp_path):
    """"1.200" households is 1200 in Vietnamese writing and 1.2 elsewhere: refused, quoted, with what to do."""
    path = tmp_path / "nghin.csv"
    path.write_text("wkt,name,craft,households\nPOINT(106.17 20.42),Làng nghìn hộ,Làm muối,1.200\n"
                    "POINT(106.18 20.42),Làng trăm hộ,Làm muối,120\n", encoding="utf-8")
    report = do_import(conn, "craft_villages", path, skip_invalid=True)
    assert reasons(report) == {1: "households: '1.200' has a dot between thousands, so it reads as a thousand times more "
                                  "or less: write it without"}
    assert report.inserted == 1
