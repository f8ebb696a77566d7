"""The statistics page in a real browser: charts drawn from the same figures as the tables."""

from __future__ import annotations

import csv
import io
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import PASSWORD
from tests.places import district_off_the_coast

XSS_NAME = '<img src=x onerror="window.__xss=1">Huyện<script>window.__xss=1</script>'

CHARTS_DRAWN = """() => {
    const canvases = [...document.querySelectorAll("canvas.stats-canvas")];
    return canvases.length > 0 && canvases.every((c) => window.Chart && Chart.getChart(c));
}"""

# What the page shows for one table: the table's cells and the chart's data.
READ_TABLE = """(id) => {
    const table = document.getElementById(`table-${id}`);
    const kinds = [...table.tHead.rows[0].cells].map((c) => c.className.replace("stats-col-", ""));
    const rows = [...table.tBodies[0].rows]
        .filter((r) => !r.querySelector(".stats-none"))
        .map((r) => [...r.cells].map((c) => c.dataset.value ?? c.textContent.trim()));
    const total = [...table.tFoot.rows[0].querySelectorAll("td")].map((c) => Number(c.dataset.value));
    const canvas = document.getElementById(`chart-${id}`);
    const chart = canvas && window.Chart ? Chart.getChart(canvas) : null;
    return {
        kinds, rows, total,
        chart: chart && {
            labels: chart.data.labels,
            datasets: chart.data.datasets.map((d) => ({ label: d.label, data: d.data })),
        },
    };
}"""

# Pixels of the canvas that are not transparent: the chart was painted.
PAINTED = """(id) => {
    const canvas = document.getElementById(`chart-${id}`);
    const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    let painted = 0;
    for (let i = 3; i < pixels.length; i += 4) if (pixels[i] !== 0) painted += 1;
    return painted;
}"""


def table_ids(page: Page) -> list[str]:
    return page.eval_on_selector_all("table.stats-table", "nodes => nodes.map(n => n.dataset.table)")


def open_stats(page: Page, base: str, query: str = "") -> None:
    page.goto(f"{base}/stats{query}")
    page.wait_for_function(CHARTS_DRAWN)


def wait_for_update(page: Page, name: str, value: str) -> None:
    page.wait_for_function(
        """([name, value]) => new URL(location.href).searchParams.get(name) === value
            && !document.getElementById("stats-results").hasAttribute("aria-busy")""",
        arg=[name, value],
    )
    page.wait_for_function(CHARTS_DRAWN)


def shown_cells(shown: dict) -> dict[tuple[str, str], float]:
    """(place, category) -> value, from the table's rows."""
    kinds = shown["kinds"]
    places = [i for i, k in enumerate(kinds) if k == "place"]
    groups = [i for i, k in enumerate(kinds) if k == "group"]
    measure = kinds.index("area") if "area" in kinds else kinds.index("count")
    cells: dict[tuple[str, str], float] = {}
    for row in shown["rows"]:
        names = [row[i] for i in places]
        place = names[0] if len(names) == 1 else f"{names[1]} ({names[0]})"
        category = " · ".join(row[i] for i in groups)
        cells[(place, category)] = float(row[measure])
    return cells


def charted_cells(chart: dict) -> dict[tuple[str, str], float]:
    cells = {}
    for dataset in chart["datasets"]:
        for place, value in zip(chart["labels"], dataset["data"], strict=True):
            if value is not None:
                cells[(place, dataset["label"])] = value
    return cells


def assert_chart_matches_table(page: Page, table_id: str) -> dict:
    shown = page.evaluate(READ_TABLE, table_id)
    assert shown["rows"], f"{table_id} shows no rows"
    assert shown["chart"] is not None, f"{table_id} has no chart"
    table, chart = shown_cells(shown), charted_cells(shown["chart"])
    assert set(chart) == set(table), table_id
    for key, value in table.items():
        assert chart[key] == pytest.approx(value, abs=1e-9), (table_id, key)
    # The total row is the sum of the chart too (area tables: count then area).
    assert sum(chart.values()) == pytest.approx(shown["total"][-1], abs=1e-3)
    assert page.evaluate(PAINTED, table_id) > 500
    return shown


@pytest.fixture()
def planner(make_user) -> str:
    make_user("stats_planner", "viewer", PASSWORD)
    return "stats_planner"


def test_planner_opens_the_statistics_page_and_sees_the_charts(page, live_server, planner, page_errors):
    page.goto(f"{live_server}/login?next=/stats")
    page.fill("#username", planner)
    page.fill("#password", PASSWORD)
    page.click(".login-submit")
    expect(page).to_have_url(re.compile(r"/stats$"))
    page.wait_for_function(CHARTS_DRAWN)
    expect(page.locator("h1.stats-title")).to_be_visible()
    ids = table_ids(page)
    assert {"farming_crop", "farming_certification", "aquaculture_species", "relics_rank", "craft_villages_craft"} <= set(ids)
    for table_id in ids:
        expect(page.locator(f"#chart-{table_id}")).to_be_visible()
        expect(page.locator(f"#table-{table_id}")).to_be_visible()
        assert_chart_matches_table(page, table_id)
    # The figures the page shows are the JSON endpoint's.
    served = page.request.get(f"{live_server}/stats?f=json").json()
    for table in served["tables"]:
        shown = page.evaluate(READ_TABLE, table["id"])
        assert len(shown["rows"]) == len(table["rows"])
        assert shown["total"][0] == table["total"]["count"]
    assert page_errors == []


