"""Settings read from the environment."""

from __future__ import annotations

import pytest

from app import create_app
from app.config import DEFAULT_BOUNDS, bounds


def test_the_working_area_is_read_as_a_box_in_degrees():
    assert bounds(None) == bounds("") == DEFAULT_BOUNDS
    assert bounds("105.3, 20.0, 106.0,20.7") == (105.3, 20.0, 106.0, 20.7)


@pytest.mark.parametrize("text", ["105,20,106", "a,b,c,d", "106,20,105,21", "105,21,106,20", "105,20,181,21"])
def test_a_working_area_that_is_no_box_stops_the_app_with_its_name(text):
    with pytest.raises(ValueError, match="VUNG_WORKING_AREA"):
        bounds(text)


def test_another_province_sets_its_working_area(database_url, monkeypatch):
    """Thái Bình, across the river: its area, which edits and imports check, and where the map opens."""
    monkeypatch.setenv("VUNG_WORKING_AREA", "106.1,20.3,106.7,20.75")
    app = create_app({"DATABASE_URL": database_url, "TESTING": True, "SECRET_KEY": "test"})
    try:
        assert app.config["WORKING_AREA"] == app.config["MAP_BOUNDS"] == (106.1, 20.3, 106.7, 20.75)
    finally:
        app.extensions["vung_db"].dispose()
