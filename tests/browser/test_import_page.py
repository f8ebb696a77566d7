"""The import page in a real browser: an editor uploads a zipped shapefile,
fixes one column mapping by hand, reads the dry-run report, imports and
finds the features on the map."""

from __future__ import annotations

import base64
import json
import os
import re
import zipfile
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
from playwright.sync_api import Page, expect
from pyproj import CRS
from shapely.geometry import Polygon, box
from sqlalchemy import text

from tests.browser.conftest import PASSWORD, PHONE, empty_spot, log_in_through

MARK = "zz-importui"
SIDE = 0.002  # about 200 m
SHOTS = os.environ.get("VUNG_SCREENSHOTS")
NAMES = [f"{MARK} Vùng lúa Nam Hồng", f"{MARK} Cánh đồng mẫu lớn Điền Xá", f"{MARK} Vùng hỏng Nghĩa Đồng"]


@pytest.fixture()
def spot(engine) -> dict:
    """A point inside a district, with no farming zone within about two kilometres."""
    return empty_spot(engine, 0.02)


@pytest.fixture()
def cleanup(engine):
    """Whatever the test imported is removed, with its history."""

    def remove() -> None:
        with engine.begin() as conn:
            ids = (
                conn.execute(text("DELETE FROM farming_zones WHERE name LIKE :m RETURNING id"), {"m": f"{MARK}%"})
                .scalars()
                .all()
            )
            conn.execute(
                text(
                    "DELETE FROM feature_history WHERE layer = 'farming_zones' "
                    "AND (feature_id = ANY(:ids) OR properties->>'name' LIKE :m)"
                ),
                {"ids": list(ids), "m": f"{MARK}%"},
            )

    remove()
    yield
    remove()


@pytest.fixture()
def editor(make_user) -> str:
    make_user("e2e_import", "editor", PASSWORD)
    return "e2e_import"


def zipped_shapefile(folder: Path, spot: dict) -> Path:
    """Two good zones and a self-intersecting one, as a surveyor's shapefile names things."""
    x, y = spot["lon"], spot["lat"]
    bow_tie = Polygon([(x + 4 * SIDE, y), (x + 5 * SIDE, y + SIDE), (x + 5 * SIDE, y), (x + 4 * SIDE, y + SIDE)])
    gdf = gpd.GeoDataFrame(
        {
            "TEN_VUNG": NAMES,  # found by the field's label, "Tên vùng"
            "LOAI_CAY": ["Lúa", "lúa", "Lúa"],  # no field is called that: mapped by hand to `crop`
            "MUA_VU": ["Vụ xuân", "Vụ mùa", "Vụ đông"],  # found by the label "Mùa vụ"
        },
        geometry=[box(x, y, x + SIDE, y + SIDE), box(x + 2 * SIDE, y, x + 3 * SIDE, y + SIDE), bow_tie],
        crs=4326,
    )
    shp = folder / "vung_san_xuat.shp"
    pyogrio.write_dataframe(gdf, shp, encoding="UTF-8")
    archive = folder / "vung_san_xuat.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for part in sorted(folder.glob("vung_san_xuat.*")):
            if part.suffix != ".zip":
                out.write(part, part.name)
    return archive


def shoot(page: Page, name: str) -> None:
    if SHOTS:
        page.wait_for_timeout(600)  # let zoom and fade animations finish
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"))


def log_in(page: Page, base: str, username: str) -> None:
    log_in_through(page, base, "/import", username)
    page.wait_for_selector("body[data-import-ready=true]", state="attached")


def settle(page: Page) -> None:
    page.wait_for_function("document.getElementById('import-map').dataset.pending === '0'")


def open_in_import_page(page: Page, base: str, username: str, path: Path) -> Page:
    """The import page, logged in, with `path` chosen for farming zones: a file of one layer is read
    straight away, and its preview drawn."""
    log_in(page, base, username)
    page.select_option("#import-layer", "farming_zones")
    page.set_input_files("#import-file", str(path))
    expect(page.locator("#import-step-mapping")).to_be_visible()
    settle(page)
    return page


