"""Answers to logged-in users are not kept by shared caches; public answers are left alone."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.conftest import signed_in

PRIVATE_ANSWERS = [
    "/ogc/collections/relics/items?limit=2",
    "/export/relics?format=geojson",
    "/stats?f=json",
]


@pytest.mark.parametrize("url", PRIVATE_ANSWERS)
def test_answers_from_a_private_layer_are_private(app, make_user, private_relics, url):
    viewer = signed_in(app, make_user("cache-viewer", "viewer"))
    response = viewer.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)[:200]
    assert response.headers["Cache-Control"] == "private, no-store"


@pytest.mark.parametrize("url", PRIVATE_ANSWERS)
def test_public_answers_are_left_to_the_caches(client, url):
    response = client.get(url)
    assert response.status_code == 200
    assert "no-store" not in response.headers.get("Cache-Control", "")


def some_relic(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT min(id) FROM relics")).scalar_one()


@pytest.mark.parametrize("path", ["/edit", "/import", "/ogc/collections/relics/items/{id}/history", "/admin"])
def test_pages_of_a_logged_in_user_are_private_even_over_public_layers(app, make_user, engine, path):
    admin = signed_in(app, make_user("cache-admin", "admin"))
    response = admin.get(path.format(id=some_relic(engine)))
    assert response.status_code == 200, response.get_data(as_text=True)[:200]
    assert response.headers["Cache-Control"] == "private, no-store"


def test_what_is_the_same_for_everyone_stays_cacheable_for_logged_in_users(app, make_user):
    viewer = signed_in(app, make_user("cache-viewer2", "viewer"))
    static = viewer.get("/static/js/popup.js")
    assert static.status_code == 200 and "no-store" not in static.headers.get("Cache-Control", "")
    tile = viewer.get("/tiles/relics/0/0/0.pbf")
    assert tile.status_code == 200 and tile.cache_control.public and "no-store" not in tile.headers["Cache-Control"]
