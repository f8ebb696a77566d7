"""The public map in a real browser, against the sample data in PostGIS."""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import text

LAYERS = ("farming_zones", "aquaculture_areas", "craft_villages", "relics")
XSS_NAME = '<script>window.__xss=1</script><img src=x onerror="window.__xss=1">'
SHOTS = os.environ.get("VUNG_SCREENSHOTS")


def open_map(page: Page, base: str, hash_: str = "", query: str = "") -> None:
    page.goto(f"{base}/{query}{hash_}")
    wait_for_data(page)


def wait_for_data(page: Page) -> None:
    """Wait until every layer request the page has started has been answered."""
    page.wait_for_selector("#layer-list .layer", state="attached")
    page.wait_for_function("document.getElementById('map').dataset.pending === '0'")


def rendered_points(page: Page, layer: str) -> int:
    """Features of a point layer on screen: single markers plus what clusters hold."""
    return page.evaluate(
        """(layer) => {
            const singles = document.querySelectorAll(`.vung-marker--${layer}`).length;
            // A cluster may hold several layers: it tells how many places of each.
            const clustered = [...document.querySelectorAll(`.vung-cluster--${layer} .vung-cluster-count`)]
                .reduce((sum, node) => sum + (JSON.parse(node.dataset.counts)[layer] || 0), 0);
            return singles + clustered;
        }""",
        layer,
    )


def layer_count(page: Page, layer: str) -> int:
    return int(page.locator(f'.layer[data-layer="{layer}"] .layer-count').inner_text().rstrip("+") or 0)


def choose_filter(page: Page, layer: str, field: str, value: str) -> None:
    entry = page.locator(f'.layer[data-layer="{layer}"] details.layer-filters')
    if not entry.evaluate("node => node.open"):
        entry.locator("summary").click()
    page.select_option(f"#filter-{layer}-{field}", value)


def shoot(page: Page, name: str) -> None:
    if SHOTS:
        page.wait_for_timeout(600)  # let zoom, pan and fade animations finish
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"))


def first_row(engine, sql: str) -> dict:
    with engine.connect() as conn:
        return dict(conn.execute(text(sql)).mappings().first())


@pytest.fixture()
def den_tran(engine) -> dict:
    return first_row(
        engine,
        "SELECT id, name, ST_X(geom) AS lon, ST_Y(geom) AS lat FROM relics "
        "WHERE name LIKE 'Đền Trần%' ORDER BY id LIMIT 1",
    )


@pytest.fixture()
def xss_relic(engine):
    with engine.begin() as conn:
        relic_id = conn.execute(
            text(
                "INSERT INTO relics (name, kind, rank, geom) "
                "VALUES (:name, 'temple', 'unranked', ST_SetSRID(ST_MakePoint(106.17, 20.43), 4326)) RETURNING id"
            ),
            {"name": XSS_NAME},
        ).scalar_one()
    yield relic_id
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM relics WHERE id = :id"), {"id": relic_id})


def test_layers_and_features_render(page, live_server, page_errors):
    open_map(page, live_server)
    for layer in LAYERS:
        expect(page.locator(f"#layer-{layer}")).to_have_count(1)
        checkbox = page.locator(f"#layer-{layer}")
        if not checkbox.is_checked():
            checkbox.check()
    wait_for_data(page)
    assert rendered_points(page, "relics") > 0
    assert rendered_points(page, "craft_villages") > 0
    assert page.locator("path.vung-shape--farming_zones").count() > 0
    assert page.locator("path.vung-shape--aquaculture_areas").count() > 0
    # Zoomed out, areas also get (clustered) square markers so they can be found.
    assert page.locator(".vung-marker--farming_zones, .vung-cluster--farming_zones").count() > 0
    attribution = page.locator(".leaflet-control-attribution").inner_text()
    assert "OpenStreetMap" in attribution
    assert "GeoNames" in attribution
    shoot(page, "desktop")
    assert page_errors == []