def counts(page: Page) -> dict[str, str]:
    return {
        node.get_attribute("data-count"): node.inner_text() for node in page.locator("#import-report-summary dd").all()
    }


def imported(engine) -> list[tuple]:
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT name, crop, season FROM farming_zones WHERE name LIKE :m ORDER BY name"), {"m": f"{MARK}%"}
        ).all()


def test_editor_imports_a_shapefile(new_page, live_server, engine, editor, spot, cleanup, tmp_path, page_errors):
    page = open_in_import_page(new_page(), live_server, editor, zipped_shapefile(tmp_path, spot))
    expect(page.locator("#import-file-summary")).to_contain_text("vung_san_xuat.zip")
    expect(page.locator("#import-file-summary")).to_contain_text("ESRI Shapefile")
    expect(page.locator("#import-source-layer-row")).to_be_hidden()
    expect(page.locator("#import-map path.leaflet-interactive")).to_have_count(3)
    expect(page.locator("#import-mapping-body tr")).to_have_count(3)
    expect(page.locator('select[data-column="TEN_VUNG"]')).to_have_value("name")
    expect(page.locator('select[data-column="MUA_VU"]')).to_have_value("season")
    # The crop column's name says nothing, its words do ("Lúa", "Rau màu"): suggested by them.
    expect(page.locator('select[data-column="LOAI_CAY"]')).to_have_value("crop")
    expect(page.locator('tr[data-column="LOAI_CAY"] .import-example')).to_have_text("Lúa")
    # Left out, the required field is flagged and nothing can run.
    page.select_option('select[data-column="LOAI_CAY"]', "")
    expect(page.locator("#import-missing")).to_be_visible()
    expect(page.locator("#import-missing")).to_contain_text("crop")
    expect(page.locator("#import-dry-run")).to_be_disabled()
    shoot(page, "import-mapping")

    expect(page.locator("#import-step-mapping-title")).to_be_focused()  # what the reading answered, read out
    # Another layer chosen with the arrow keys reads the file again, and leaves the picker where it was.
    page.focus("#import-layer")
    page.keyboard.press("ArrowDown")
    expect(page.locator("#import-layer")).not_to_have_value("farming_zones")
    settle(page)
    expect(page.locator("#import-layer")).to_be_focused()
    page.select_option("#import-layer", "farming_zones")
    settle(page)
    crop = page.locator('select[data-column="LOAI_CAY"]')
    crop.select_option("crop")
    # The narrow select may cut its label off: the tooltip names the choice whole.
    expect(crop).to_have_attribute("title", crop.evaluate("s => s.selectedOptions[0].text"))
    expect(crop).not_to_have_attribute("title", "")
    expect(page.locator("#import-missing")).to_be_hidden()
    expect(page.locator("#import-dry-run")).to_be_enabled()

    page.click("#import-dry-run")
    report = page.locator("#import-report")
    expect(report).to_have_attribute("data-state", "dry")
    expect(page.locator("#import-report-title")).to_be_focused()  # not left on the button the work disabled
    settle(page)
    assert counts(page) == {"rows_read": "3", "would_load": "2", "rejected": "1"}
    rejected = page.locator("#import-rejected li")
    expect(rejected).to_have_count(1)
    expect(rejected).to_have_attribute("data-row", "3")
    expect(rejected).to_contain_text("3")
    # The report speaks the page's language (Vietnamese by default), PostGIS's reason included.
    expect(rejected).to_contain_text("Hình dạng: không hợp lệ: tự cắt nhau")
    # Its place is shown on the map.
    rejected.locator("button").click()
    expect(page.locator("#import-map .import-problem-marker")).to_have_count(1)
    expect(page.locator("#import-map .import-rejected-feature")).to_have_count(1)
    shoot(page, "import-dry-run")
    assert imported(engine) == [], "a dry run wrote to the database"

    # Every rejected row, as a file to fix the source by, in the page's language.
    with page.expect_download() as download:
        page.click("#import-rejected-download")
    lines = Path(download.value.path()).read_text(encoding="utf-8-sig").splitlines()
    assert lines[0] == "dòng,lý do,kinh độ,vĩ độ"
    assert len(lines) == 2 and lines[1].startswith("3,Hình dạng: không hợp lệ: tự cắt nhau")

    # Without "skip invalid" the rejected row stops the whole import.
    page.click("#import-run")
    expect(report).to_have_attribute("data-state", "refused")
    settle(page)
    assert imported(engine) == []

    page.check("#import-skip-invalid")
    expect(report).to_be_hidden()
    page.click("#import-run")
    expect(report).to_have_attribute("data-state", "committed")
    settle(page)
    assert counts(page) == {"rows_read": "3", "inserted": "2", "rejected": "1"}
    expect(page.locator("#import-run")).to_be_disabled()
    shoot(page, "import-committed")
    assert imported(engine) == [(NAMES[1], "rice", "Vụ mùa"), (NAMES[0], "rice", "Vụ xuân")]

    # The link opens the public map on them, with the layer shown.
    link = page.locator("#import-see-map")
    expect(link).to_have_attribute("href", re.compile(r"^/#map=\d+/[\d.]+/[\d.]+&layers=farming_zones$"))
    link.click()
    page.wait_for_selector("#layer-list .layer", state="attached")
    page.wait_for_function("document.getElementById('map').dataset.pending === '0'")
    count = page.locator('.layer[data-layer="farming_zones"] .layer-count')
    expect(count).to_have_text(re.compile(r"^[2-9]|^\d\d"))

    x, y = spot["lon"], spot["lat"]
    answer = page.request.get(
        f"{live_server}/ogc/collections/farming_zones/items?f=json&bbox={x},{y},{x + 6 * SIDE},{y + SIDE}"
    )
    names = {f["properties"]["name"] for f in json.loads(answer.text())["features"]}
    assert names >= set(NAMES[:2]) and NAMES[2] not in names
    assert page_errors == []


