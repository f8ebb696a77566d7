"""The editor in a real browser: officers log in, draw, save, collide and restore."""

from __future__ import annotations

import json
import math
import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import text

from tests.browser.conftest import PASSWORD, empty_spot, log_in_through

XSS_NAME = "<img src=x onerror=alert(1)>"
ZOOM = 16


@pytest.fixture()
def spot(engine) -> dict:
    """A point inside a district, with no farming zone within about a kilometre."""
    return empty_spot(engine, 0.01)


@pytest.fixture()
def new_zones(engine):
    """Farming zones the test creates are removed afterwards, whatever way they were made."""
    with engine.connect() as conn:
        before = conn.execute(text("SELECT coalesce(max(id), 0) FROM farming_zones")).scalar_one()
    yield before
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM farming_zones WHERE id > :id"), {"id": before})


@pytest.fixture()
def editors(make_user) -> tuple[str, str]:
    make_user("e2e_lan", "editor", PASSWORD)
    make_user("e2e_minh", "editor", PASSWORD)
    return "e2e_lan", "e2e_minh"


@pytest.fixture()
def dialogs() -> list[str]:
    return []


@pytest.fixture()
def open_page(new_page, dialogs):
    """Pages in contexts of their own: two contexts are two officers' browsers."""

    def make() -> Page:
        page = new_page()

        def on_dialog(dialog):
            dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", on_dialog)
        return page

    return make


def edit_hash(spot: dict, feature: int | None = None) -> str:
    fragment = f"#map={ZOOM}/{spot['lat']}/{spot['lon']}&layer=farming_zones"
    return fragment + (f"&feature={feature}" if feature is not None else "")


def log_in(page: Page, base: str, username: str, fragment: str = "") -> None:
    log_in_through(page, base, "/edit", username)
    wait_ready(page)
    if fragment:
        open_editor(page, base, fragment)


def open_editor(page: Page, base: str, fragment: str) -> None:
    """A fresh load: the editor reads the view, layer and feature from the fragment."""
    page.goto("about:blank")
    page.goto(f"{base}/edit{fragment}")
    wait_ready(page)


def wait_ready(page: Page) -> None:
    page.wait_for_selector("body[data-editor-ready=true]", state="attached")
    settle(page)


def settle(page: Page) -> None:
    page.wait_for_function("document.getElementById('edit-map').dataset.pending === '0'")


def map_center(page: Page) -> tuple[float, float]:
    box = page.locator("#edit-map").bounding_box()
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def click_ring(page: Page, offsets: list[tuple[int, int]]) -> None:
    """Click each corner, then the first again to close the ring, as an officer does."""
    cx, cy = map_center(page)
    for dx, dy in [*offsets, offsets[0]]:
        page.mouse.click(cx + dx, cy + dy)
        page.wait_for_timeout(60)


def draw_square(page: Page, half: int) -> None:
    page.click(".leaflet-pm-icon-polygon")
    click_ring(page, [(-half, -half), (half, -half), (half, half), (-half, half)])


def cut_square(page: Page, half: int) -> None:
    page.click(".leaflet-pm-icon-cut")
    click_ring(page, [(-half, -half), (half, -half), (half, half), (-half, half)])


def config_of(page: Page) -> dict:
    return json.loads(page.locator("#vung-config").text_content())


def create_zone(page: Page, name: str, spot: dict, size: float = 0.002) -> int:
    """Create a square zone through the write API, with this browser's session."""
    lat, lon = spot["lat"], spot["lon"]
    ring = [
        [lon - size, lat - size],
        [lon + size, lat - size],
        [lon + size, lat + size],
        [lon - size, lat + size],
        [lon - size, lat - size],
    ]
    answer = page.request.post(
        f"{page.url.split('/edit')[0]}/ogc/collections/farming_zones/items",
        data=json.dumps(
            {
                "type": "Feature",
                "geometry": {"type": "Polygon", "coordinates": [ring]},
                "properties": {"name": name, "crop": "rice"},
            }
        ),
        headers={"Content-Type": "application/json", "X-CSRF-Token": config_of(page)["csrfToken"]},
    )
    assert answer.status == 201, answer.text()
    return answer.json()["id"]