def test_popup_shows_fields(page, live_server, den_tran):
    open_map(page, live_server, f"#map=18/{den_tran['lat']}/{den_tran['lon']}&layers=relics")
    page.get_by_title(den_tran["name"], exact=True).click()
    popup = page.locator(".leaflet-popup-content")
    expect(popup.locator(".popup-title")).to_have_text(den_tran["name"])
    expect(popup).to_contain_text("Loại hình")
    expect(popup).to_contain_text("Quốc gia đặc biệt")
    expect(popup.locator("a.popup-link")).to_have_attribute("href", f"/relics/{den_tran['id']}")
    shoot(page, "popup")


def test_area_popup_marks_an_illustrative_shape(page, live_server, engine):
    zone = first_row(
        engine,
        "SELECT id, name, ST_X(ST_PointOnSurface(geom)) AS lon, ST_Y(ST_PointOnSurface(geom)) AS lat "
        "FROM farming_zones WHERE illustrative ORDER BY id LIMIT 1",
    )
    open_map(page, live_server, f"#map=16/{zone['lat']}/{zone['lon']}&layers=farming_zones")
    assert page.locator(".vung-marker--farming_zones, .vung-cluster--farming_zones").count() == 0
    box = page.locator("#map").bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    popup = page.locator(".leaflet-popup-content")
    expect(popup.locator(".popup-title")).to_have_text(zone["name"])
    expect(popup.locator(".popup-illustrative")).to_be_visible()
    expect(popup).to_contain_text("ha")
    shoot(page, "zone-popup")


def test_enum_filter_shows_fewer_markers(page, live_server):
    open_map(page, live_server, "#layers=relics")
    before = layer_count(page, "relics")
    assert rendered_points(page, "relics") == before > 1
    choose_filter(page, "relics", "rank", "special_national")
    expect(page).to_have_url(re.compile(r"relics\.rank=special_national"))
    wait_for_data(page)
    after = layer_count(page, "relics")
    assert 0 < after < before
    assert rendered_points(page, "relics") == after


def test_search_without_diacritics_finds_den_tran(page, live_server):
    open_map(page, live_server)
    page.fill("#search-input", "den tran")
    hit = page.locator(".search-hit-name", has_text="Đền Trần").first
    expect(hit).to_be_visible()
    hit.click()
    expect(page.locator(".leaflet-popup-content .popup-title")).to_contain_text("Đền Trần")
    expect(page).to_have_url(re.compile(r"q=den%20tran"))
    shoot(page, "search")


def test_html_in_a_name_is_shown_as_text(page, live_server, xss_relic):
    open_map(page, live_server, "#map=17/20.43/106.17&layers=relics")
    page.get_by_title(XSS_NAME, exact=True).click()
    title = page.locator(".leaflet-popup-content .popup-title")
    expect(title).to_have_text(XSS_NAME)
    assert title.locator("*").count() == 0
    page.fill("#search-input", "window.__xss")
    expect(page.locator(".search-hit-name").first).to_have_text(XSS_NAME)
    assert page.evaluate("typeof window.__xss") == "undefined"


def test_english_switch_changes_interface(page, live_server):
    open_map(page, live_server)
    expect(page.locator("html")).to_have_attribute("lang", "vi")
    expect(page.locator(".search-label")).to_have_text("Tìm theo tên")
    page.click(".lang-link[data-lang=en]")
    wait_for_data(page)
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator(".search-label")).to_have_text("Search by name")
    expect(page.locator('.layer[data-layer="relics"] .layer-title')).to_have_text("Historical relics")
    expect(page.locator("#filter-relics-rank option").first).to_have_text("All")
    page.click(".lang-link[data-lang=vi]")
    wait_for_data(page)
    expect(page.locator(".search-label")).to_have_text("Tìm theo tên")


def test_language_switch_keeps_the_view(page, live_server):
    open_map(page, live_server, "#map=13/20.43/106.17&layers=relics&relics.rank=national")
    page.click(".lang-link[data-lang=en]")
    wait_for_data(page)
    assert "relics.rank=national" in page.url
    expect(page.locator("#filter-relics-rank")).to_have_value("national")


