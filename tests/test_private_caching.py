"""What only logged-in users may read is not kept by shared caches; public answers are left alone."""

from __future__ import annotations

import dataclasses

import pytest

from layers import REGISTRY
from tests.conftest import signed_in

PRIVATE_ANSWERS = [
    "/ogc/collections/relics/items?limit=2",
    "/export/relics?format=geojson",
    "/stats?f=json",
]


@pytest.mark.parametrize("url", PRIVATE_ANSWERS)
def test_answers_from_a_private_layer_are_private(app, make_user, monkeypatch, url):
    monkeypatch.setitem(REGISTRY, "relics", dataclasses.replace(REGISTRY["relics"], public=False))
    viewer = signed_in(app, make_user("cache-viewer", "viewer"))
    response = viewer.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)[:200]
    assert response.headers["Cache-Control"] == "private, no-store"


@pytest.mark.parametrize("url", PRIVATE_ANSWERS)
def test_public_answers_are_left_to_the_caches(client, url):
    response = client.get(url)
    assert response.status_code == 200
    assert "no-store" not in response.headers.get("Cache-Control", "")