def zone_row(engine, feature_id: int) -> dict:
    with engine.connect() as conn:
        return dict(
            conn.execute(
                text(
                    "SELECT name, crop, season, area_ha, district, version, ST_NumGeometries(geom) AS parts, "
                    "ST_NumInteriorRings(ST_GeometryN(geom, 1)) AS holes, "
                    "ST_X(ST_Centroid(geom)) AS lon, ST_Y(ST_Centroid(geom)) AS lat "
                    "FROM farming_zones WHERE id = :id"
                ),
                {"id": feature_id},
            )
            .mappings()
            .one()
        )


def saved_id(page: Page) -> int:
    expect(page).to_have_url(re.compile(r"feature=\d+"))
    return int(re.search(r"feature=(\d+)", page.url).group(1))


def test_anonymous_is_sent_to_login_and_a_wrong_password_is_refused(page, live_server, editors):
    page.goto(f"{live_server}/edit")
    expect(page).to_have_url(re.compile(r"/login\?next=/edit$"))
    page.fill("#username", editors[0])
    page.fill("#password", "not the password")
    page.click(".login-submit")
    expect(page.locator("#login-error")).to_be_visible()
    expect(page.locator("#username")).to_be_visible()

    page.fill("#username", editors[0])
    page.fill("#password", PASSWORD)
    page.click(".login-submit")
    wait_ready(page)
    expect(page.locator("#account-name")).to_have_text(editors[0])
    page.click(".logout-button")
    expect(page).to_have_url(f"{live_server}/")
    page.goto(f"{live_server}/edit")
    expect(page).to_have_url(re.compile(r"/login\?next=/edit$"))


def test_a_shared_editor_link_keeps_its_view_through_the_login(page, live_server, editors, spot):
    fragment = edit_hash(spot)
    page.goto(f"{live_server}/edit{fragment}")
    expect(page).to_have_url(re.compile(r"/login\?next=/edit#map="))
    page.fill("#username", editors[0])
    page.fill("#password", PASSWORD)
    page.click(".login-submit")
    wait_ready(page)
    # The editor opens at the linked view (it rewrites the hash with rounded coordinates).
    zoom, lat, lon = re.search(r"#map=([\d.]+)/([\d.]+)/([\d.]+)&layer=farming_zones", page.url).groups()
    assert page.url.startswith(f"{live_server}/edit#")
    assert (float(zoom), round(float(lat), 4), round(float(lon), 4)) == (ZOOM, round(spot["lat"], 4), round(spot["lon"], 4))


def test_language_switch_keeps_the_editor_s_view(page, live_server, editors, spot):
    log_in(page, live_server, editors[0], edit_hash(spot))
    hash_ = page.evaluate("location.hash")
    expect(page.locator(".lang-link[data-lang=en]")).to_have_attribute("href", f"?lang=en{hash_}")
    page.click(".lang-link[data-lang=en]")
    wait_ready(page)
    expect(page.locator("html")).to_have_attribute("lang", "en")
    assert page.url == f"{live_server}/edit?lang=en{hash_}"