def test_copied_url_restores_view_layers_and_filter(page, context, live_server):
    open_map(page, live_server, "#layers=relics")
    choose_filter(page, "relics", "rank", "special_national")
    wait_for_data(page)
    copied = page.url
    expected = layer_count(page, "relics")

    other = context.new_page()
    other.goto(copied)
    wait_for_data(other)
    expect(other.locator("#filter-relics-rank")).to_have_value("special_national")
    expect(other.locator("#layer-relics")).to_be_checked()
    expect(other.locator("#layer-craft_villages")).not_to_be_checked()
    assert layer_count(other, "relics") == expected
    assert other.url == copied
    other.close()


def test_editing_the_hash_applies_it(page, live_server):
    open_map(page, live_server, "#layers=relics")
    before = layer_count(page, "relics")
    page.evaluate("location.hash = location.hash + '&relics.rank=special_national'")
    expect(page.locator("#filter-relics-rank")).to_have_value("special_national")
    wait_for_data(page)
    assert layer_count(page, "relics") < before


def test_a_failing_layer_leaves_the_others_working(page, live_server, page_errors):
    page.route(
        "**/ogc/collections/craft_villages/items?*",
        lambda route: route.fulfill(
            status=503, content_type="application/json", body='{"code": "Unavailable", "description": "down"}'
        ),
    )
    open_map(page, live_server, "#layers=relics,craft_villages")
    expect(page.locator("#map-status")).to_contain_text("Làng nghề truyền thống")
    assert rendered_points(page, "relics") > 0
    assert rendered_points(page, "craft_villages") == 0
    assert page_errors == []


def test_hash_survives_a_round_trip(page, live_server):
    open_map(page, live_server)
    parsed = page.evaluate(
        """async () => {
            const { parseHash, formatHash } = await import("/static/js/state.js");
            const state = {
                view: { zoom: 13, lat: 20.43, lon: 106.17 },
                layers: new Set(["relics", "craft_villages"]),
                q: "Đền & chùa, 50% #1",
                filters: { relics: { rank: "national", district: "Nam Định" } },
            };
            return { again: parseHash(formatHash(state)), detail: parseHash("#z=15&lat=20.4&lon=106.1").view };
        }"""
    )
    assert parsed["again"] == {
        "view": {"zoom": 13, "lat": 20.43, "lon": 106.17},
        "layers": ["relics", "craft_villages"],
        "q": "Đền & chùa, 50% #1",
        "filters": {"relics": {"rank": "national", "district": "Nam Định"}},
    }
    assert parsed["detail"] == {"zoom": 15, "lat": 20.4, "lon": 106.1}


def test_a_popup_finds_its_photo_by_kind_whatever_its_name(page, live_server, page_errors):
    open_map(page, live_server)
    popup = page.evaluate(
        """async () => {
            const { buildPopup } = await import("/static/js/popup.js");
            const field = (name, kind, label) => ({ name, kind, label, unit: null, popup: true, choices: [] });
            const layer = { id: "portraits", fields: [
                field("name", "text", "Name"), field("anh_dai_dien", "photo", "Portrait"), field("website", "url", "Website"),
            ] };
            const properties = { name: "Đền Trần", anh_dai_dien: "https://example.org/a.jpg", website: "https://example.org/" };
            const root = buildPopup({ id: 1, properties }, layer, { detailBase: null });
            return {
                first: root.firstElementChild.className,
                photos: [...root.querySelectorAll("img")].map((img) => img.getAttribute("src")),
                rows: [...root.querySelectorAll("dt")].map((dt) => dt.textContent),
                links: [...root.querySelectorAll("dd a")].map((a) => a.getAttribute("href")),
            };
        }"""
    )
    assert popup == {
        "first": "popup-photo", "photos": ["https://example.org/a.jpg"], "rows": ["Website"], "links": ["https://example.org/"],
    }
    assert page_errors == []


def test_tampered_hash_is_ignored(page, live_server, page_errors):
    bad = quote("<b>x</b>")
    open_map(page, live_server, f"#map=oops&layers=relics,nope&relics.rank={bad}&relics.secret=1")
    expect(page.locator("#filter-relics-rank")).to_have_value("")
    assert layer_count(page, "relics") > 0
    assert page_errors == []


