"""Uploaded files: every format read through GDAL, and every kind of bad upload refused.

The files are made here with pyogrio/zipfile so each test shows what it feeds
in. No database is needed.
"""

from __future__ import annotations

import os
import stat
import struct
import zipfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
from pyproj import CRS
from shapely.geometry import Point, Polygon

from importers.sources import (
    ImportFileError,
    Source,
    attach_geometry,
    detect_geometry_columns,
    open_layer,
    prepare_source,
    read_options,
)

NAMES = ["Đền Trần", "Chùa Phổ Minh", "Làng nghề Vị Xuyên"]
POINTS = [Point(106.1805, 20.4352), Point(106.1921, 20.4411), Point(106.1720, 20.4203)]


def squares() -> list[Polygon]:
    return [Polygon([(x, 20.4), (x + 0.01, 20.4), (x + 0.01, 20.41), (x, 20.41)]) for x in (106.1, 106.2, 106.3)]


def frame(geometry) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"name": NAMES, "households": [120, 45, 300]}, geometry=geometry, crs=4326)


def read(source: Source, layer: str | None = None):
    return pyogrio.read_dataframe(source.path, layer=open_layer(source, layer), **read_options(source, layer))


def zip_dir(folder: Path, target: Path, prefix: str = "") -> Path:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.iterdir()):
            archive.write(path, prefix + path.name)
    return target


@pytest.fixture()
def workdir(tmp_path):
    return tmp_path / "work"


@pytest.fixture()
def outside(tmp_path):
    """Fails the test if anything appears in tmp_path outside the inputs and workdir."""
    before = {p for p in tmp_path.rglob("*") if "work" not in p.relative_to(tmp_path).parts}
    yield
    after = {p for p in tmp_path.rglob("*") if "work" not in p.relative_to(tmp_path).parts}
    created = after - before
    assert all(p.relative_to(tmp_path).parts[0].startswith(("input", "upload")) for p in created), created
    assert not Path("/tmp/evil.txt").exists()


def expect_error(code: str, path: Path, workdir: Path, **limits) -> ImportFileError:
    with pytest.raises(ImportFileError) as caught:
        prepare_source(path, workdir, **limits)
    assert caught.value.code == code, caught.value
    # A refused upload leaves nothing behind, and the message names no server folder.
    assert not workdir.exists() or not any(workdir.iterdir())
    assert str(path.parent) not in caught.value.message
    return caught.value


# --- every format ------------------------------------------------------------------


def test_geojson_polygons(tmp_path, workdir):
    path = tmp_path / "zones.geojson"
    pyogrio.write_dataframe(frame(squares()), path, driver="GeoJSON")
    source = prepare_source(path, workdir)
    assert (source.format, source.layers, source.path) == ("GeoJSON", ["zones"], path)
    df = read(source)
    assert list(df["name"]) == NAMES
    assert df.geometry.geom_type.unique().tolist() == ["Polygon"]


def test_zipped_shapefile_with_prj_and_cpg(tmp_path, workdir, outside):
    folder = tmp_path / "input-shp"
    folder.mkdir()
    pyogrio.write_dataframe(frame(squares()).to_crs(9209), folder / "vung.shp", encoding="UTF-8")
    assert {p.suffix for p in folder.iterdir()} >= {".shp", ".shx", ".dbf", ".prj", ".cpg"}
    upload = zip_dir(folder, tmp_path / "upload.zip", prefix="Du lieu/")
    source = prepare_source(upload, workdir)
    assert source.format == "ESRI Shapefile"
    assert source.layers == ["vung"]
    assert source.path.is_relative_to(workdir) and source.path.suffix == ".shp"
    assert "VN-2000" in source.prj or "VN_2000" in source.prj
    assert source.cpg == "UTF-8"
    df = read(source)
    assert list(df["name"]) == NAMES
    assert df.crs.to_epsg() == 9209