def test_metres_without_a_prj_ask_for_the_coordinate_system(new_page, live_server, editor, spot, tmp_path, page_errors):
    """A VN-2000 shapefile whose .prj was lost: refused with a hint, read once EPSG:9209 is given."""
    x, y = spot["lon"], spot["lat"]
    zone = gpd.GeoDataFrame(
        {"name": [f"{MARK} Vùng VN-2000"], "crop": ["Rau màu"]}, geometry=[box(x, y, x + SIDE, y + SIDE)], crs=4326
    ).to_crs(9209)
    shp = tmp_path / "vn2000.shp"
    pyogrio.write_dataframe(zone, shp, encoding="UTF-8")
    (tmp_path / "vn2000.prj").unlink()
    archive = tmp_path / "vn2000.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for part in sorted(tmp_path.glob("vn2000.*")):
            if part.suffix != ".zip":
                out.write(part, part.name)

    page = new_page()
    log_in(page, live_server, editor)
    page.set_input_files("#import-file", str(archive))
    error = page.locator('#import-messages [data-message="inspect"]')
    expect(error).to_be_visible()
    expect(error).to_contain_text("EPSG:9209")
    expect(page.locator("#import-crs")).to_be_focused()
    expect(page.locator("#import-step-mapping")).to_be_hidden()
    no_prj = page.locator("#import-file-notes li", has_text=".prj")
    expect(no_prj).to_have_count(1)  # the file says what it lacks

    page.fill("#import-crs", "EPSG:9209")
    page.click("#import-inspect")
    expect(page.locator("#import-step-mapping")).to_be_visible()
    settle(page)
    expect(error).to_have_count(0)
    expect(no_prj).to_have_count(0)  # answered
    expect(page.locator("#import-inspect-summary")).to_contain_text("9209")
    expect(page.locator("#import-map path.leaflet-interactive")).to_have_count(1)
    page.click("#import-dry-run")
    expect(page.locator("#import-report")).to_have_attribute("data-state", "dry")
    assert counts(page) == {"rows_read": "1", "would_load": "1", "rejected": "0"}
    assert page_errors == []


