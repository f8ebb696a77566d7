"""A planner's round: log in, filter on the map, download what is shown, look at the statistics."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pyogrio
from playwright.sync_api import Page, expect

from tests.browser.conftest import PASSWORD
from tests.browser.test_map import choose_filter, wait_for_data

VIEW = "#map=11/20.30/106.20&layers=relics,farming_zones"


def log_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/login?next=/")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click(".login-submit")
    expect(page).to_have_url(re.compile(r"/$|/#"))


def shown_ids(client, layer: str, bbox: str, **filters) -> set[int]:
    """What the map's API answers for the same view and filters (the map draws these)."""
    params = "&".join(f"{k}={v}" for k, v in {"bbox": bbox, "limit": 10000, **filters}.items())
    return {f["id"] for f in client.get(f"/ogc/collections/{layer}/items?{params}").get_json()["features"]}


def test_planner_downloads_what_the_map_shows_then_sees_the_charts(
    page, live_server, make_user, client, tmp_path, page_errors
):
    make_user("planner-lan", "viewer", PASSWORD)
    log_in(page, live_server, "planner-lan")
    page.goto(f"{live_server}/{VIEW}")
    wait_for_data(page)
    choose_filter(page, "relics", "rank", "national")
    wait_for_data(page)

    page.locator("#download summary").click()
    expect(page.locator('#download-format option[value="kml"]')).to_be_disabled()  # two layers: one file of several
    page.select_option("#download-format", "gpkg")
    href = page.get_attribute("#download-link", "href")
    query = parse_qs(urlsplit(href).query)
    assert query["layers"] == ["relics,farming_zones"] and query["relics.rank"] == ["national"]
    with page.expect_download() as download:
        page.click("#download-link")
    path = tmp_path / "what-i-see.gpkg"
    download.value.save_as(path)

    bbox = query["bbox"][0]
    relics = pyogrio.read_dataframe(path, layer="relics")
    zones = pyogrio.read_dataframe(path, layer="farming_zones")
    assert set(relics["id"].astype(int)) == shown_ids(client, "relics", bbox, rank="national")
    assert set(zones["id"].astype(int)) == shown_ids(client, "farming_zones", bbox)
    assert len(relics) > 0 and set(relics["rank"]) == {"national"}
    assert len(zones) > 0

    page.goto(f"{live_server}/stats")
    page.wait_for_function(
        """() => {
            const canvases = [...document.querySelectorAll("canvas")];
            return canvases.length > 0 && canvases.every((c) => window.Chart && Chart.getChart(c));
        }"""
    )
    painted = page.evaluate(
        """() => [...document.querySelectorAll("canvas")].map((canvas) => {
            const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
            let inked = 0;
            for (let i = 3; i < data.length; i += 4) if (data[i] > 0) inked++;
            return inked;
        })"""
    )
    assert painted and all(n > 100 for n in painted)
    assert not page_errors


def test_export_page_builds_the_address_and_downloads_the_filtered_file(page, live_server, client, tmp_path, page_errors):
    page.goto(f"{live_server}/export")
    for box in page.locator('input[name="layers"]').all():
        if box.get_attribute("value") != "relics":
            box.uncheck()
    page.select_option("#export-format", "csv")
    expect(page.locator("#csv-geometry")).to_be_visible()
    page.select_option('select[name="geometry"]', "lonlat")
    page.select_option('select[name="relics.kind"]', "temple")
    expect(page.locator('fieldset[data-layer="farming_zones"]')).to_be_hidden()
    link = page.locator("#export-link")
    expect(link).to_contain_text("format=csv")
    query = parse_qs(urlsplit(link.get_attribute("href")).query)
    assert query == {"layers": ["relics"], "format": ["csv"], "geometry": ["lonlat"], "relics.kind": ["temple"]}

    with page.expect_download() as download:
        page.click('#export-form button[type="submit"]')
    path = tmp_path / "temples.csv"
    download.value.save_as(path)
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    rows = pyogrio.read_dataframe(path, read_geometry=False)
    temples = client.get("/ogc/collections/relics/items?kind=temple&limit=1000").get_json()["features"]
    assert sorted(rows["id"].astype(int)) == sorted(f["id"] for f in temples) and len(temples) > 0
    assert {"longitude", "latitude"} <= set(rows.columns)

    # Two layers in a one-layer format: the page says why instead of downloading.
    page.check('input[name="layers"][value="craft_villages"]')
    page.select_option("#export-format", "kml")
    expect(page.locator("#export-error")).to_be_visible()
    assert not page_errors
