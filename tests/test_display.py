"""Values as people read them (layers.base.Field.display): the feature page and KML descriptions agree."""

from __future__ import annotations

import html

import pyogrio
from sqlalchemy import text


def illustrative_zone(engine) -> tuple[int, float]:
    with engine.connect() as c:
        return tuple(
            c.execute(text("SELECT id, area_ha FROM farming_zones WHERE illustrative AND area_ha > 0 ORDER BY id LIMIT 1")).one()
        )


def test_the_feature_page_reads_yes_no_and_areas_with_their_unit(client, engine):
    zone, area = illustrative_zone(engine)
    page = html.unescape(client.get(f"/farming_zones/{zone}?lang=en").get_data(as_text=True))
    assert "Yes" in page and f"{area:,.2f} ha" in page
    assert "Có" in html.unescape(client.get(f"/farming_zones/{zone}?lang=vi").get_data(as_text=True))


def test_kml_descriptions_read_as_the_feature_page(client, engine, tmp_path):
    zone, area = illustrative_zone(engine)
    response = client.get("/export/farming_zones?format=kml&lang=en")
    assert response.status_code == 200
    path = tmp_path / "zones.kml"
    path.write_bytes(response.data)
    frame = pyogrio.read_dataframe(path)
    descriptions = "".join(frame["Description"])
    assert "<th>Illustrative shape</th><td>Yes</td>" in descriptions
    assert f"<th>Area</th><td>{area:,.2f} ha</td>" in descriptions
    assert "<td>True</td>" not in descriptions
