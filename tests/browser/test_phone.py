"""The public map on phones: small screens upright and on their side, touch, both languages."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import text

from tests.browser.test_map import open_map, rendered_points, shoot

SMALL_PHONE = {"width": 360, "height": 740}
LANDSCAPE_PHONE = {"width": 740, "height": 360}
TOUCH = {"is_mobile": True, "has_touch": True, "device_scale_factor": 2}

LONG_DECISION = (
    "Vietnam’s first Ramsar site (1989); national park by Decision 01/2003/QĐ-TTg; "
    "core of the Red River Delta biosphere reserve (UNESCO 2004)"
)


def box(page: Page, selector: str) -> dict:
    found = page.locator(selector).bounding_box()
    assert found is not None, f"{selector} is not on screen"
    return found


def pixels(expected: float):
    """A CSS size as measured on screen: a box at a fractional position may measure 23.99999 for 24."""
    return pytest.approx(expected, abs=0.01)


def inside(inner: dict, outer: dict) -> bool:
    return (
        inner["x"] >= outer["x"] - 0.5
        and inner["y"] >= outer["y"] - 0.5
        and inner["x"] + inner["width"] <= outer["x"] + outer["width"] + 0.5
        and inner["y"] + inner["height"] <= outer["y"] + outer["height"] + 0.5
    )


def overlap(a: dict, b: dict) -> bool:
    return not (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


@pytest.fixture()
def photo_relic(committed) -> dict:
    """A relic with a photo and a long recognition decision, alone in its corner of the province."""
    place = {"name": "Di tích có ảnh", "lat": 20.2, "lon": 106.5}
    place["id"] = committed(
        "relics",
        "name, kind, rank, decision, description, photo, geom",
        ":name, 'nature', 'unranked', :decision, :description, 'https://example.org/photo.jpg', "
        "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)",
        {
            **place,
            "decision": LONG_DECISION,
            "description": "Khu rừng ngập mặn và bãi bồi ở cửa Ba Lạt sông Hồng, điểm dừng chân quan trọng của chim nước di cư.",
        },
    )
    return place


def test_a_popup_with_a_photo_fits_a_small_phone(new_page, live_server, photo_relic, page_errors):
    page = new_page(SMALL_PHONE, **TOUCH)
    open_map(page, live_server, f"#map=16/{photo_relic['lat'] - 0.004}/{photo_relic['lon']}&layers=relics")
    page.get_by_title(photo_relic["name"], exact=True).tap()
    expect(page.locator(".leaflet-popup .popup-photo")).to_be_visible()
    page.wait_for_timeout(600)  # the pan that brings the popup into view
    map_box = box(page, "#map")
    popup = box(page, ".leaflet-popup-content-wrapper")
    assert inside(popup, map_box), (popup, map_box)
    assert not overlap(popup, box(page, "#panel-toggle"))
    assert inside(box(page, ".leaflet-popup-close-button"), map_box)
    assert inside(box(page, ".leaflet-popup .popup-photo"), map_box)
    # A long value takes the popup's width instead of a narrow column beside its label.
    decision = page.locator(".popup-field", has_text="Quyết định công nhận").locator("dd")
    expect(decision).to_contain_text("Ramsar")
    assert decision.bounding_box()["width"] > 0.9 * box(page, ".leaflet-popup .popup-fields")["width"]
    shoot(page, "phone-popup-photo")
    assert page_errors == []


def test_a_popup_scrolls_inside_a_short_map(new_page, live_server, photo_relic, page_errors):
    page = new_page(LANDSCAPE_PHONE, **TOUCH)
    open_map(page, live_server, f"#map=16/{photo_relic['lat']}/{photo_relic['lon']}&layers=relics")
    page.get_by_title(photo_relic["name"], exact=True).tap()
    content = page.locator(".leaflet-popup-content")
    expect(content.locator(".popup-title")).to_have_text(photo_relic["name"])
    page.wait_for_timeout(600)
    popup = box(page, ".leaflet-popup-content-wrapper")
    assert inside(popup, box(page, "#map"))
    assert not overlap(popup, box(page, ".leaflet-control-attribution"))
    assert content.evaluate("node => node.scrollHeight > node.clientHeight")
    content.locator("a.popup-link").scroll_into_view_if_needed()
    expect(content.locator("a.popup-link")).to_be_in_viewport()
    shoot(page, "landscape-popup")
    assert page_errors == []


def test_a_phone_on_its_side_gets_the_phone_layout(new_page, live_server, page_errors):
    page = new_page(LANDSCAPE_PHONE, **TOUCH)
    open_map(page, live_server)
    toggle = page.locator("#panel-toggle")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(page.locator("#panel")).to_be_hidden()
    assert box(page, "#map")["width"] == pixels(LANDSCAPE_PHONE["width"])
    # The credits fold to one line until tapped.
    credits = page.locator(".leaflet-control-attribution")
    assert box(page, ".leaflet-control-attribution")["height"] < 24
    shoot(page, "landscape-map")
    credits.tap(position={"x": 200, "y": 5})
    expect(credits).to_have_class(re.compile(r"\bis-unfolded\b"))
    assert box(page, ".leaflet-control-attribution")["height"] > 24
    toggle.tap()
    expect(page.locator("#search-input")).to_be_visible()
    panel = box(page, "#panel")
    assert inside(panel, box(page, "#map-layout")) and panel["width"] < LANDSCAPE_PHONE["width"] / 2
    shoot(page, "landscape-panel")
    assert page_errors == []


NAM_DINH_CITY = {"latitude": 20.42, "longitude": 106.17}
HANOI = {"latitude": 21.03, "longitude": 105.85}
DISTANCE = re.compile(r"^\d+ m$|^\d+(,\d)? km$")


def test_near_me_lists_and_frames_the_nearest_places(new_page, live_server, page_errors):
    page = new_page(SMALL_PHONE, geolocation=NAM_DINH_CITY, permissions=["geolocation"], **TOUCH)
    open_map(page, live_server, "#map=10/20.2/106.3&layers=relics,craft_villages")
    page.locator(".locate-button").tap()
    places = page.locator(".nearby-place")
    expect(places.first).to_be_visible()
    expect(page.locator(".nearby-summary")).to_contain_text("20 km")
    assert 1 <= places.count() <= 5
    distances = [int(d) for d in page.locator(".nearby-list li").evaluate_all("items => items.map(i => i.dataset.distance)")]
    assert distances == sorted(distances) and distances[-1] <= 20000
    for text_ in places.locator(".nearby-distance").all_inner_texts():
        assert DISTANCE.match(text_), text_
    page.wait_for_timeout(600)
    # The position is framed above the list, not under it or the buttons.
    map_box, listed = box(page, "#map"), box(page, ".nearby")
    position = box(page, "path.locate-position")
    assert inside(position, map_box) and position["y"] + position["height"] <= listed["y"]
    zoom = float(re.search(r"map=([\d.]+)/", page.url).group(1))
    assert zoom >= 12
    shoot(page, "phone-near-me")

    name = places.nth(1).locator(".nearby-name").inner_text()
    places.nth(1).tap()
    expect(page.locator(".leaflet-popup .popup-title")).to_have_text(name)
    expect(page.locator(".nearby-title")).to_have_attribute("aria-expanded", "false")
    expect(places.first).to_be_hidden()
    shoot(page, "phone-near-me-popup")
    page.locator(".nearby-title").tap()
    expect(places.first).to_be_visible()
    assert page_errors == []


def test_near_me_far_from_every_place_says_so(new_page, live_server, page_errors):
    page = new_page(SMALL_PHONE, geolocation=HANOI, permissions=["geolocation"], **TOUCH)
    open_map(page, live_server, query="?lang=en")
    page.locator(".locate-button").tap()
    expect(page.locator(".nearby-summary")).to_have_text("No places within 20 km of you.")
    expect(page.locator(".nearby-place")).to_have_count(0)
    expect(page.locator("#map-status")).not_to_contain_text("near you")
    expect(page.locator("path.locate-position")).to_be_in_viewport()
    shoot(page, "phone-near-me-far")
    assert page_errors == []


def test_near_me_turns_on_the_layers_of_places(new_page, live_server, page_errors):
    page = new_page(SMALL_PHONE, geolocation=NAM_DINH_CITY, permissions=["geolocation"], **TOUCH)
    open_map(page, live_server, "#layers=farming_zones")
    page.locator(".locate-button").tap()
    expect(page.locator(".nearby-place").first).to_be_visible()
    expect(page).to_have_url(re.compile(r"layers=[^&]*relics"))
    expect(page).to_have_url(re.compile(r"layers=[^&]*craft_villages"))
    assert page_errors == []


@pytest.mark.parametrize(
    ("query", "message"),
    [("", "Bạn chưa cho trang này dùng vị trí"), ("?lang=en", "You have not let this page use your location")],
)
def test_a_refused_location_is_named_as_such(new_page, live_server, page_errors, query, message):
    page = new_page(SMALL_PHONE, permissions=[], **TOUCH)
    open_map(page, live_server, query=query)
    page.locator(".locate-button").tap()
    expect(page.locator("#map-status")).to_contain_text(message)
    expect(page.locator(".nearby")).to_be_hidden()
    assert page_errors == []


def test_a_position_not_found_in_time_is_not_called_a_refusal(new_page, live_server, page_errors):
    page = new_page(SMALL_PHONE, permissions=["geolocation"], **TOUCH)
    page.add_init_script(
        """navigator.geolocation.getCurrentPosition = (found, failed) =>
            setTimeout(() => failed({ code: 3, message: "Timeout expired" }), 50);"""
    )
    open_map(page, live_server)
    page.locator(".locate-button").tap()
    expect(page.locator("#map-status")).to_have_text("Không xác định được vị trí của bạn.")
    assert page_errors == []


# What a visitor taps on the map page, and the smallest size each may have on a touch screen.
TAP_TARGETS = {
    ".leaflet-control-zoom-in": 44,
    ".leaflet-control-zoom-out": 44,
    ".locate-button": 44,
    "#panel-toggle": 44,
    ".lang-link": 44,
    ".search-submit": 44,
    '.layer[data-layer="relics"] .layer-label': 44,
    '.layer[data-layer="relics"] .layer-filters summary': 44,
    "#filter-relics-rank": 44,
    ".clear-filters": 44,
    "#download .share-summary": 44,
    "#download-format": 44,
    "#download-link": 44,
    "#share .share-summary": 44,
    "#share-copy": 44,
    "#share-publish": 44,
}


def test_touch_targets_are_big_enough_for_a_finger(new_page, live_server, photo_relic, page_errors):
    page = new_page(SMALL_PHONE, **TOUCH)
    open_map(page, live_server, f"#map=17/{photo_relic['lat']}/{photo_relic['lon']}&layers=relics")
    page.locator("#panel-toggle").tap()
    page.locator('.layer[data-layer="relics"] .layer-filters summary').tap()
    for details in page.locator("details.share").all():
        details.evaluate("node => { node.open = true; }")
    small = {}
    for selector, least in TAP_TARGETS.items():
        target = page.locator(selector).first
        target.scroll_into_view_if_needed()
        size = target.bounding_box()
        if round(size["width"]) < least or round(size["height"]) < least:
            small[selector] = (round(size["width"]), round(size["height"]))
    page.locator("#panel-toggle").tap()
    page.get_by_title(photo_relic["name"], exact=True).tap()
    for selector in (".leaflet-popup-close-button", ".leaflet-popup a.popup-link"):
        size = page.locator(selector).bounding_box()
        if round(size["height"]) < 44 or round(size["width"]) < 44:
            small[selector] = (round(size["width"]), round(size["height"]))
    assert small == {}
    shoot(page, "phone-touch-targets")
    assert page_errors == []


def test_a_mouse_sees_the_controls_as_before(page, live_server, photo_relic):
    open_map(page, live_server, f"#map=17/{photo_relic['lat']}/{photo_relic['lon']}&layers=relics")
    assert page.evaluate("matchMedia('(pointer: coarse)').matches") is False
    assert box(page, ".locate-button")["height"] == pixels(30)
    assert box(page, ".leaflet-control-zoom-in")["height"] == pixels(30)
    assert box(page, '.layer[data-layer="relics"] .layer-filters summary')["height"] < 30
    page.get_by_title(photo_relic["name"], exact=True).click()
    assert box(page, ".leaflet-popup-close-button")["height"] == pixels(24)


def test_shared_links_keep_the_language(new_page, live_server, page_errors):
    page = new_page(SMALL_PHONE, **TOUCH)
    open_map(page, live_server, "#map=13/20.43/106.17&layers=relics", query="?lang=en")
    # English is now the visitor's choice (a cookie): the address without ?lang= opens in English too.
    open_map(page, live_server, "#map=13/20.43/106.17&layers=relics")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page).to_have_url(re.compile(r"\?lang=en#map=13/"))
    shared = page.locator("#share-link").input_value()
    assert re.match(rf"{re.escape(live_server)}/\?lang=en#map=13/20\.43\d*/106\.17\d*&layers=relics$", shared), shared

    # Someone without the cookie opens what was shared, and what the address bar showed.
    for address in (shared, page.url):
        other = new_page(SMALL_PHONE, **TOUCH)
        other.goto(address)
        expect(other.locator("html")).to_have_attribute("lang", "en")
        expect(other.locator("#layer-relics")).to_be_checked()
        expect(other.locator("#layer-craft_villages")).not_to_be_checked()
    assert page_errors == []


@pytest.mark.parametrize("viewport", [SMALL_PHONE, {"width": 390, "height": 844}, LANDSCAPE_PHONE])
def test_the_opening_view_shows_every_place_on_a_phone(new_page, live_server, engine, page_errors, viewport):
    page = new_page(viewport, **TOUCH)
    open_map(page, live_server)
    page.wait_for_timeout(600)
    map_box = box(page, "#map")
    icons = page.locator(".vung-marker, .vung-cluster")
    assert icons.count() > 0
    cut = [found for found in (icons.nth(i).bounding_box() for i in range(icons.count())) if not inside(found, map_box)]
    assert cut == []
    with engine.connect() as conn:
        for layer in ("relics", "craft_villages"):
            total = conn.execute(text(f"SELECT count(*) FROM {layer}")).scalar_one()
            assert rendered_points(page, layer) == total, layer
    shoot(page, f"phone-opening-{viewport['width']}x{viewport['height']}")
    assert page_errors == []


def test_detail_pages_fit_a_small_phone(new_page, live_server, engine, page_errors):
    """Long unbroken values (the sources' addresses) wrap instead of widening the page past the screen."""
    with engine.connect() as c:
        ids = c.execute(text("SELECT id FROM relics WHERE length(source) > 80 ORDER BY length(source) DESC LIMIT 3")).scalars().all()
    assert ids, "sample relics name their sources"
    page = new_page(SMALL_PHONE, **TOUCH)
    for relic in ids:
        page.goto(f"{live_server}/relics/{relic}")
        expect(page.locator("table.props")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= SMALL_PHONE["width"], relic
    assert page_errors == []


# A corner of the province without sample places, and how far apart (in
# degrees of longitude) a relic and a craft village are put in it: about 4 m,
# 1 px at zoom 15 and still under the clusters' radius at the highest zoom.
CLOSE_PAIR = {"lat": 20.27, "lon": 106.56, "apart": 0.00004}
PHONE_EMBED = {"width": 360, "height": 450}
POINT_LAYERS = "relics,craft_villages"


@pytest.fixture()
def close_pair(committed, engine) -> list[dict]:
    """A relic and a craft village a few metres apart, alone in their corner of the province."""
    lat, lon = CLOSE_PAIR["lat"], CLOSE_PAIR["lon"]
    with engine.connect() as conn:
        for layer in ("relics", "craft_villages"):
            near = conn.execute(
                text(f"SELECT count(*) FROM {layer} WHERE ST_DWithin(geom, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 0.02)"),
                {"lat": lat, "lon": lon},
            ).scalar_one()
            assert near == 0, f"the sample has {layer} where the close pair goes"
    relic = {"name": "Đình sát làng nghề", "lat": lat, "lon": lon}
    village = {"name": "Làng nghề sát đình", "lat": lat, "lon": lon + CLOSE_PAIR["apart"]}
    point = "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)"
    relic["id"] = committed("relics", "name, kind, rank, geom", f":name, 'temple', 'unranked', {point}", relic)
    village["id"] = committed("craft_villages", "name, craft, geom", f":name, 'other', {point}", village)
    return [relic, village]


def open_public_or_embedded(page: Page, base: str, where: str, view: str = "") -> None:
    if where == "embed":
        page.goto(f"{base}/embed?{view + '&' if view else ''}layers={POINT_LAYERS}")
        page.wait_for_function("document.getElementById('map').dataset.pending === '0'")
        expect(page.locator(".leaflet-marker-icon").first).to_be_attached()
    else:
        open_map(page, base, f"#{view + '&' if view else ''}layers={POINT_LAYERS}")
    page.wait_for_timeout(600)  # clusters fade in


def covered_icons(page: Page) -> list[str]:
    """Markers and clusters on the map whose centre a tap would not reach: another icon lies on top."""
    return page.evaluate(
        """() => {
            const map = document.getElementById("map").getBoundingClientRect();
            const covered = [];
            for (const icon of document.querySelectorAll(".vung-marker, .vung-cluster")) {
                const box = icon.getBoundingClientRect();
                const x = box.left + box.width / 2, y = box.top + box.height / 2;
                if (x < map.left || x > map.right || y < map.top || y > map.bottom) continue;
                const hit = document.elementFromPoint(x, y)?.closest(".leaflet-marker-icon");
                if (hit && hit !== icon) covered.push(`${icon.className} under ${hit.className}`);
            }
            return covered;
        }"""
    )


def assert_no_icon_covered(page: Page, seconds: float = 5) -> None:
    """covered_icons() is empty once the clusters have settled (they animate while forming and spreading)."""
    covered = covered_icons(page)
    for _ in range(int(seconds / 0.25)):
        if not covered:
            return
        page.wait_for_timeout(250)
        covered = covered_icons(page)
    assert covered == []


def centre(found: dict) -> tuple[float, float]:
    return found["x"] + found["width"] / 2, found["y"] + found["height"] / 2


def tap_until_open(page: Page, name: str, taps: int = 5) -> None:
    """Tap the place, or the cluster nearest the map's centre that holds it, until its popup opens."""
    title = page.locator(".leaflet-popup .popup-title")
    for _ in range(taps):
        marker = page.get_by_title(name, exact=True)
        if marker.count() and marker.is_visible():
            target = marker.bounding_box()
        else:
            middle = centre(box(page, "#map"))
            clusters = [c.bounding_box() for c in page.locator(".vung-cluster").all() if c.is_visible()]
            assert clusters, f"neither {name} nor a cluster is on the map"
            target = min(clusters, key=lambda c: abs(centre(c)[0] - middle[0]) + abs(centre(c)[1] - middle[1]))
        page.touchscreen.tap(*centre(target))
        page.wait_for_timeout(700)  # a zoom or the spreading of a cluster
        # Read now, not waiting for a popup that may be closing; then once a closing one has faded (200 ms),
        # the place's must be the only one, and still open.
        if name in title.all_inner_texts():
            page.wait_for_timeout(300)
            if title.all_inner_texts() == [name]:
                return
    raise AssertionError(f"{taps} taps did not open {name}: {title.all_inner_texts()}")


@pytest.mark.parametrize(("where", "viewport"), [("map", SMALL_PHONE), ("embed", PHONE_EMBED)])
def test_every_place_can_be_tapped_whatever_its_layer(new_page, live_server, close_pair, page_errors, where, viewport):
    """Places of different layers close together share clusters: none hides another, each opens with taps."""
    page = new_page(viewport, **TOUCH)
    # The sample's places of both layers, as a visitor first sees them: no icon covers another.
    open_public_or_embedded(page, live_server, where)
    assert_no_icon_covered(page)
    shoot(page, f"phone-{where}-opening-both-layers")

    relic, village = close_pair
    view = f"map=15/{relic['lat']}/{relic['lon']}"
    for place in (relic, village):
        open_public_or_embedded(page, live_server, where, view)
        assert_no_icon_covered(page)
        pair = page.locator(".vung-cluster--relics.vung-cluster--craft_villages .vung-cluster-count")
        expect(pair).to_have_text("2")
        assert json.loads(pair.get_attribute("data-counts")) == {"relics": 1, "craft_villages": 1}
        tap_until_open(page, place["name"])
        shoot(page, f"phone-{where}-close-pair-{place['id']}")
    assert page_errors == []