def test_zip_with_two_shapefiles_lists_both_layers(tmp_path, workdir):
    folder = tmp_path / "input-two"
    folder.mkdir()
    pyogrio.write_dataframe(frame(squares()), folder / "farming.shp", encoding="UTF-8")
    pyogrio.write_dataframe(frame(POINTS), folder / "relics.shp", encoding="UTF-8")
    source = prepare_source(zip_dir(folder, tmp_path / "upload.zip"), workdir)
    assert sorted(source.layers) == ["farming", "relics"]
    assert source.path.is_dir()
    with pytest.raises(ImportFileError) as caught:
        open_layer(source, None)
    assert caught.value.code == "LayerRequired"
    assert list(read(source, "relics")["name"]) == NAMES


def test_shapefiles_in_different_folders_are_gathered(tmp_path, workdir):
    with zipfile.ZipFile(tmp_path / "upload.zip", "w") as archive:
        for folder, name, geometry in (("a", "farming", squares()), ("b/c", "relics", POINTS)):
            out = tmp_path / f"input-{name}"
            out.mkdir()
            pyogrio.write_dataframe(frame(geometry), out / f"{name}.shp", encoding="UTF-8")
            for part in out.iterdir():
                archive.write(part, f"{folder}/{part.name}")
        archive.writestr("b/zones.dwg", "made by the contractor")
    source = prepare_source(tmp_path / "upload.zip", workdir)
    assert sorted(source.layers) == ["farming", "relics"]
    assert list(read(source, "farming")["name"]) == NAMES
    # Only the file no shapefile uses is said to be left out.
    assert [n for n in source.notes if n.startswith("Ignored")] == ["Ignored other files in upload.zip: b/zones.dwg."]


def test_a_name_both_file_and_folder_is_refused(tmp_path, workdir, outside):
    path = tmp_path / "upload.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("d", "hello")
        archive.writestr("d/zones.geojson", '{"type": "FeatureCollection", "features": []}')
    assert "'d' both as a file and as a folder" in expect_error("BadArchive", path, workdir).message


def test_a_name_too_long_for_the_file_system_is_refused(tmp_path, workdir, outside):
    path = tmp_path / "upload.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("ả" * 200 + ".geojson", '{"type": "FeatureCollection", "features": []}')
    assert "longer than 255 bytes" in expect_error("BadArchive", path, workdir).message


def test_shapefile_on_disk(tmp_path, workdir):
    pyogrio.write_dataframe(frame(POINTS), tmp_path / "relics.shp", encoding="UTF-8")
    source = prepare_source(tmp_path / "relics.shp", workdir)
    assert source.cpg == "UTF-8" and source.prj
    assert list(read(source)["name"]) == NAMES
    (tmp_path / "relics.shx").unlink()
    error = expect_error("MissingPart", tmp_path / "relics.shp", workdir)
    assert "relics.shx" in error.message


def test_shapefile_without_prj_or_cpg_is_noted(tmp_path, workdir):
    folder = tmp_path / "input-bare"
    folder.mkdir()
    pyogrio.write_dataframe(frame(POINTS), folder / "relics.shp", encoding="UTF-8")
    (folder / "relics.prj").unlink()
    (folder / "relics.cpg").unlink()
    source = prepare_source(zip_dir(folder, tmp_path / "upload.zip"), workdir)
    assert source.prj is None and source.cpg is None
    assert any(".prj" in note for note in source.notes) and any(".cpg" in note for note in source.notes)


def test_geopackage_with_two_layers(tmp_path, workdir):
    path = tmp_path / "province.gpkg"
    pyogrio.write_dataframe(frame(squares()), path, layer="farming_zones")
    pyogrio.write_dataframe(frame(POINTS), path, layer="relics")
    source = prepare_source(path, workdir)
    assert source.format == "GPKG"
    assert sorted(source.layers) == ["farming_zones", "relics"]
    with pytest.raises(ImportFileError) as caught:
        open_layer(source, "temples")
    assert caught.value.code == "UnknownLayer"
    assert "farming_zones" in caught.value.message and "relics" in caught.value.message
    assert list(read(source, "relics")["name"]) == NAMES