def test_draw_zone_with_hole_save_and_reload(open_page, live_server, editors, spot, new_zones, engine, page_errors):
    page = open_page()
    log_in(page, live_server, editors[0], edit_hash(spot))
    expect(page.locator("#edit-layer")).to_have_value("farming_zones")

    draw_square(page, 130)
    expect(page.locator("#edit-feature")).to_be_visible()
    cut_square(page, 40)
    # Geoman replaced the square by one with a hole; still one part being edited.
    assert page.locator("path.edit-working-shape").count() == 1

    # Required fields are marked, enums offer their labels, computed fields wait for the server.
    expect(page.locator('.field[data-field="crop"] .field-required')).to_have_count(1)
    expect(page.locator("#field-crop option", has_text="Lúa giống")).to_have_count(1)
    expect(page.locator("#field-area_ha")).to_have_class(re.compile("is-pending"))

    page.fill("#field-name", "Vùng lúa thử nghiệm E2E")
    page.click("#edit-save")
    # The crop is required: the form says so next to the field, and nothing is sent.
    expect(page.locator("#field-crop-error")).to_be_visible()
    page.select_option("#field-crop", "rice")
    page.fill("#field-season", "Đông xuân")
    page.click("#edit-save")

    feature_id = saved_id(page)
    expect(page.locator("#field-crop-error")).to_be_hidden()
    expect(page.locator("#field-area_ha")).to_have_text(re.compile(r"^\d+,\d\d ha$"))
    expect(page.locator("#field-district")).to_have_text(spot["district"])
    area_text = page.locator("#field-area_ha").inner_text()

    row = zone_row(engine, feature_id)
    assert row["name"] == "Vùng lúa thử nghiệm E2E"
    assert row["holes"] == 1
    assert row["district"] == spot["district"]
    assert area_text == f"{row['area_ha']:.2f} ha".replace(".", ",")

    page.reload()
    wait_ready(page)
    expect(page.locator("#edit-feature-title")).to_have_text("Vùng lúa thử nghiệm E2E")
    expect(page.locator("#field-area_ha")).to_have_text(area_text)
    expect(page.locator("#field-district")).to_have_text(spot["district"])
    expect(page.locator("#field-crop")).to_have_value("rice")
    expect(page.locator(".edit-list-item[aria-current=true]")).to_have_text("Vùng lúa thử nghiệm E2E")
    assert page_errors == []


def test_second_officer_gets_the_conflict_and_keeps_the_drawing(
    open_page, live_server, editors, spot, new_zones, engine
):
    lan, minh = open_page(), open_page()
    log_in(lan, live_server, editors[0], edit_hash(spot))
    feature_id = create_zone(lan, "Vùng rau an toàn E2E", spot)
    log_in(minh, live_server, editors[1])
    for page in (lan, minh):
        open_editor(page, live_server, edit_hash(spot, feature_id))
        expect(page.locator("#field-name")).to_have_value("Vùng rau an toàn E2E")

    # Lan saves first.
    lan.fill("#field-name", "Vùng rau an toàn (Lan)")
    lan.click("#edit-save")
    expect(lan.locator("#field-name")).to_have_value("Vùng rau an toàn (Lan)")
    expect(lan.locator('[data-message="save"]')).to_be_visible()
    assert zone_row(engine, feature_id)["version"] == 2

    # Minh, still on version 1, moves the zone and saves.
    before = zone_row(engine, feature_id)
    minh.click(".leaflet-pm-icon-drag")
    cx, cy = map_center(minh)
    minh.mouse.move(cx, cy)
    minh.mouse.down()
    minh.mouse.move(cx + 60, cy + 30, steps=8)
    minh.mouse.up()
    minh.click(".leaflet-pm-icon-drag")
    minh.fill("#field-season", "Vụ mùa (Minh)")
    minh.click("#edit-save")
    conflict = minh.locator('[data-message="conflict"]')
    expect(conflict).to_be_visible()
    expect(conflict).to_contain_text("đã lưu")
    assert zone_row(engine, feature_id)["version"] == 2

    # Their version comes in; Minh's drawing stays on the map, dashed, and can be applied again.
    minh.click("#edit-conflict-load")
    expect(minh.locator("#field-name")).to_have_value("Vùng rau an toàn (Lan)")
    expect(minh.locator("path.edit-mine-shape")).to_have_count(1)
    # Only what Minh changed is offered back: the season, not Lan's older name.
    expect(conflict.locator(".edit-message-details li")).to_have_count(1)
    expect(conflict.locator(".edit-message-details")).to_contain_text("Vụ mùa (Minh)")
    minh.click("#edit-conflict-use-shape")
    expect(minh.locator("path.edit-mine-shape")).to_have_count(0)
    minh.click("#edit-conflict-use-values")
    expect(minh.locator("#field-season")).to_have_value("Vụ mùa (Minh)")
    expect(minh.locator("#field-name")).to_have_value("Vùng rau an toàn (Lan)")
    minh.click("#edit-save")
    expect(minh.locator('[data-message="save"]')).to_be_visible()
    settle(minh)

    after = zone_row(engine, feature_id)
    assert after["version"] == 3
    assert after["name"] == "Vùng rau an toàn (Lan)"  # Lan's change survived
    assert after["season"] == "Vụ mùa (Minh)"
    assert after["lon"] > before["lon"] and after["lat"] < before["lat"]  # and so did Minh's move


