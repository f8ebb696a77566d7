"""Published maps in a real browser: the standalone file opened from disk, the map framed by another site,
and the share box of the public map."""

from __future__ import annotations

import html
import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from playwright.sync_api import Locator, Page, expect
from sqlalchemy import text

from tests.browser.conftest import BLANK_TILE, DESKTOP
from tests.live import serving

XSS_NAME = '<script>window.__xss=1</script><img src=x onerror="window.__xss=1">'


def rows(engine, sql: str, **params) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(text(sql), params).mappings()]


def count(engine, sql: str, **params) -> int:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar_one()


@pytest.fixture()
def den_tran(engine) -> dict:
    return rows(
        engine,
        "SELECT id, name, ST_X(geom) AS lon, ST_Y(geom) AS lat FROM relics "
        "WHERE name LIKE 'Đền Trần%' ORDER BY id LIMIT 1",
    )[0]


@pytest.fixture()
def xss_relic(committed) -> dict:
    lon, lat = 106.6, 20.2  # a corner of the province with nothing else near
    relic_id = committed(
        "relics", "name, kind, rank, geom",
        ":name, 'temple', 'national', ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)",
        {"name": XSS_NAME, "lon": lon, "lat": lat},
    )
    return {"id": relic_id, "lon": lon, "lat": lat}


# --- the standalone file, opened from disk -----------------------------------


@pytest.fixture()
def offline_page(browser, page_errors):
    """A page for file:// documents; whatever it asks of the network is recorded and answered locally."""
    context = browser.new_context(viewport=DESKTOP, locale="vi-VN")
    asked: list[str] = []

    def handle(route):
        if urlsplit(route.request.url).scheme in ("file", "data", "blob"):
            route.continue_()
            return
        asked.append(route.request.url)
        if route.request.resource_type == "image":
            route.fulfill(status=200, content_type="image/png", body=BLANK_TILE)
        else:
            route.abort()

    context.route("**/*", handle)
    page = context.new_page()
    page.on("pageerror", lambda error: page_errors.append(str(error)))
    yield page, asked
    context.close()


def saved_map(live_server: str, folder, **params) -> str:
    response = requests.get(f"{live_server}/publish", params=params, timeout=30)
    assert response.status_code == 200, response.text[:300]
    assert response.headers["Content-Disposition"].startswith("attachment;")
    path = folder / "map.html"
    path.write_bytes(response.content)
    return path.as_uri()


def folium_map(page: Page) -> str:
    """The script name of the Leaflet map in a folium page (its element's id)."""
    return page.locator(".folium-map").get_attribute("id")


def open_popup_at(page: Page, place: dict) -> Locator:
    """The popup of what lies at `place` (lon, lat): the map centred there close up, and a click in its middle."""
    page.evaluate(f"([lat, lon]) => window['{folium_map(page)}'].setView([lat, lon], 17, {{ animate: false }})",
                  [place["lat"], place["lon"]])
    box = page.locator(".folium-map").bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    return page.locator(".leaflet-popup-content")


def test_standalone_map_works_from_disk_without_network(
    offline_page, app, live_server, engine, tmp_path, den_tran, xss_relic, page_errors
):
    page, asked = offline_page
    url = saved_map(live_server, tmp_path, layers="relics,farming_zones", **{"relics.rank": "national,special_national"})
    page.goto(url)
    assert page.evaluate("typeof L === 'object' && L.version") == "1.9.4"
    relics = count(engine, "SELECT count(*) FROM relics WHERE rank IN ('national', 'special_national')")
    zones = count(engine, "SELECT count(*) FROM farming_zones")
    expect(page.locator("path.vung-feature--relics")).to_have_count(relics)
    expect(page.locator("path.vung-feature--farming_zones")).to_have_count(zones)
    # The layer control lists both layers with their counts; the data's licences are credited.
    control = page.locator(".leaflet-control-layers-overlays")
    expect(control).to_contain_text(f"({relics})")
    expect(control).to_contain_text(f"({zones})")
    attribution = page.locator(".leaflet-control-attribution")
    expect(attribution).to_contain_text("GeoNames")
    expect(attribution).to_contain_text("OpenStreetMap")

    # A relic's popup: its name, its declared fields, a link back to its page.
    popup = open_popup_at(page, den_tran)
    expect(popup.locator(".popup-title")).to_have_text(den_tran["name"])
    expect(popup).to_contain_text("Xếp hạng")
    expect(popup).to_contain_text("Quốc gia đặc biệt")
    link = popup.locator("a.popup-link")
    expect(link).to_have_attribute("href", f"{live_server}/relics/{den_tran['id']}")
    expect(link).to_have_attribute("target", "_blank")

    # HTML in a name shows as text.
    page.evaluate(f"window['{folium_map(page)}'].closePopup()")
    expect(page.locator(".leaflet-popup")).to_have_count(0)
    title = open_popup_at(page, xss_relic).locator(".popup-title")
    expect(title).to_have_text(XSS_NAME)
    assert title.locator("*").count() == 0
    assert page.evaluate("typeof window.__xss") == "undefined"

    # Nothing but base-map tiles was asked of the network.
    tile_host = urlsplit(app.config["TILE_URL"]).netloc
    assert asked, "the base map asked for no tiles"
    assert {urlsplit(u).netloc for u in asked} == {tile_host}, asked
    assert page_errors == []