def test_geopackage_without_geometry_is_not_geodata(tmp_path, workdir):
    path = tmp_path / "table.gpkg"
    pyogrio.write_dataframe(pd.DataFrame({"name": NAMES}), path, layer="names", driver="GPKG")
    error = expect_error("NotGeodata", path, workdir)
    assert "names" in error.message


def test_kml(tmp_path, workdir):
    path = tmp_path / "relics.kml"
    pyogrio.write_dataframe(frame(POINTS), path, driver="KML", layer="relics")
    source = prepare_source(path, workdir)
    assert source.format in ("KML", "LIBKML")
    assert source.layers == ["relics"]
    df = read(source)
    assert list(df["Name"]) == NAMES
    assert df.geometry.iloc[0].equals_exact(POINTS[0], 1e-9)


def test_kmz(tmp_path, workdir, outside):
    kml = tmp_path / "input.kml"
    pyogrio.write_dataframe(frame(squares()), kml, driver="KML", layer="zones")
    with zipfile.ZipFile(tmp_path / "upload.kmz", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(kml, "doc.kml")
        archive.writestr("files/photo.png", b"\x89PNG\r\n\x1a\n" + bytes(100))
    source = prepare_source(tmp_path / "upload.kmz", workdir)
    assert source.path.name == "doc.kml" and source.path.is_relative_to(workdir)
    assert source.format in ("KML", "LIBKML")
    df = read(source)
    assert list(df["Name"]) == NAMES
    assert df.geometry.geom_type.unique().tolist() == ["Polygon"]


def test_zip_holding_one_geopackage(tmp_path, workdir):
    gpkg = tmp_path / "input.gpkg"
    pyogrio.write_dataframe(frame(POINTS), gpkg, layer="relics")
    with zipfile.ZipFile(tmp_path / "upload.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(gpkg, "export/relics.gpkg")
        archive.writestr("__MACOSX/export/._relics.gpkg", b"junk")
        archive.writestr("readme.txt", "Dữ liệu di tích")
    source = prepare_source(tmp_path / "upload.zip", workdir)
    assert (source.format, source.layers) == ("GPKG", ["relics"])
    assert list(read(source)["name"]) == NAMES


@pytest.mark.parametrize(("x", "y"), [("Kinh độ", "Vĩ độ"), ("lon", "lat"), ("LONGITUDE", "Latitude"), ("kinh_do", "VI_DO")])
def test_csv_with_coordinate_columns(tmp_path, workdir, x, y):
    path = tmp_path / "relics.csv"
    rows = [f'"{name}",{p.x},{p.y},{n}' for name, p, n in zip(NAMES, POINTS, (1, 2, 3), strict=True)]
    path.write_text("\n".join([f"Tên,{x},{y},so_thu_tu", *rows]) + "\n", encoding="utf-8")
    source = prepare_source(path, workdir)
    assert source.format == "CSV"
    assert source.csv_geometry == {"x": x, "y": y}
    options = read_options(source)
    assert options["X_POSSIBLE_NAMES"] == x and options["KEEP_GEOM_COLUMNS"] == "NO"
    df = read(source)
    assert list(df["Tên"]) == NAMES
    assert x not in df.columns and y not in df.columns
    assert df.geometry.iloc[1].equals_exact(POINTS[1], 1e-9)
    assert df["so_thu_tu"].dtype.kind == "i"  # AUTODETECT_TYPE


def test_csv_with_wkt_column(tmp_path, workdir):
    path = tmp_path / "zones.csv"
    frame(squares()).to_csv(path, index=False)  # geopandas writes the geometry column as WKT
    path.write_text(path.read_text(encoding="utf-8").replace("geometry", "WKT", 1), encoding="utf-8")
    source = prepare_source(path, workdir)
    assert source.csv_geometry == {"wkt": "WKT"}
    df = read(source)
    assert list(df["name"]) == NAMES
    assert "WKT" not in df.columns
    assert df.geometry.iloc[2].equals_exact(squares()[2], 1e-9)


def test_csv_without_geometry_names_its_columns(tmp_path, workdir):
    path = tmp_path / "list.csv"
    path.write_text("Tên,Huyện\nĐền Trần,Nam Định\n", encoding="utf-8")
    error = expect_error("NotGeodata", path, workdir)
    assert "Tên" in error.message and "Huyện" in error.message


def test_xlsx_with_coordinate_columns(tmp_path, workdir):
    path = tmp_path / "villages.xlsx"
    table = pd.DataFrame({"Tên": NAMES, "Kinh độ": [p.x for p in POINTS], "Vĩ độ": [p.y for p in POINTS]})
    pyogrio.write_dataframe(table, path, driver="XLSX", layer="Làng nghề")
    pyogrio.write_dataframe(pd.DataFrame({"ghi_chu": ["không có tọa độ"]}), path, driver="XLSX", layer="Ghi chú", append=True)
    source = prepare_source(path, workdir)
    assert source.format == "XLSX"
    assert source.layers == ["Làng nghề"]  # the sheet without coordinates is left out, with a note
    assert any("Ghi chú" in note for note in source.notes)
    assert source.csv_geometry == {"x": "Kinh độ", "y": "Vĩ độ"}
    df = attach_geometry(read(source), source.layer_geometry["Làng nghề"], crs=4326)
    assert list(df["Tên"]) == NAMES
    assert "Kinh độ" not in df.columns
    assert df.geometry.iloc[0].equals_exact(POINTS[0], 1e-9)


def test_attach_geometry_reports_bad_rows_as_null():
    table = pd.DataFrame({"name": ["a", "b", "c"], "lon": ["105,83", "x", None], "lat": ["20,4", "20.4", "20.4"]})
    df = attach_geometry(table, {"x": "lon", "y": "lat"})
    assert df.geometry.iloc[0].equals_exact(Point(105.83, 20.4), 1e-9)
    assert df.geometry.iloc[1:].isna().all()
    wkt = attach_geometry(pd.DataFrame({"geom": ["POINT (1 2)", "nonsense"]}), {"wkt": "geom"})
    assert wkt.geometry.iloc[0].equals_exact(Point(1, 2), 0) and wkt.geometry.iloc[1] is None


def test_degrees_minutes_and_seconds_are_read_in_a_sheet():
    frame = pd.DataFrame({"ten": ["a", "b", "c", "d", "e"],
                          "kinh_do": ["106°10'56\"E", "106° 10′ 30″ E", "106,5", "106°75'E", "phía đông"],
                          "vi_do": ["20°26'12\"N", "20°26.5'", "20.25", "20°N", "20"]})
    points = attach_geometry(frame, {"x": "kinh_do", "y": "vi_do"}).geometry
    assert (points.iloc[0].x, points.iloc[0].y) == pytest.approx((106 + 10 / 60 + 56 / 3600, 20 + 26 / 60 + 12 / 3600))
    assert (points.iloc[1].x, points.iloc[1].y) == pytest.approx((106 + 10.5 / 60, 20 + 26.5 / 60))
    assert (points.iloc[2].x, points.iloc[2].y) == pytest.approx((106.5, 20.25))
    assert points.iloc[3] is None and points.iloc[4] is None  # 75 minutes, and words: no coordinates
    vietnamese = pd.DataFrame({"kinh_do": ["106°12'36\" Đ", "106 04 30", "-106°10.5'", "106º12'36\"", "−106˚10.5'"],
                               "vi_do": ["20°25'48\" B", "20 25 48", "20°25'48\" N", "20º25'48\"", "20˚25'48\""]})
    points = attach_geometry(vietnamese, {"x": "kinh_do", "y": "vi_do"}).geometry
    assert [(round(p.x, 4), round(p.y, 4)) for p in points] == [(106.21, 20.43), (106.075, 20.43), (-106.175, 20.43),
                                                               (106.21, 20.43), (-106.175, 20.43)]


def test_column_detection_ignores_case_and_diacritics():
    assert detect_geometry_columns(["ten", "KINH ĐỘ", "vĩ độ"]) == {"x": "KINH ĐỘ", "y": "vĩ độ"}
    assert detect_geometry_columns(["X", "Y"]) == {"x": "X", "y": "Y"}
    assert detect_geometry_columns(["lon", "lat", "the_geom"]) == {"wkt": "the_geom"}
    assert detect_geometry_columns(["lon", "name"]) is None
    assert detect_geometry_columns(["Tên", "Kinh độ (E)", "Vĩ độ (N)"]) == {"x": "Kinh độ (E)", "y": "Vĩ độ (N)"}
    assert detect_geometry_columns(["Longitude [WGS84]", "Latitude [WGS84]"]) == {"x": "Longitude [WGS84]",
                                                                               "y": "Latitude [WGS84]"}
    assert detect_geometry_columns(["X (m)", "Y (m)", "x"]) == {"x": "x", "y": "Y (m)"}  # the plain name first
    assert detect_geometry_columns(["Số hiệu", "Tọa độ X (m)", "Tọa độ Y (m)"]) == {"x": "Tọa độ X (m)", "y": "Tọa độ Y (m)"}
    # A unit after a name marks coordinates only: "Geometry (type)" is a column of words, not WKT.
    assert detect_geometry_columns(["Geometry (type)", "Kinh độ", "Vĩ độ"]) == {"x": "Kinh độ", "y": "Vĩ độ"}


# --- archives that attack ------------------------------------------------------------


def test_zip_bomb_is_refused_before_unpacking(tmp_path, workdir, outside):
    path = tmp_path / "upload.zip"
    zeros = bytes(2**20)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("zones.geojson", "w", force_zip64=True) as member:
            for _ in range(1024):  # 1 GiB of zeros, about 1 MB on disk
                member.write(zeros)
    assert path.stat().st_size < 5 * 2**20
    error = expect_error("ZipBomb", path, workdir)
    assert "zip bomb" in error.message


def test_many_small_members_are_a_bomb_overall(tmp_path, workdir):
    path = tmp_path / "upload.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for i in range(300):  # each under the per-member floor, together 300 MiB from a few hundred KB
            archive.writestr(f"part{i}.csv", bytes(2**20 - 1))
    expect_error("ZipBomb", path, workdir)


def test_declared_total_over_the_limit(tmp_path, workdir):
    path = tmp_path / "upload.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("a.geojson", os.urandom(3 * 2**20))
    expect_error("TooLarge", path, workdir, max_unpacked=2 * 2**20)


def test_too_many_members(tmp_path, workdir):
    path = tmp_path / "upload.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for i in range(11):
            archive.writestr(f"f{i}.txt", "x")
    expect_error("TooLarge", path, workdir, max_members=10)


def lie_about_size(path: Path, declared: int) -> None:
    """Rewrite the uncompressed size in the local header and central directory."""
    data = bytearray(path.read_bytes())
    assert data[:4] == b"PK\x03\x04"
    struct.pack_into("<I", data, 22, declared)
    central = data.index(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, declared)
    path.write_bytes(bytes(data))


def test_zip_whose_declared_sizes_lie(tmp_path, workdir, outside):
    path = tmp_path / "upload.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("zones.geojson", b'{"type": "FeatureCollection", "features": []}' + b" " * (50 * 2**20))
    lie_about_size(path, 100)
    assert zipfile.ZipFile(path).infolist()[0].file_size == 100  # passes every check made before unpacking
    error = expect_error("BadArchive", path, workdir)
    assert "zones.geojson" in error.message


@pytest.mark.parametrize("member", ["../evil.txt", "data/../../../evil.txt", "..\\..\\evil.txt"])
def test_member_escaping_the_archive(tmp_path, workdir, outside, member):
    path = tmp_path / "upload.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("zones.geojson", '{"type": "FeatureCollection", "features": []}')
        archive.writestr(zipfile.ZipInfo(member), "pwned")
    expect_error("UnsafePath", path, workdir)
    assert not (tmp_path / "evil.txt").exists()


@pytest.mark.parametrize("member", ["/tmp/evil.txt", "C:/evil.txt"])
def test_absolute_member_path(tmp_path, workdir, outside, member):
    path = tmp_path / "upload.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(zipfile.ZipInfo(member), "pwned")
    expect_error("UnsafePath", path, workdir)


def test_symlink_member(tmp_path, workdir, outside):
    path = tmp_path / "upload.zip"
    link = zipfile.ZipInfo("zones.geojson")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(link, "/etc/passwd")
    expect_error("UnsafePath", path, workdir)


def test_shapefile_zip_missing_shx(tmp_path, workdir):
    folder = tmp_path / "input-noshx"
    folder.mkdir()
    pyogrio.write_dataframe(frame(POINTS), folder / "relics.shp", encoding="UTF-8")
    (folder / "relics.shx").unlink()
    error = expect_error("MissingPart", zip_dir(folder, tmp_path / "upload.zip"), workdir)
    assert "relics.shx" in error.message


def test_zip_without_data(tmp_path, workdir):
    path = tmp_path / "upload.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("notes.txt", "Không có dữ liệu")
        archive.writestr("photo.jpg", b"\xff\xd8\xff" + bytes(10))
    error = expect_error("NotGeodata", path, workdir)
    assert "notes.txt" in error.message


# --- files that are not what they claim ------------------------------------------------------


def test_empty_file(tmp_path, workdir):
    for name in ("empty.geojson", "empty.zip", "empty.csv"):
        (tmp_path / name).write_bytes(b"")
        expect_error("EmptyFile", tmp_path / name, workdir)
    (tmp_path / "blank.geojson").write_text("  \n ")
    expect_error("EmptyFile", tmp_path / "blank.geojson", workdir)


def test_png_named_gpkg(tmp_path, workdir):
    path = tmp_path / "map.gpkg"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(200))
    error = expect_error("FormatMismatch", path, workdir)
    assert "PNG" in error.message


def test_text_named_zip(tmp_path, workdir):
    path = tmp_path / "data.zip"
    path.write_text("Đây không phải là tệp zip\n", encoding="utf-8")
    error = expect_error("FormatMismatch", path, workdir)
    assert "not a zip archive" in error.message and "plain text" in error.message


def test_html_named_geojson(tmp_path, workdir):
    path = tmp_path / "zones.geojson"
    path.write_text("<!DOCTYPE html><html><body>404 Not Found</body></html>")
    error = expect_error("FormatMismatch", path, workdir)
    assert "HTML page" in error.message


def test_png_named_xlsx_and_html_named_csv(tmp_path, workdir):
    (tmp_path / "a.xlsx").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    assert "PNG" in expect_error("FormatMismatch", tmp_path / "a.xlsx", workdir).message
    (tmp_path / "a.csv").write_text("<html><body>login</body></html>")
    assert "HTML" in expect_error("FormatMismatch", tmp_path / "a.csv", workdir).message


def test_broken_geojson_gives_gdal_reason_without_paths(tmp_path, workdir):
    path = tmp_path / "zones.geojson"
    path.write_text('{"type": "FeatureCollection", "features": [{"type": "Feat')
    error = expect_error("NotGeodata", path, workdir)
    assert "zones.geojson" in error.message
    assert "Traceback" not in error.message and len(error.message) < 400


def test_truncated_geopackage(tmp_path, workdir):
    path = tmp_path / "broken.gpkg"
    pyogrio.write_dataframe(frame(POINTS), path, layer="relics")
    path.write_bytes(path.read_bytes()[:2000])
    expect_error("NotGeodata", path, workdir)


def test_unknown_extension(tmp_path, workdir):
    path = tmp_path / "relics.txt"
    path.write_text("Đền Trần")
    error = expect_error("UnsupportedFormat", path, workdir)
    for accepted in (".geojson", ".zip", ".gpkg", ".kml", ".kmz", ".csv", ".xlsx"):
        assert accepted in error.message


def test_lone_shapefile_part(tmp_path, workdir):
    (tmp_path / "relics.dbf").write_bytes(b"\x03" + bytes(40))
    expect_error("MissingPart", tmp_path / "relics.dbf", workdir)


@pytest.mark.parametrize(("z", "m"), [(1, 0), (1, 1), (0, 1)])
def test_a_layer_of_any_geometry_with_heights_is_refused_with_what_to_do(tmp_path, workdir, z, m):
    """QGIS can declare a layer "Geometry" with Z or M, a type GDAL's Python reader does not take."""
    import sqlite3

    path = tmp_path / "bat_ky.gpkg"
    pyogrio.write_dataframe(frame(squares()), path, layer="zones")
    with sqlite3.connect(path) as db:
        db.execute("UPDATE gpkg_geometry_columns SET geometry_type_name = 'GEOMETRY', z = ?, m = ?", (z, m))
    with pytest.raises(ImportFileError) as err:
        prepare_source(path, workdir)
    assert err.value.code == "NotGeodata"
    assert err.value.message.startswith("bat_ky.gpkg has a layer declared as any geometry with heights or measures")
    assert "-nlt PROMOTE_TO_MULTI -dim XY" in err.value.message


def test_geojson_text_with_nul_characters_is_refused_before_gdal_cuts_it(tmp_path, workdir):
    """GDAL ends a text at a NUL: "HTX\\u0000 Bí mật" would load as "HTX". An escaped backslash before
    "u0000" makes no NUL; one before a NUL still leaves a NUL."""
    path = tmp_path / "nul.geojson"
    feature = '{"type": "Feature", "properties": {"owner": "%s"}, "geometry": {"type": "Point", "coordinates": [106.17, 20.42]}}'
    for owner, refused in ((r"HTX\u0000 Bí mật", True), (r"C:\\u0000", False), (r"C:\\\u0000 Bí mật", True)):
        path.write_text('{"type": "FeatureCollection", "features": [%s]}' % (feature % owner), encoding="utf-8")
        if refused:
            assert "NUL characters" in expect_error("CutText", path, workdir).message
        else:
            assert prepare_source(path, workdir).format == "GeoJSON"



CRS_9209_WKT = CRS.from_epsg(9209).to_wkt("WKT1_ESRI")


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be"])
def test_a_csv_saved_as_unicode_text_is_read(tmp_path, workdir, encoding):
    """Excel's "Unicode text" is UTF-16 (tab-separated): read as the same text in UTF-8."""
    path = tmp_path / "di_tich.csv"
    rows = "Tên\tKinh độ\tVĩ độ\r\nĐền Trần\t106.1805\t20.4352\r\n"
    path.write_bytes((b"\xfe\xff" if encoding.endswith("be") else b"") + rows.encode(encoding))
    path.with_suffix(".prj").write_text(CRS_9209_WKT)
    source = prepare_source(path, workdir)
    assert source.csv_geometry == {"x": "Kinh độ", "y": "Vĩ độ"}
    assert list(pyogrio.read_dataframe(source.path, read_geometry=False)["Tên"]) == ["Đền Trần"]
    assert path.read_bytes().endswith(rows.encode(encoding))  # the upload itself is left as it came
    assert "VN-2000 / TM-3 105-30" in pyogrio.read_info(source.path, **read_options(source))["crs"]  # its .prj went along
    archive = tmp_path / "di_tich.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.write(path, "bang/di_tich.csv")
        zipped.write(path.with_suffix(".prj"), "bang/di_tich.prj")
    zipped_source = prepare_source(archive, workdir)
    assert zipped_source.csv_geometry == {"x": "Kinh độ", "y": "Vĩ độ"}
    assert "VN-2000 / TM-3 105-30" in pyogrio.read_info(zipped_source.path, **read_options(zipped_source))["crs"]
