"""Coordinate systems of imported files: VN-2000, user-given CRS, metres as degrees, swapped and stray points.

The reference is PROJ itself: points written in EPSG:9209 must land where
`Transformer.from_crs(9209, 4326)` puts them, measured on the ellipsoid.
"""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely
from pyproj import CRS, Geod, Transformer
from sqlalchemy import text

from importers.run import ImportFailed
from tests.importing import do_import, point, reasons, snapshot, square, write

GEOD = Geod(ellps="WGS84")
# Relics spread over the province: city, Vụ Bản, Giao Thủy, Nghĩa Hưng.
PLACES = [(106.1785, 20.4210), (106.0934, 20.3805), (106.4604, 20.2591), (106.1601, 20.0893)]
NAMES = ["Đền thử Thiên Trường", "Phủ thử Vân Cát", "Đình thử Hành Thiện", "Chùa thử Cồn"]

# A .prj as desktop software writes it for Nam Định: VN-2000 only in the projection's
# name, TM-3 105°30' on a WGS 84 datum, so no VN-2000 -> WGS 84 datum shift at all.
ESRI_VN2000_PRJ = (
    'PROJCS["VN_2000_TM3_Nam_Dinh",GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",'
    'SPHEROID["WGS_1984",6378137.0,298.257223563]],PRIMEM["Greenwich",0.0],'
    'UNIT["Degree",0.0174532925199433]],PROJECTION["Transverse_Mercator"],'
    'PARAMETER["False_Easting",500000.0],PARAMETER["False_Northing",0.0],'
    'PARAMETER["Central_Meridian",105.5],PARAMETER["Scale_Factor",0.9999],'
    'PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]'
)
# The same with an ESRI datum name GDAL knows: it finds the datum shift itself.
ESRI_VN2000_DATUM_PRJ = ESRI_VN2000_PRJ.replace(
    'GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984"', 'GEOGCS["GCS_VN_2000",DATUM["D_VN_2000"'
)


def vn2000_shapefile(tmp_path: Path, name: str = "di_tich_vn2000.shp") -> Path:
    """Relics written in EPSG:9209 by geopandas, with the .prj GDAL writes."""
    gdf = gpd.GeoDataFrame(
        {"TEN": NAMES, "LOAI": ["Đền", "Phủ, miếu", "Đình", "Chùa"], "XEP_HANG": ["Quốc gia"] * 4},
        geometry=gpd.points_from_xy(*np.array(PLACES).T),
        crs=4326,
    ).to_crs(9209)
    assert gdf.geometry.x.min() > 500_000  # metres east of the 105°30' meridian
    return write(gdf, tmp_path / name, encoding="UTF-8")