def test_html_in_a_name_stays_text_in_form_list_and_history(
    open_page, live_server, editors, spot, new_zones, dialogs, engine
):
    page = open_page()
    log_in(page, live_server, editors[0], edit_hash(spot))
    feature_id = create_zone(page, XSS_NAME, spot)
    open_editor(page, live_server, edit_hash(spot))

    item = page.locator(".edit-list-item", has_text="onerror")
    expect(item).to_have_text(XSS_NAME)
    item.click()
    expect(page.locator("#edit-feature-title")).to_have_text(XSS_NAME)
    expect(page.locator("#field-name")).to_have_value(XSS_NAME)

    page.fill("#field-season", "Hè thu")
    page.click("#edit-save")
    expect(page.locator('[data-message="save"]')).to_be_visible()
    page.click("#edit-history-toggle")
    names = page.locator(".edit-history-name")
    expect(names).to_have_count(2)
    expect(names.first).to_have_text(XSS_NAME)

    assert page.locator("#edit-panel img").count() == 0
    assert page.locator("img[src=x]").count() == 0
    assert dialogs == []
    assert zone_row(engine, feature_id)["name"] == XSS_NAME


def test_self_intersection_is_shown_and_repaired(open_page, live_server, editors, spot, new_zones, engine):
    page = open_page()
    log_in(page, live_server, editors[0], edit_hash(spot))
    # A bow tie: the ring crosses itself in the middle.
    page.click(".leaflet-pm-icon-polygon")
    click_ring(page, [(-100, -100), (100, 100), (100, -100), (-100, 100)])
    page.fill("#field-name", "Vùng hình nơ E2E")
    page.select_option("#field-crop", "vegetables")
    page.click("#edit-save")

    expect(page.locator('[data-message="geometry"]')).to_be_visible()
    expect(page.locator("path.edit-problem-location")).to_have_count(1)
    expect(page).not_to_have_url(re.compile(r"feature="))
    page.click("#edit-repair")
    expect(page.locator("path.edit-repair-shape").first).to_be_visible()
    page.click("#edit-repair-use")
    page.click("#edit-save")

    row = zone_row(engine, saved_id(page))
    assert row["parts"] == 2  # the two triangles of the bow tie
    expect(page.locator("#field-area_ha")).to_have_text(re.compile(r"\d ha$"))


def test_delete_with_confirmation_then_restore_from_history(open_page, live_server, editors, spot, new_zones, engine):
    page = open_page()
    log_in(page, live_server, editors[0], edit_hash(spot))
    feature_id = create_zone(page, "Vùng sẽ xoá E2E", spot)
    open_editor(page, live_server, edit_hash(spot, feature_id))

    page.click("#edit-delete")
    page.click("#edit-delete-no")
    assert zone_row(engine, feature_id)["name"] == "Vùng sẽ xoá E2E"
    page.click("#edit-delete")
    page.click("#edit-delete-yes")
    expect(page.locator("#edit-feature")).to_be_hidden()
    expect(page.locator("#edit-undelete")).to_be_visible()
    with engine.connect() as conn:
        assert (
            conn.execute(text("SELECT count(*) FROM farming_zones WHERE id = :id"), {"id": feature_id}).scalar_one()
            == 0
        )

    page.click("#edit-undelete")
    expect(page.locator("#field-name")).to_have_value("Vùng sẽ xoá E2E")
    expect(page.locator(".edit-list-item", has_text="Vùng sẽ xoá E2E")).to_have_count(1)

    # Rename, then bring the first version back from the history panel.
    page.fill("#field-name", "Tên mới E2E")
    page.click("#edit-save")
    expect(page.locator("#edit-feature-title")).to_have_text("Tên mới E2E")
    page.click("#edit-history-toggle")
    first = page.locator('.edit-history-entry[data-version="1"]', has=page.locator(".edit-history-restore"))
    expect(first).to_contain_text("Vùng sẽ xoá E2E")
    first.locator(".edit-history-restore").click()
    expect(page.locator("#field-name")).to_have_value("Vùng sẽ xoá E2E")
    settle(page)
    assert zone_row(engine, feature_id)["name"] == "Vùng sẽ xoá E2E"