def drop_file(page: Page, path: Path) -> None:
    """Drop a file on the drop zone, as dragging it from the file manager does."""
    transfer = page.evaluate_handle(
        """([name, data]) => {
            const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], name));
            return transfer;
        }""",
        [path.name, base64.b64encode(path.read_bytes()).decode()],
    )
    page.dispatch_event("#import-drop", "dragenter", {"dataTransfer": transfer})
    page.dispatch_event("#import-drop", "drop", {"dataTransfer": transfer})


def test_on_a_phone_the_datum_question_stays_in_sight_and_its_answer_lands_right(new_page, live_server, editor, spot,
                                                                                 engine, cleanup, tmp_path, page_errors):
    """A contractor's VN-2000 shapefile whose .prj gives the projection on WGS 84: the page asks which it is,
    the question visible beside the box it names, and EPSG:9209 puts the zone where it belongs."""
    x, y = spot["lon"], spot["lat"]
    zone = gpd.GeoDataFrame({"name": [f"{MARK} Vùng nhà thầu"], "crop": ["Lúa"]},
                            geometry=[box(x, y, x + SIDE, y + SIDE)], crs=4326).to_crs(9209)
    shp = tmp_path / "nha_thau.shp"
    pyogrio.write_dataframe(zone, shp, encoding="UTF-8")
    lookalike = "+proj=tmerc +lat_0=0 +lon_0=105.5 +k=0.9999 +x_0=500000 +y_0=0 +datum=WGS84 +units=m"
    (tmp_path / "nha_thau.prj").write_text(CRS.from_proj4(lookalike).to_wkt("WKT1_ESRI"))
    archive = tmp_path / "nha_thau.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for part in sorted(tmp_path.glob("nha_thau.*")):
            if part.suffix != ".zip":
                out.write(part, part.name)

    page = new_page(PHONE)
    log_in(page, live_server, editor)
    page.set_input_files("#import-file", str(archive))
    error = page.locator('#import-messages [data-message="inspect"]')
    expect(error).to_contain_text("hãy nhập EPSG:9209 vào ô Hệ tọa độ")
    expect(error).not_to_contain_text("--crs")
    expect(error).to_be_in_viewport()
    expect(page.locator("#import-crs")).to_be_focused()

    page.fill("#import-crs", "EPSG:9209")
    page.click("#import-inspect")
    expect(page.locator("#import-step-mapping")).to_be_visible()
    page.click("#import-run")
    expect(page.locator("#import-report")).to_have_attribute("data-state", "committed")
    with engine.connect() as c:
        lon, lat = c.execute(text("SELECT ST_X(ST_Centroid(geom)), ST_Y(ST_Centroid(geom)) FROM farming_zones "
                                  "WHERE name = :n"), {"n": f"{MARK} Vùng nhà thầu"}).one()
    assert (round(lon, 6), round(lat, 6)) == (round(x + SIDE / 2, 6), round(y + SIDE / 2, 6))
    assert page_errors == []