def file_xy(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The coordinates as stored in the file, whatever the .prj says."""
    frame = pyogrio.read_dataframe(path)
    return frame.geometry.x.to_numpy(), frame.geometry.y.to_numpy()


def imported_lonlat(conn) -> tuple[np.ndarray, np.ndarray]:
    found = dict(
        (name, (x, y))
        for name, x, y in conn.execute(
            text("SELECT name, ST_X(geom), ST_Y(geom) FROM relics WHERE name = ANY(:n)"), {"n": NAMES}
        ).all()
    )
    assert sorted(found) == sorted(NAMES)
    lon, lat = np.array([found[n] for n in NAMES]).T
    return lon, lat


def metres_apart(lon1, lat1, lon2, lat2) -> np.ndarray:
    return np.abs(GEOD.inv(lon1, lat1, lon2, lat2)[2])


def proj_reference(path: Path) -> tuple[np.ndarray, np.ndarray]:
    x, y = file_xy(path)
    return Transformer.from_crs(9209, 4326, always_xy=True).transform(x, y)


MAPPING = {"TEN": "name", "LOAI": "kind", "XEP_HANG": "rank"}


def test_epsg_9209_shapefile_lands_where_proj_puts_it(conn, tmp_path):
    path = vn2000_shapefile(tmp_path)
    assert path.with_suffix(".prj").exists()

    report = do_import(conn, "relics", path, mapping=MAPPING)

    assert report.rejected == [] and report.inserted == 4
    lon, lat = imported_lonlat(conn)
    assert metres_apart(lon, lat, *proj_reference(path)).max() < 1.0
    # And where they were drawn, give or take PROJ's own round trip.
    assert metres_apart(lon, lat, *np.array(PLACES).T).max() < 1.0


def test_vn2000_prj_without_datum_shift_is_read_as_epsg_9209(conn, tmp_path):
    path = vn2000_shapefile(tmp_path)
    path.with_suffix(".prj").write_text(ESRI_VN2000_PRJ)
    # The file's own definition, taken literally, puts the points some 200 m off.
    literal = Transformer.from_crs(CRS.from_wkt(ESRI_VN2000_PRJ), 4326, always_xy=True).transform(*file_xy(path))
    assert metres_apart(*literal, *proj_reference(path)).min() > 100

    report = do_import(conn, "relics", path, mapping=MAPPING)

    assert report.rejected == [] and report.inserted == 4
    assert any("EPSG:9209" in note for note in report.notes), report.notes
    lon, lat = imported_lonlat(conn)
    assert metres_apart(lon, lat, *proj_reference(path)).max() < 1.0


def test_vn2000_datum_named_in_the_prj(conn, tmp_path):
    path = vn2000_shapefile(tmp_path)
    path.with_suffix(".prj").write_text(ESRI_VN2000_DATUM_PRJ)
    report = do_import(conn, "relics", path, mapping=MAPPING)
    assert report.inserted == 4
    lon, lat = imported_lonlat(conn)
    assert metres_apart(lon, lat, *proj_reference(path)).max() < 1.0


@pytest.mark.parametrize("given", ["EPSG:9209", "9209"])
def test_crs_given_for_a_file_without_prj(conn, tmp_path, given):
    path = vn2000_shapefile(tmp_path)
    path.with_suffix(".prj").unlink()
    assert pyogrio.read_info(path)["crs"] is None

    report = do_import(conn, "relics", path, mapping=MAPPING, crs=given)

    assert report.rejected == [] and report.inserted == 4
    lon, lat = imported_lonlat(conn)
    assert metres_apart(lon, lat, *proj_reference(path)).max() < 1.0


def test_crs_given_overrides_a_wrong_prj(conn, tmp_path):
    path = vn2000_shapefile(tmp_path)
    path.with_suffix(".prj").write_text(CRS.from_epsg(3405).to_wkt("WKT1_ESRI"))  # VN-2000 / UTM 48N: wrong zone
    report = do_import(conn, "relics", path, mapping=MAPPING, crs="EPSG:9209")
    assert report.inserted == 4
    lon, lat = imported_lonlat(conn)
    assert metres_apart(lon, lat, *proj_reference(path)).max() < 1.0


def test_unknown_crs_is_refused(conn, tmp_path):
    path = vn2000_shapefile(tmp_path)
    with pytest.raises(ImportFailed, match="EPSG:999999"):
        do_import(conn, "relics", path, mapping=MAPPING, crs="EPSG:999999")


@pytest.mark.parametrize(("given", "said"), [
    ("IAU_2015:30100", "cannot be converted to WGS 84: Source and target ellipsoid do not belong to the same celestial body"),
    ("+proj=latlong +a=1", "cannot be converted to WGS 84"),
    ("EPSG:5703", "is not a coordinate system of longitude/latitude or of a map projection"),  # heights only
    ("EPSG:4978", "is not a coordinate system of longitude/latitude or of a map projection"),  # the Earth's centre
])
def test_a_crs_shapes_cannot_be_read_in_is_refused_by_name(conn, tmp_path, given, said):
    path = vn2000_shapefile(tmp_path)
    before = snapshot(conn)
    with pytest.raises(ImportFailed, match=f"^{re.escape(given)} {said}"):
        do_import(conn, "relics", path, mapping=MAPPING, crs=given)
    assert snapshot(conn) == before


def test_a_file_naming_a_crs_of_the_moon_is_refused_by_its_name(conn, tmp_path):
    gdf = gpd.GeoDataFrame({"TEN": ["Đền trăng"], "LOAI": ["Đền"], "XEP_HANG": ["Quốc gia"]},
                           geometry=[point(0)], crs=CRS("IAU_2015:30100"))
    path = write(gdf, tmp_path / "trang.gpkg")
    with pytest.raises(ImportFailed, match="^Moon .* cannot be converted to WGS 84"):
        do_import(conn, "relics", path, mapping=MAPPING)


def test_a_compound_crs_is_read_in_its_horizontal_part(conn, tmp_path):
    path = vn2000_shapefile(tmp_path)
    assert do_import(conn, "relics", path, mapping=MAPPING, crs="EPSG:9209+5703").inserted > 0


@pytest.mark.parametrize("prj", [None, "EPSG:4326"])
def test_metres_declared_as_degrees_are_refused_with_a_hint(conn, tmp_path, prj):
    path = vn2000_shapefile(tmp_path)
    if prj is None:
        path.with_suffix(".prj").unlink()
    else:
        path.with_suffix(".prj").write_text(CRS.from_user_input(prj).to_wkt("WKT1_ESRI"))
    before = snapshot(conn)
    with pytest.raises(ImportFailed) as failure:
        do_import(conn, "relics", path, mapping=MAPPING)
    message = str(failure.value)
    assert "metres" in message and "EPSG:9209" in message
    assert snapshot(conn) == before


def test_metres_in_a_csv_without_crs_are_refused(conn, tmp_path):
    x, y = Transformer.from_crs(4326, 9209, always_xy=True).transform(*point(0).coords[0])
    path = tmp_path / "toa_do.csv"
    path.write_text(f"name,kind,rank,x,y\nĐình thử mét,Đình,Cấp tỉnh,{x:.3f},{y:.3f}\n", encoding="utf-8")
    with pytest.raises(ImportFailed, match="EPSG:9209"):
        do_import(conn, "relics", path, open_options={"X_POSSIBLE_NAMES": "x", "Y_POSSIBLE_NAMES": "y"})


def relics_csv(path: Path, places, names) -> Path:
    lines = ["ten,loai,xep_hang,lon,lat"]
    lines += [f"{n},Đền,Chưa xếp hạng,{lon},{lat}" for n, (lon, lat) in zip(names, places, strict=True)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


CSV_OPTIONS = {"X_POSSIBLE_NAMES": "lon", "Y_POSSIBLE_NAMES": "lat"}
CSV_MAPPING = {"ten": "name", "loai": "kind", "xep_hang": "rank"}


def test_swapped_longitude_and_latitude_are_reported_row_by_row(conn, tmp_path):
    # A spreadsheet whose "lon" column holds latitudes and "lat" longitudes.
    swapped = [(lat, lon) for lon, lat in PLACES]
    path = relics_csv(tmp_path / "dao.csv", swapped, NAMES)
    before = snapshot(conn)

    report = do_import(conn, "relics", path, open_options=CSV_OPTIONS, mapping=CSV_MAPPING)

    assert report.rows_read == 4 and report.would_load == 0
    assert reasons(report) == {i: "geometry: longitude and latitude look swapped: longitude comes first" for i in range(1, 5)}
    assert not report.committed and snapshot(conn) == before


def test_points_outside_the_province_are_reported(conn, tmp_path):
    places = [PLACES[0], (105.8412, 21.0245), PLACES[1], (106.6881, 20.8449)]  # Hà Nội, Hải Phòng
    names = ["Đền thử trong tỉnh", "Đền thử Hà Nội", "Đền thử trong tỉnh 2", "Đền thử Hải Phòng"]
    path = relics_csv(tmp_path / "ngoai.csv", places, names)

    report = do_import(conn, "relics", path, open_options=CSV_OPTIONS, mapping=CSV_MAPPING, skip_invalid=True)

    assert reasons(report) == {
        2: "geometry: lies outside the working area of the province",
        4: "geometry: lies outside the working area of the province",
    }
    assert report.inserted == 2
    found = conn.execute(text("SELECT name FROM relics WHERE name = ANY(:n) ORDER BY name"), {"n": names}).scalars().all()
    assert found == ["Đền thử trong tỉnh", "Đền thử trong tỉnh 2"]


def test_vn2000_polygons_get_area_and_place(conn, tmp_path):
    gdf = gpd.GeoDataFrame({"name": ["Vùng VN-2000"], "crop": ["Lúa"]}, geometry=[square(0)], crs=4326).to_crs(9209)
    path = write(gdf, tmp_path / "vung_vn2000.shp", encoding="UTF-8")
    report = do_import(conn, "farming_zones", path)
    assert report.inserted == 1
    area_ha, district, stored = conn.execute(
        text("SELECT area_ha, district, ST_AsText(ST_GeometryN(geom, 1)) FROM farming_zones WHERE name = 'Vùng VN-2000'")
    ).one()
    lon, lat = np.array(shapely.from_wkt(stored).exterior.coords).T
    file_ring = np.array(pyogrio.read_dataframe(path).geometry[0].exterior.coords).T
    expected = Transformer.from_crs(9209, 4326, always_xy=True).transform(*file_ring)
    assert metres_apart(lon, lat, *expected).max() < 1.0
    assert area_ha == pytest.approx(abs(GEOD.geometry_area_perimeter(square(0))[0]) / 10_000, rel=1e-3)
    assert district == "Nam Trực"


def test_a_vn2000_projection_on_another_datum_asks_which_it_is(conn, tmp_path):
    """A .prj naming TM 105°30' on WGS 84 (a tool that left VN-2000's datum out): read as it says, the points
    would land about 200 m off, often in the next commune; the user is asked, and either answer reads it."""
    path = vn2000_shapefile(tmp_path)
    lookalike = CRS.from_proj4("+proj=tmerc +lat_0=0 +lon_0=105.5 +k=0.9999 +x_0=500000 +y_0=0 +datum=WGS84 +units=m")
    path.with_suffix(".prj").write_text(lookalike.to_wkt("WKT1_ESRI"))
    before = snapshot(conn)
    with pytest.raises(ImportFailed) as refused:
        do_import(conn, "relics", path, mapping=MAPPING)
    assert snapshot(conn) == before
    message = str(refused.value)
    assert message.startswith("the file's projection is that of EPSG:9209 (VN-2000 / TM-3 105-30) but on the datum")
    assert "give --crs EPSG:9209 if the data are in VN-2000" in message
    as_file_says = re.search(r"--crs '([^']+)' to read them as the file says", message)[1]
    shifted = {}
    # Typed as the message words it, the command line's option and quotes included, it is understood.
    for crs in ("--crs EPSG:9209", f"--crs '{as_file_says}'"):
        do_import(conn, "relics", path, mapping=MAPPING, crs=crs)
        shifted[crs] = conn.execute(text(
            "SELECT ST_X(geom), ST_Y(geom) FROM relics WHERE id = (SELECT max(id) FROM relics)")).one()
    apart = metres_apart(*shifted["--crs EPSG:9209"], *shifted[f"--crs '{as_file_says}'"])
    assert 150 < apart < 300


def test_utm_on_wgs84_is_not_taken_for_vn2000(conn, tmp_path):
    path = vn2000_shapefile(tmp_path)
    path.with_suffix(".prj").write_text(CRS.from_epsg(32648).to_wkt("WKT1_ESRI"))  # WGS 84 / UTM 48N, meridian 105
    report = do_import(conn, "relics", path, mapping=MAPPING, dry_run=True)
    assert not any("VN-2000" in note for note in report.notes), report.notes


def test_a_survey_table_writing_x_for_the_northing_is_read_the_other_way_round(conn, tmp_path):
    """Vietnamese surveys write X for the northing and Y for the easting: taken as they are named, the points
    would lie far outside the province; exchanged, they land where PROJ puts them, with a note."""
    easting, northing = Transformer.from_crs(4326, 9209, always_xy=True).transform(point(0).x, point(0).y)
    path = tmp_path / "toa_do.csv"
    path.write_text(f"TEN,LOAI,XEP_HANG,X,Y\nĐền Khảo Sát,Đền,Cấp tỉnh,{northing:.3f},{easting:.3f}\n", encoding="utf-8")
    report = do_import(conn, "relics", path, mapping=MAPPING, crs="EPSG:9209",
                       open_options={"X_POSSIBLE_NAMES": "X", "Y_POSSIBLE_NAMES": "Y"})
    assert report.inserted == 1 and report.rejected == []
    assert any(note.startswith("X and Y were read the other way round") for note in report.notes), report.notes
    lon, lat = conn.execute(text("SELECT ST_X(geom), ST_Y(geom) FROM relics WHERE name = 'Đền Khảo Sát'")).one()
    assert metres_apart(lon, lat, point(0).x, point(0).y) < 1.0


def test_a_stray_row_does_not_hide_a_survey_table_s_exchanged_axes(conn, tmp_path):
    """One row at 0,0 stretches the extent far away; the middle of the rows still lies in the province."""
    rows = [Transformer.from_crs(4326, 9209, always_xy=True).transform(point(i).x, point(i).y) for i in range(3)]
    path = tmp_path / "toa_do.csv"
    path.write_text("TEN,LOAI,XEP_HANG,X,Y\n" + "".join(
        f"Đền Lạc {i},Đền,Cấp tỉnh,{n:.3f},{e:.3f}\n" for i, (e, n) in enumerate(rows)) + "Đền Lạc 3,Đền,Cấp tỉnh,0,0\n",
        encoding="utf-8")
    report = do_import(conn, "relics", path, mapping=MAPPING, crs="EPSG:9209", skip_invalid=True,
                       open_options={"X_POSSIBLE_NAMES": "X", "Y_POSSIBLE_NAMES": "Y"})
    assert report.inserted == 3 and list(reasons(report)) == [4]
    assert any(note.startswith("X and Y were read the other way round") for note in report.notes)


def test_coordinates_in_the_province_are_not_exchanged(conn, tmp_path):
    easting, northing = Transformer.from_crs(4326, 9209, always_xy=True).transform(point(0).x, point(0).y)
    path = tmp_path / "toa_do.csv"
    path.write_text(f"TEN,LOAI,XEP_HANG,X,Y\nĐền Đúng,Đền,Cấp tỉnh,{easting:.3f},{northing:.3f}\n", encoding="utf-8")
    report = do_import(conn, "relics", path, mapping=MAPPING, crs="EPSG:9209",
                       open_options={"X_POSSIBLE_NAMES": "X", "Y_POSSIBLE_NAMES": "Y"})
    assert report.inserted == 1 and not any("other way round" in note for note in report.notes)


def test_a_system_given_as_a_proj_string_is_shown_as_that_string():
    from importers.crs import CrsChoice, parse_crs

    proj = "+proj=tmerc +lon_0=105.5 +k=0.9999 +x_0=500000 +datum=WGS84 +units=m +type=crs"
    assert CrsChoice(parse_crs(proj)).label == proj  # not "... — unknown"
    assert CrsChoice(parse_crs("9209")).label == "EPSG:9209 — VN-2000 / TM-3 105-30"


def test_a_survey_sheet_writing_x_for_the_northing_is_read_the_other_way_round(conn, tmp_path):
    import openpyxl

    from importers.run import ImportOptions, import_file
    from layers import REGISTRY

    easting, northing = Transformer.from_crs(4326, 9209, always_xy=True).transform(point(1).x, point(1).y)
    book = openpyxl.Workbook()
    book.active.append(["TEN", "LOAI", "XEP_HANG", "X", "Y"])
    book.active.append(["Đền Bảng Tính", "Đền", "Cấp tỉnh", round(northing, 3), round(easting, 3)])
    path = tmp_path / "toa_do.xlsx"
    book.save(path)
    report = import_file(conn, REGISTRY["relics"], path, ImportOptions(mapping=MAPPING, crs="EPSG:9209", username="t"),
                         tmp_path / "w")
    assert report.inserted == 1 and any(note.startswith("X and Y were read the other way round") for note in report.notes)
    lon, lat = conn.execute(text("SELECT ST_X(geom), ST_Y(geom) FROM relics WHERE name = 'Đền Bảng Tính'")).one()
    assert metres_apart(lon, lat, point(1).x, point(1).y) < 1.0


def test_web_mercator_far_away_is_not_exchanged_into_the_province():
    """Points in the Arctic in EPSG:3857 have numbers that, exchanged, fall in Nam Định: no survey writes so."""
    from importers.crs import axes_exchanged

    x, y = Transformer.from_crs(4326, 3857, always_xy=True).transform(20.8, 72.2)
    area = (105.85, 19.85, 106.65, 20.6)
    assert Transformer.from_crs(3857, 4326, always_xy=True).transform(y, x)[0] == pytest.approx(107, abs=1.5)
    assert not axes_exchanged((x, y), CRS.from_epsg(3857), area)
    easting, northing = Transformer.from_crs(4326, 32648, always_xy=True).transform(106.2, 20.3)
    assert axes_exchanged((northing, easting), CRS.from_epsg(32648), area)  # UTM 48N, swapped


@pytest.mark.parametrize(("given", "said"), [
    ("EPSG:999999", "no such code in the EPSG register"),
    ("999999", "no such code in the EPSG register"),
    ("ESRI:9999999", "crs not found: ESRI:9999999"),  # not called an EPSG code
    ("foo", "unrecognized format / unknown name"),
])
def test_an_unknown_coordinate_system_says_why_without_proj_s_wrapping(given, said):
    from importers.crs import CrsError, parse_crs

    with pytest.raises(CrsError) as refused:
        parse_crs(given)
    assert str(refused.value) == f"unknown coordinate system {given!r}: {said}"
    assert "Internal Proj Error" not in str(refused.value)
