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


@pytest.mark.parametrize("url", ["/ogc/collections/relics/items?limit=2", "/ogc/collections/relics/items?limit=2&f=html",
                                 "/ogc/collections/relics/items/{id}", "/ogc/collections/relics/items/{id}?f=html"])
def test_visitors_reads_of_public_data_are_shared_a_while_and_officers_always_fresh(app, client, make_user, engine, url):
    """A festival day's crowd reads the same relics: caches may answer for a minute. A logged-in reader,
    who may have just saved, always gets the data as it is now."""
    address = url.format(id=some_relic(engine))
    visitor = client.get(address)
    assert visitor.status_code == 200
    assert visitor.cache_control.public and visitor.cache_control.max_age == app.config["TILES_MAX_AGE"]
    officer = signed_in(app, make_user("cache-officer", "editor", layers=["relics"])).get(address)
    assert officer.status_code == 200 and officer.headers["Cache-Control"] == "private, no-store"


def test_private_layers_are_never_shared(app, make_user, private_relics):
    viewer = signed_in(app, make_user("cache-viewer3", "viewer"))
    response = viewer.get("/ogc/collections/relics/items?limit=2")
    assert response.status_code == 200 and not response.cache_control.public