def test_a_geopackage_dropped_on_the_page_asks_which_layer(new_page, live_server, editor, spot, tmp_path, page_errors):
    x, y = spot["lon"], spot["lat"]
    path = tmp_path / "du_lieu.gpkg"
    zones = gpd.GeoDataFrame(
        {"ten": [f"{MARK} Vùng rau"], "cay_trong": ["Rau màu"]}, geometry=[box(x, y, x + SIDE, y + SIDE)], crs=4326
    )
    pyogrio.write_dataframe(zones, path, layer="vung_rau")
    pyogrio.write_dataframe(zones.set_geometry(zones.representative_point()), path, layer="diem_trung_tam", append=True)

    page = new_page()
    log_in(page, live_server, editor)
    drop_file(page, path)
    picker = page.locator("#import-source-layer")
    expect(picker).to_be_visible()
    expect(picker.locator("option")).to_have_count(2)
    expect(page.locator("#import-file-summary")).to_contain_text("GPKG")
    # Nothing is read until the layer is chosen.
    expect(page.locator("#import-step-mapping")).to_be_hidden()

    picker.select_option("vung_rau")
    page.click("#import-inspect")
    expect(page.locator("#import-step-mapping")).to_be_visible()
    settle(page)
    expect(page.locator('select[data-column="cay_trong"]')).to_have_value("crop")
    expect(page.locator("#import-map path.leaflet-interactive")).to_have_count(1)
    assert page_errors == []


def test_the_page_is_for_editors_only(new_page, live_server, make_user):
    make_user("e2e_import_viewer", "viewer", PASSWORD)
    page = new_page()
    page.goto(f"{live_server}/import")
    expect(page).to_have_url(re.compile(r"/login\?next=/import$"))
    page.fill("#username", "e2e_import_viewer")
    page.fill("#password", PASSWORD)
    page.click(".login-submit")
    page.wait_for_load_state()
    answer = page.goto(f"{live_server}/import")
    assert answer.status == 403
    expect(page.locator("#import-file")).to_have_count(0)


def test_a_file_that_is_not_geodata_is_refused_clearly(new_page, live_server, editor, tmp_path, page_errors):
    fake = tmp_path / "ban_do.geojson"
    fake.write_text("Đây không phải là bản đồ.\n", encoding="utf-8")
    page = new_page()
    log_in(page, live_server, editor)
    page.set_input_files("#import-file", str(fake))
    message = page.locator("#import-messages .edit-message--error")
    expect(message).to_be_visible()
    expect(message).not_to_be_empty()
    expect(page.locator("#import-step-read")).to_be_hidden()
    shoot(page, "import-refused")
    expect(page.locator("#import-step-mapping")).to_be_hidden()
    assert page_errors == []


def test_a_field_no_column_fills_gets_one_value_for_every_row(new_page, live_server, engine, editor, spot, cleanup,
                                                                tmp_path, page_errors):
    """A file of zones without a crop column: the page offers the crop for every row; chosen, the run is
    allowed and every zone gets it."""
    x, y = spot["lon"], spot["lat"]
    gdf = gpd.GeoDataFrame({"name": NAMES[:2]}, crs=4326,
                           geometry=[box(x + 2 * i * SIDE, y, x + (2 * i + 1) * SIDE, y + SIDE) for i in range(2)])
    path = tmp_path / "khong_cay.geojson"
    pyogrio.write_dataframe(gdf, path)
    page = open_in_import_page(new_page(), live_server, editor, path)

    section = page.locator("#import-constants")
    expect(section).to_be_visible()
    expect(page.locator("#import-missing")).to_contain_text("crop")
    expect(page.locator("#import-dry-run")).to_be_disabled()
    section.locator('select[data-field="crop"]').select_option("rice")
    expect(page.locator("#import-missing")).to_be_hidden()
    page.click("#import-run")
    expect(page.locator("#import-report")).to_have_attribute("data-state", "committed")
    assert counts(page) == {"rows_read": "2", "inserted": "2", "rejected": "0"}
    assert [(name, crop) for name, crop, _ in imported(engine)] == sorted((n, "rice") for n in NAMES[:2])
    expect(section.locator("select")).to_be_disabled()  # imported: nothing on the page changes it any more
    assert page_errors == []


