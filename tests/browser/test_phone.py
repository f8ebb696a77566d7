"""The public map on phones: small screens upright and on their side, touch, both languages."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import text

from tests.browser.test_map import open_map, shoot

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
    assert inside(box(page, ".leaflet-popup-content-wrapper"), box(page, "#map"))
    assert content.evaluate("node => node.scrollHeight > node.clientHeight")
    content.locator("a.popup-link").scroll_into_view_if_needed()
    expect(content.locator("a.popup-link")).to_be_in_viewport()
    shoot(page, "landscape-popup")
    assert page_errors == []