def pixel_offset(spot: dict, lat: float, lon: float, zoom: int = ZOOM) -> tuple[float, float]:
    """Screen offset of a point from the map centre (Web Mercator), in CSS pixels."""

    def project(la: float, lo: float) -> tuple[float, float]:
        scale = 256 * 2**zoom
        sin = math.sin(math.radians(la))
        return (lo + 180) / 360 * scale, (0.5 - math.log((1 + sin) / (1 - sin)) / (4 * math.pi)) * scale

    x0, y0 = project(spot["lat"], spot["lon"])
    x, y = project(lat, lon)
    return x - x0, y - y0


def test_a_new_zone_snaps_to_its_neighbour(open_page, live_server, editors, spot, new_zones, engine):
    page = open_page()
    log_in(page, live_server, editors[0], edit_hash(spot))
    size = 0.002
    create_zone(page, "Vùng bên cạnh E2E", spot, size=size)
    open_editor(page, live_server, edit_hash(spot))
    corner_lat, corner_lon = spot["lat"] + size, spot["lon"] + size
    dx, dy = pixel_offset(spot, corner_lat, corner_lon)
    # The first corner is clicked a few pixels off the neighbour's corner; snapping puts it there.
    page.click(".leaflet-pm-icon-polygon")
    click_ring(page, [(round(dx) + 4, round(dy) - 4), (round(dx) + 120, round(dy)), (round(dx) + 120, round(dy) - 120)])
    page.fill("#field-name", "Vùng bám cạnh E2E")
    page.select_option("#field-crop", "rice")
    page.click("#edit-save")
    feature_id = saved_id(page)
    with engine.connect() as conn:
        gap = conn.execute(
            text(
                "SELECT ST_Distance(ST_Boundary(geom), ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)) "
                "FROM farming_zones WHERE id = :id"
            ),
            {"lon": corner_lon, "lat": corner_lat, "id": feature_id},
        ).scalar_one()
    assert gap < 1e-7


def test_an_editor_limited_to_other_districts_cannot_pick_zones_here(
    open_page, live_server, editors, spot, new_zones, make_user, engine
):
    with engine.connect() as conn:
        other = (
            conn.execute(
                text(
                    "SELECT code, name FROM admin_units WHERE level = 'district' AND name <> :name ORDER BY code LIMIT 1"
                ),
                {"name": spot["district"]},
            )
            .mappings()
            .one()
        )
    make_user("e2e_far", "editor", PASSWORD, districts=[other["code"]])
    lan = open_page()
    log_in(lan, live_server, editors[0], edit_hash(spot))
    create_zone(lan, "Vùng ngoài địa bàn E2E", spot)

    far = open_page()
    log_in(far, live_server, "e2e_far", edit_hash(spot))
    expect(far.locator("#edit-scope")).to_contain_text(other["name"])
    # Shown for bearings and snapping, but greyed out, not listed and not clickable.
    expect(far.locator("path.edit-background-shape.is-locked")).to_have_count(1)
    expect(far.locator(".edit-list-item", has_text="Vùng ngoài địa bàn E2E")).to_have_count(0)
    far.locator("path.edit-background-shape.is-locked").click(force=True)
    settle(far)
    expect(far.locator("#edit-feature")).to_be_hidden()


def test_the_server_s_field_errors_appear_next_to_the_field(open_page, live_server, editors, spot, new_zones, engine):
    page = open_page()
    log_in(page, live_server, editors[0], edit_hash(spot))
    draw_square(page, 80)
    page.fill("#field-name", "Vùng sai cây trồng E2E")
    # A value the browser cannot offer, as a stale page or a hand-made request might send.
    page.evaluate(
        """() => {
            const select = document.getElementById("field-crop");
            select.append(new Option("Chuối", "banana"));
            select.value = "banana";
        }"""
    )
    page.click("#edit-save")
    error = page.locator("#field-crop-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("banana")
    expect(page.locator("#field-crop")).to_have_attribute("aria-invalid", "true")
    expect(page).not_to_have_url(re.compile(r"feature="))
    with engine.connect() as conn:
        assert (
            conn.execute(text("SELECT count(*) FROM farming_zones WHERE id > :id"), {"id": new_zones}).scalar_one() == 0
        )
