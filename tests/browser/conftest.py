"""Browser fixtures: the app on a real port and Debian's Chromium driven by Playwright.

Only requests to the live server reach the network; base-map tiles and any
other outside address are answered locally so the tests never leave the machine.
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect, sync_playwright
from sqlalchemy import text

from tests.live import serving
from tests.writing import PASSWORD  # the one test password, imported from here by the browser tests

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-gpu",
]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def png_pixel(red: int, green: int, blue: int) -> bytes:
    """A 1x1 PNG, built here rather than pasted in as an opaque blob."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(bytes([0, red, green, blue]))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


# Every map tile is answered with one pale land-coloured pixel.
BLANK_TILE = png_pixel(0xF2, 0xEF, 0xE9)


@pytest.fixture(scope="session")
def bare_live_server(engine, database_url) -> Iterator[str]:
    """The app configured without a base map (an empty tile URL)."""
    from app import create_app

    bare = create_app({"DATABASE_URL": database_url, "TESTING": True, "SECRET_KEY": "test", "TILE_URL": ""})
    with serving(bare) as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def keep_local(context, live_server: str) -> None:
    """Serve the app's own requests; answer everything else without the network."""
    own = urlsplit(live_server).netloc

    def handle(route):
        url = urlsplit(route.request.url)
        if url.netloc == own or url.scheme in ("data", "blob"):
            route.continue_()
        elif route.request.resource_type == "image":
            route.fulfill(status=200, content_type="image/png", body=BLANK_TILE)
        else:
            route.abort()

    context.route("**/*", handle)


def open_context(browser, live_server: str, viewport: dict, **options):
    context = browser.new_context(viewport=viewport, locale="vi-VN", **options)
    keep_local(context, live_server)
    return context


@pytest.fixture()
def page_errors() -> list[str]:
    return []


@pytest.fixture()
def new_page(browser, live_server, page_errors):
    """Open pages in contexts of their own (viewport, geolocation, permissions...)."""
    contexts = []

    def make(viewport: dict = DESKTOP, server: str | None = None, **options):
        context = open_context(browser, server or live_server, viewport, **options)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: page_errors.append(str(error)))
        return page

    yield make
    for context in contexts:
        context.close()


@pytest.fixture()
def context(browser, live_server):
    context = open_context(browser, live_server, DESKTOP)
    yield context
    context.close()


@pytest.fixture()
def page(context, page_errors):
    page = context.new_page()
    page.on("pageerror", lambda error: page_errors.append(str(error)))
    yield page
    page.close()


@pytest.fixture()
def phone_page(new_page):
    return new_page(PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)


def empty_spot(engine, clearance: float) -> dict:
    """District name and a point inside it with no farming zone within `clearance` degrees."""
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT d.name AS district, ST_Y(p) AS lat, ST_X(p) AS lon FROM admin_units d, "
                "LATERAL ST_PointOnSurface(d.geom) AS p "
                "WHERE d.level = 'district' AND NOT EXISTS ("
                "  SELECT 1 FROM farming_zones f WHERE ST_DWithin(f.geom, p, :clearance)) "
                "ORDER BY ST_Area(d.geom) DESC LIMIT 1"
            ),
            {"clearance": clearance},
        ).mappings().first()
    assert row is not None, "the sample has no empty district to work in"
    return dict(row)


def log_in_through(page, base: str, path: str, username: str, password: str = PASSWORD) -> None:
    """Open a page that needs a login, log in on the form, and land back on it."""
    page.goto(f"{base}{path}")
    expect(page).to_have_url(re.compile(rf"/login\?next={re.escape(path)}$"))
    page.fill("#username", username)
    page.fill("#password", password)
    page.click(".login-submit")
    expect(page).to_have_url(re.compile(rf"{re.escape(path)}$"))