def test_standalone_map_without_base_map_asks_nothing(offline_page, bare_live_server, engine, tmp_path, page_errors):
    page, asked = offline_page
    url = saved_map(bare_live_server, tmp_path, layers="craft_villages")
    page.goto(url)
    expected = count(engine, "SELECT count(*) FROM craft_villages")
    expect(page.locator("path.vung-feature--craft_villages")).to_have_count(expected)
    page.wait_for_timeout(300)
    assert asked == []
    assert page.locator(".leaflet-tile").count() == 0
    assert page_errors == []


def test_an_english_map_shows_english_texts_beside_the_local_name(offline_page, live_server, engine, tmp_path, den_tran):
    page, _ = offline_page
    relic = rows(engine, "SELECT name_en, description_en FROM relics WHERE id = :id", id=den_tran["id"])[0]
    assert relic["name_en"] and relic["description_en"]
    page.goto(saved_map(live_server, tmp_path, layers="relics", lang="en", **{"relics.rank": "special_national"}))
    popup = open_popup_at(page, den_tran)
    expect(popup.locator(".popup-title")).to_have_text(relic["name_en"])
    expect(popup.locator(".popup-subtitle")).to_have_text(den_tran["name"])
    expect(popup).to_contain_text("Special national")
    expect(popup.locator(".popup-text")).to_contain_text(relic["description_en"].strip()[:60])
    expect(popup.locator("a.popup-link")).to_have_text("View details")


# --- the map framed by another website ---------------------------------------


@pytest.fixture(scope="module")
def other_site():
    """Another website (another origin than the app's) serving whatever pages a test puts in `pages`."""
    pages: dict[str, str] = {}

    def wsgi(environ, start_response):
        body = pages.get(environ["PATH_INFO"])
        start_response("200 OK" if body else "404 Not Found", [("Content-Type", "text/html; charset=utf-8")])
        return [(body or "").encode()]

    with serving(wsgi) as url:
        yield url, pages


def embedded_frame(page: Page, other_site, src: str):
    """Open a page of another site holding an <iframe> of `src`; its frame once its layers have loaded."""
    site, pages = other_site
    pages["/heritage.html"] = (
        "<!doctype html><html lang='en'><head><title>Department of Culture</title></head><body>"
        "<h1>Our heritage</h1>"
        f"<iframe src='{html.escape(src)}' title='Map' width='900' height='600' style='border:0'></iframe>"
        "</body></html>"
    )
    # The browser fixtures answer other hosts locally; this one is real.
    page.route(f"{site}/**", lambda route: route.continue_())
    page.goto(f"{site}/heritage.html")
    frame = page.frame_locator("iframe")
    expect(frame.locator("#map")).to_have_attribute("data-pending", "0")
    expect(frame.locator(".leaflet-marker-icon").first).to_be_attached()
    return frame


def shown_points(frame, layer: str) -> int:
    """Features of a point layer on screen: single markers plus what clusters hold."""
    singles = frame.locator(f".vung-marker--{layer}").count()
    # A cluster may hold several layers: it tells how many places of each.
    clusters = frame.locator(f".vung-cluster--{layer} .vung-cluster-count").evaluate_all("nodes => nodes.map(n => n.dataset.counts)")
    return singles + sum(json.loads(counts).get(layer, 0) for counts in clusters)


def test_embedded_map_in_another_site_shows_the_chosen_filter(page, live_server, other_site, engine, page_errors):
    query = "map=10/20.30/106.20&layers=relics&relics.rank=special_national&lang=en"
    frame = embedded_frame(page, other_site, f"{live_server}/embed?{query}")
    expected = count(engine, "SELECT count(*) FROM relics WHERE rank = 'special_national'")
    assert 0 < expected < count(engine, "SELECT count(*) FROM relics")
    expect(frame.locator(".vung-marker--relics, .vung-cluster--relics").first).to_be_visible()
    assert shown_points(frame, "relics") == expected
    assert frame.locator(".vung-marker--craft_villages, .vung-cluster--craft_villages").count() == 0
    # No site header, panel or footer: only the map, and a way to the full one.
    assert frame.locator(".site-header, #panel, .site-footer").count() == 0
    link = frame.locator("a.embed-full-map")
    expect(link).to_have_text("Open the full map")
    href = link.get_attribute("href")
    assert href.startswith("/?lang=en#map=10/20.3")
    assert "layers=relics" in href and "relics.rank=special_national" in href
    assert page_errors == []