def test_a_local_word_for_a_crop_is_read_as_the_value_the_editor_picks(
    new_page, live_server, engine, editor, spot, cleanup, tmp_path, page_errors
):
    """"Lúa nếp" matches no crop label: the page lists it (however it is written), the editor reads it as rice,
    and the rows go in. A word is the file's text, shown as text."""
    x, y = spot["lon"], spot["lat"]
    names = [*NAMES, f"{MARK} Vùng lúa lai"]
    gdf = gpd.GeoDataFrame(
        {"name": names, "crop": ["Lúa nếp", "Lúa", "lua nep", "<b>Lúa lai</b>"]},
        geometry=[box(x + 2 * i * SIDE, y, x + (2 * i + 1) * SIDE, y + SIDE) for i in range(4)], crs=4326,
    )
    path = tmp_path / "nep.geojson"
    pyogrio.write_dataframe(gdf, path)
    page = open_in_import_page(new_page(), live_server, editor, path)

    words = page.locator('#import-values tr[data-field="crop"]')
    expect(words).to_have_count(2)
    nep = page.locator('#import-values tr[data-value="Lúa nếp"]')
    expect(nep.locator(".import-value-rows")).to_have_text("2")  # "lua nep" is the same word
    html = page.locator('#import-values tr[data-value="<b>Lúa lai</b>"]')
    expect(html.locator(".import-value-text")).to_have_text("<b>Lúa lai</b>")
    expect(html.locator("b")).to_have_count(0)
    page.click("#import-dry-run")
    expect(page.locator("#import-report")).to_have_attribute("data-state", "dry")
    settle(page)
    assert counts(page) == {"rows_read": "4", "would_load": "1", "rejected": "3"}

    nep.locator("select").select_option("rice")
    expect(page.locator("#import-report")).to_be_hidden()  # a pick changes what a run would do
    page.click("#import-dry-run")
    expect(page.locator("#import-report")).to_have_attribute("data-state", "dry")
    settle(page)
    assert counts(page) == {"rows_read": "4", "would_load": "3", "rejected": "1"}
    expect(nep.locator("select")).to_have_value("rice")  # kept through the report's words
    expect(nep.locator("select")).to_have_attribute("title", nep.locator("select option:checked").inner_text())
    html.locator("select").select_option("rice")
    shoot(page, "import-values")

    page.click("#import-run")
    expect(page.locator("#import-report")).to_have_attribute("data-state", "committed")
    assert counts(page) == {"rows_read": "4", "inserted": "4", "rejected": "0"}
    assert [(name, crop) for name, crop, _ in imported(engine)] == sorted((n, "rice") for n in names)
    expect(page.locator("#import-values select:enabled")).to_have_count(0)

    # The import is listed among the user's latest, with its own undo.
    listed = page.locator(".import-recent-item", has_text="nep.geojson")
    expect(listed).to_have_count(1)
    expect(listed.locator("button")).to_have_text("Hoàn tác lần nhập này")

    # The editor takes the import back, after saying yes.
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#import-undo")
    expect(page.locator("#import-report")).to_have_attribute("data-state", "undone")
    expect(page.locator("#import-undone")).to_contain_text("xoá 4 đối tượng")
    expect(page.locator("#import-undo, #import-see-map")).to_have_count(0)
    expect(listed.locator(".import-recent-undone")).to_have_text("Đã hoàn tác")
    shoot(page, "import-undone")
    assert imported(engine) == []
    assert page_errors == []