def test_search_goes_to_results_out_of_view(page, live_server, den_tran):
    open_map(page, live_server, "#map=14/20.0/106.6&layers=relics")
    assert rendered_points(page, "relics") == 0
    page.fill("#search-input", "den tran")
    page.press("#search-input", "Enter")
    expect(page.get_by_title(den_tran["name"], exact=True)).to_be_visible()
    zoom, lat, lon = re.search(r"map=([^&]+)", page.url).group(1).split("/")
    assert abs(float(lat) - den_tran["lat"]) < 0.2 and abs(float(lon) - den_tran["lon"]) < 0.2


def test_find_near_me(new_page, live_server, den_tran, page_errors):
    page = new_page(
        geolocation={"latitude": den_tran["lat"], "longitude": den_tran["lon"]}, permissions=["geolocation"]
    )
    open_map(page, live_server, "#map=12/20.0/106.0&layers=relics")
    page.click(".locate-button")
    expect(page.locator("path.locate-position")).to_have_count(1)
    nearest = page.locator(".nearby-place").first
    expect(nearest.locator(".nearby-name")).to_have_text(den_tran["name"])
    expect(nearest.locator(".nearby-distance")).to_have_text("0 m")
    expect(page.get_by_title(den_tran["name"], exact=True)).to_be_visible()
    assert page_errors == []


def test_refused_location_is_reported(new_page, live_server, page_errors):
    page = new_page(permissions=[])
    open_map(page, live_server, "#layers=relics")
    page.click(".locate-button")
    expect(page.locator("#map-status")).to_contain_text("chưa cho trang này dùng vị trí")
    assert rendered_points(page, "relics") > 0
    assert page_errors == []


def test_map_works_without_base_map(new_page, bare_live_server, page_errors):
    page = new_page(server=bare_live_server)
    open_map(page, bare_live_server, "#layers=relics,farming_zones")
    assert page.locator(".leaflet-tile").count() == 0
    assert rendered_points(page, "relics") > 0
    assert page.locator("path.vung-shape--farming_zones").count() > 0
    assert page_errors == []


def test_map_works_when_tiles_fail(new_page, live_server, page_errors):
    page = new_page()
    failed = []
    page.on("requestfailed", lambda request: failed.append(request.url))
    page.route("https://tile.openstreetmap.org/**", lambda route: route.abort())
    open_map(page, live_server, "#layers=relics")
    assert rendered_points(page, "relics") > 0
    assert any("tile.openstreetmap.org" in url for url in failed)
    assert page_errors == []


def test_phone_layout(phone_page, live_server, page_errors):
    open_map(phone_page, live_server)
    toggle = phone_page.locator("#panel-toggle")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(phone_page.locator("#panel")).to_be_hidden()
    assert rendered_points(phone_page, "relics") > 0
    shoot(phone_page, "phone-map")
    toggle.click()
    expect(phone_page.locator("#panel")).to_be_visible()
    expect(phone_page.locator("#search-input")).to_be_visible()
    shoot(phone_page, "phone-panel")
    assert page_errors == []


def test_district_outlines_give_bearings_without_a_base_map(new_page, bare_live_server, engine, page_errors):
    page = new_page(server=bare_live_server)
    open_map(page, bare_live_server)
    districts = first_row(engine, "SELECT count(*) AS n FROM admin_units WHERE level = 'district'")["n"]
    page.wait_for_function(
        "(n) => document.querySelectorAll('.leaflet-reference-pane path').length === n", arg=districts
    )
    assert page_errors == []


def test_detail_page_shows_the_feature_on_its_map(page, live_server, den_tran, xss_relic, page_errors):
    page.goto(f"{live_server}/relics/{den_tran['id']}")
    expect(page.locator("h1")).to_have_text(den_tran["name"])
    expect(page.locator("link[rel=canonical]")).to_have_attribute("href", f"{live_server}/relics/{den_tran['id']}")
    page.wait_for_selector("#detail-map path.leaflet-interactive")
    assert page.locator("#detail-map path.leaflet-interactive").count() == 1
    page.goto(f"{live_server}/relics/{xss_relic}")
    expect(page.locator("h1")).to_have_text(XSS_NAME)
    assert page.evaluate("window.__xss") is None
    assert page_errors == []