def test_a_failing_layer_in_the_embedded_map_leaves_the_others_working(page, live_server, other_site, page_errors):
    page.route(
        "**/ogc/collections/craft_villages/items?*",
        lambda route: route.fulfill(
            status=503, content_type="application/json", body='{"code": "Unavailable", "description": "down"}'
        ),
    )
    frame = embedded_frame(page, other_site, f"{live_server}/embed?layers=relics,craft_villages")
    expect(frame.locator("#map-status")).to_contain_text("Làng nghề truyền thống")
    assert shown_points(frame, "relics") > 0
    assert shown_points(frame, "craft_villages") == 0
    assert page_errors == []


def test_embedded_map_opens_popups_with_links_out_of_the_frame(page, live_server, other_site, den_tran, page_errors):
    src = f"{live_server}/embed#map=18/{den_tran['lat']}/{den_tran['lon']}&layers=relics"
    frame = embedded_frame(page, other_site, src)
    frame.get_by_title(den_tran["name"], exact=True).click()
    popup = frame.locator(".leaflet-popup-content")
    expect(popup.locator(".popup-title")).to_have_text(den_tran["name"])
    link = popup.locator("a.popup-link")
    expect(link).to_have_attribute("href", f"/relics/{den_tran['id']}")
    # Links leave the frame (a new tab) instead of replacing the map inside it.
    assert link.evaluate("a => a.target || document.querySelector('base')?.target") == "_blank"
    assert page_errors == []


# --- the share box of the public map -----------------------------------------


def open_public_map(page: Page, base: str, hash_: str) -> None:
    page.goto(f"{base}/{hash_}")
    page.wait_for_selector("#layer-list .layer", state="attached")
    page.wait_for_function("document.getElementById('map').dataset.pending === '0'")


def test_share_box_gives_code_that_reopens_the_same_view(page, context, live_server, other_site, engine, page_errors):
    open_public_map(page, live_server, "#map=10/20.35/106.20&layers=relics&relics.rank=national")
    page.click("#share summary")
    link = page.locator("#share-link")
    expect(link).to_be_visible()
    assert link.input_value() == page.url
    snippet = page.locator("#share-embed").input_value()
    match = re.fullmatch(r'<iframe src="([^"]+)" title="[^"<>]+" width="100%" height="\d+" style="border:0" '
                         r'loading="lazy"></iframe>', snippet)
    assert match, snippet
    src = html.unescape(match.group(1))
    assert src.startswith(f"{live_server}/embed?")
    hash_ = urlsplit(page.url).fragment

    # The code, pasted into another site, shows the same view and filter.
    other = context.new_page()
    other.on("pageerror", lambda error: page_errors.append(str(error)))
    frame = embedded_frame(other, other_site, src)
    expected = count(engine, "SELECT count(*) FROM relics WHERE rank = 'national'")
    expect(frame.locator(".vung-marker--relics, .vung-cluster--relics").first).to_be_visible()
    assert shown_points(frame, "relics") == expected
    full = frame.locator("a.embed-full-map").get_attribute("href")
    assert urlsplit(full).fragment == hash_
    other.close()

    # The standalone file of the same filters, and of what is in view only.
    download = page.locator("#share-publish")
    params = parse_qs(urlsplit(download.get_attribute("href")).query)
    assert params == {"layers": ["relics"], "relics.rank": ["national"], "lang": ["vi"]}
    response = page.request.get(f"{live_server}{download.get_attribute('href')}")
    assert response.status == 200 and "attachment" in response.headers["content-disposition"]
    assert response.text().count('"type": "Feature"') == expected
    page.check("#share-in-view")
    params = parse_qs(urlsplit(download.get_attribute("href")).query)
    assert len(params["bbox"][0].split(",")) == 4
    assert page_errors == []


def test_share_box_follows_the_map(page, live_server):
    open_public_map(page, live_server, "#map=12/20.40/106.15&layers=relics")
    page.click("#share summary")
    before = page.locator("#share-embed").input_value()
    page.locator('.layer[data-layer="relics"] details.layer-filters summary').click()
    page.select_option("#filter-relics-kind", "pagoda")
    expect(page.locator("#share-embed")).not_to_have_value(before)
    assert "relics.kind=pagoda" in html.unescape(page.locator("#share-embed").input_value())
    assert "relics.kind=pagoda" in page.locator("#share-publish").get_attribute("href")
    page.uncheck("#layer-relics")
    expect(page.locator("#share-publish")).to_have_attribute("aria-disabled", "true")


def test_other_sites_may_frame_the_embedded_map_only(page, live_server, other_site):
    site, pages = other_site
    pages["/frames.html"] = (
        f"<!doctype html><iframe name='embed' src='{live_server}/embed?layers=relics'></iframe>"
        f"<iframe name='full' src='{live_server}/'></iframe>"
    )
    page.route(f"{site}/**", lambda route: route.continue_())
    page.goto(f"{site}/frames.html")
    expect(page.frame_locator("iframe[name=embed]").locator("#map")).to_have_attribute("data-pending", "0")
    page.wait_for_load_state("load")
    full = page.frame(name="full")
    assert full.url.startswith("chrome-error:") or full.locator("#map").count() == 0