def test_an_import_is_undone_from_the_list_of_latest_imports_after_the_page_was_left(
    new_page, live_server, engine, editor, spot, cleanup, tmp_path, page_errors
):
    x, y = spot["lon"], spot["lat"]
    gdf = gpd.GeoDataFrame({"name": NAMES[:2], "crop": ["Lúa", "Muối"]},
                           geometry=[box(x + 2 * i * SIDE, y, x + (2 * i + 1) * SIDE, y + SIDE) for i in range(2)], crs=4326)
    path = tmp_path / "hom_nay.geojson"
    pyogrio.write_dataframe(gdf, path)
    page = open_in_import_page(new_page(), live_server, editor, path)
    page.click("#import-run")
    expect(page.locator("#import-report")).to_have_attribute("data-state", "committed")
    assert len(imported(engine)) == 2

    page.reload()  # the officer comes back later: the page knows nothing of the import but its list
    page.wait_for_selector("body[data-import-ready=true]", state="attached")
    listed = page.locator(".import-recent-item", has_text="hom_nay.geojson")
    expect(listed).to_contain_text("thêm 2, cập nhật 0")
    # Each entry's button says which import it takes back, for those who move from button to button.
    expect(listed.locator("button")).to_have_attribute("aria-label", re.compile(r"^Hoàn tác.*: hom_nay\.geojson, "))
    page.once("dialog", lambda dialog: dialog.accept())
    listed.locator("button").click()
    expect(listed.locator(".import-recent-undone")).to_have_text("Đã hoàn tác")
    expect(page.locator("#import-status")).to_contain_text("xoá 2 đối tượng")
    assert imported(engine) == []
    assert page_errors == []


def test_an_exported_file_sent_back_updates_its_features_by_id(
    new_page, live_server, engine, editor, spot, cleanup, tmp_path, page_errors
):
    """A file with the id column of an export offers the feature id as the key; imported so, the
    features it names change in place."""
    x, y = spot["lon"], spot["lat"]
    with engine.begin() as conn:
        ids = conn.execute(text(
            "INSERT INTO farming_zones (name, crop, season, geom) SELECT :n || ' ' || i, 'rice', 'Vụ chiêm', "
            "ST_Multi(ST_MakeEnvelope(:x + 2 * i * :s, :y, :x + (2 * i + 1) * :s, :y + :s, 4326)) "
            "FROM generate_series(0, 1) AS i RETURNING id"), {"n": NAMES[0], "x": x, "y": y, "s": SIDE}).scalars().all()
        shapes = conn.execute(text("SELECT ST_AsText(geom) FROM farming_zones WHERE id = ANY(:ids) ORDER BY id"),
                              {"ids": ids}).scalars().all()
    # As an export writes them (this app's own shapes), with one crop changed.
    gdf = gpd.GeoDataFrame({"id": ids, "version": [1, 1], "name": [f"{NAMES[0]} 0", f"{NAMES[0]} 1"],
                            "crop": ["vegetables", "rice"]}, geometry=gpd.GeoSeries.from_wkt(shapes), crs=4326)
    path = tmp_path / "xuat_ra_sua_lai.gpkg"
    pyogrio.write_dataframe(gdf, path)
    page = open_in_import_page(new_page(), live_server, editor, path)
    expect(page.locator("#import-key option[value=id]")).to_have_text("Mã đối tượng (tệp xuất từ bản đồ này)")
    # An export's id and version columns: matched by id from the start (added as new, every row would be a copy).
    expect(page.locator("#import-key")).to_have_value("id")
    page.select_option("#import-key", "")
    page.select_option("#import-key", "id")
    page.click("#import-dry-run")
    expect(page.locator("#import-report")).to_have_attribute("data-state", "dry")
    assert counts(page) == {"rows_read": "2", "would_load": "2", "would_insert": "0", "would_update": "1", "unchanged": "1",
                            "rejected": "0"}
    page.click("#import-run")
    expect(page.locator("#import-report")).to_have_attribute("data-state", "committed")
    assert counts(page) == {"rows_read": "2", "inserted": "0", "updated": "1", "unchanged": "1", "rejected": "0"}
    assert imported(engine) == [(f"{NAMES[0]} 0", "vegetables", "Vụ chiêm"), (f"{NAMES[0]} 1", "rice", "Vụ chiêm")]
    assert page_errors == []