def test_changing_a_filter_updates_tables_and_charts(page, live_server, page_errors):
    open_stats(page, live_server)
    before = page.evaluate(READ_TABLE, "relics_rank")
    district = page.locator("#stats-district option").nth(1).get_attribute("value")
    page.select_option("#stats-district", district)
    wait_for_update(page, "district", district)
    after = assert_chart_matches_table(page, "relics_rank")
    assert 0 < after["total"][0] < before["total"][0]
    assert {row[0] for row in after["rows"]} == {district}
    served = page.request.get(f"{live_server}/stats", params={"f": "json", "district": district}).json()
    relics = next(t for t in served["tables"] if t["id"] == "relics_rank")
    assert after["total"][0] == relics["total"]["count"]

    page.select_option("#filter-relics-rank", "national")
    wait_for_update(page, "relics.rank", "national")
    national = assert_chart_matches_table(page, "relics_rank")
    assert national["total"][0] < after["total"][0]
    assert parse_qs(urlsplit(page.url).query)["district"] == [district]

    # Per commune: a column more, and the warning that communes are approximate.
    page.select_option("#stats-by", "commune")
    wait_for_update(page, "by", "commune")
    commune = assert_chart_matches_table(page, "relics_rank")
    assert commune["kinds"][:2] == ["place", "place"]
    expect(page.locator(".stats-approximate")).to_be_visible()

    # The address reopens the same figures.
    page.reload()
    page.wait_for_function(CHARTS_DRAWN)
    expect(page.locator("#filter-relics-rank")).to_have_value("national")
    assert page.evaluate(READ_TABLE, "relics_rank")["rows"] == commune["rows"]
    assert page_errors == []


def test_csv_download_has_the_filtered_table(page, live_server):
    open_stats(page, live_server)
    page.select_option("#filter-farming_zones-crop", "salt")
    wait_for_update(page, "farming_zones.crop", "salt")
    shown = page.evaluate(READ_TABLE, "farming_crop")
    link = page.locator('#stats-farming_crop a.stats-download[data-format="csv"]')
    with page.expect_download() as info:
        link.click()
    download = info.value
    assert download.suggested_filename == "farming_crop-district.csv"
    data = open(download.path(), "rb").read()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == ["Huyện/thành phố", "Cây trồng", "Số lượng", "Diện tích (ha)"]
    assert [r[:3] for r in rows[1:]] == [r[:3] for r in shown["rows"]]
    assert {r[1] for r in rows[1:]} == {"Muối"}
    assert [float(r[3]) for r in rows[1:]] == pytest.approx([float(r[3]) for r in shown["rows"]])


def test_english_page(page, live_server):
    open_stats(page, live_server, "?lang=en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#stats-farming_crop h2")).to_have_text("Farming area by crop")
    expect(page.locator("#table-farming_crop thead th").first).to_have_text("District")
    assert_chart_matches_table(page, "farming_crop")


def test_language_switch_keeps_the_filters(page, live_server):
    open_stats(page, live_server)
    page.select_option("#filter-relics-rank", "national")
    wait_for_update(page, "relics.rank", "national")
    page.click(".lang-link[data-lang=en]")
    page.wait_for_function(CHARTS_DRAWN)
    expect(page.locator("html")).to_have_attribute("lang", "en")
    query = parse_qs(urlsplit(page.url).query)
    assert (query["relics.rank"], query["lang"]) == (["national"], ["en"])
    expect(page.locator("#filter-relics-rank")).to_have_value("national")


def test_phone_layout(phone_page, live_server, page_errors):
    open_stats(phone_page, live_server)
    # Filters fold away on a phone; charts and tables fit the screen's width.
    assert phone_page.evaluate("document.getElementById('stats-filter-box').open") is False
    assert phone_page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    box = phone_page.locator("#chart-farming_crop").bounding_box()
    assert 0 < box["width"] <= 390
    phone_page.click(".stats-filter-summary")
    expect(phone_page.locator("#stats-district")).to_be_visible()
    assert page_errors == []


@pytest.fixture()
def xss_district(committed, engine):
    """A district whose name is HTML, off the coast, with one relic in it."""
    return district_off_the_coast(
        engine, committed, "xss-test", XSS_NAME,
        {"name": "Đền thử", "kind": "temple", "rank": "provincial"},
    )


def test_html_in_a_place_name_is_shown_as_text(page, live_server, xss_district):
    open_stats(page, live_server)
    cell = page.locator("#table-relics_rank td", has_text="window.__xss")
    expect(cell).to_have_text(XSS_NAME)
    assert cell.locator("*").count() == 0
    chart = page.evaluate(READ_TABLE, "relics_rank")["chart"]
    assert XSS_NAME in chart["labels"]
    # Filtering by it goes through the form and the address unharmed.
    page.select_option("#stats-district", XSS_NAME)
    wait_for_update(page, "district", XSS_NAME)
    shown = assert_chart_matches_table(page, "relics_rank")
    assert shown["total"][0] == 1
    assert page.evaluate("typeof window.__xss") == "undefined"
