"""A photo is a kind of field, not a field's name: whatever a layer calls it, the detail page shows it
above its table, a published map leaves it out, and it is checked, stored and filtered as an address."""

from __future__ import annotations

import dataclasses
import re
from html import unescape

import pytest

from app.openapi import field_schema
from app.pages import table_fields
from gis.cql2 import compile_filter
from layers import REGISTRY
from layers.base import Field, Layer, Style, description_fields, name_fields, place_fields
from layers.check import check_layer
from layers.publish import published_properties
from layers.query import layer_queryables
from layers.tables import column_type
from layers.validate import check_value
from tests.test_publish import collections, publish

PORTRAITS = Layer(
    id="test_portraits",
    vi="Chân dung",
    en="Portraits",
    geometry="Point",
    style=Style(color="#4a148c", fill_color="#7b1fa2"),
    fields=(
        *name_fields("Tên"),
        Field("anh_dai_dien", "photo", "Ảnh đại diện", "Portrait", popup=True),
        Field("website", "url", "Trang web", "Website", popup=True),
        *description_fields(popup=True),
        *place_fields(),
    ),
)
PHOTO = PORTRAITS.field("anh_dai_dien")
WEBSITE = PORTRAITS.field("website")
PICTURE = "https://example.org/den-tran.jpg"


def test_a_layer_declares_its_photo_by_kind_under_any_name():
    check_layer(PORTRAITS)
    assert PORTRAITS.photos == (PHOTO,)
    assert PHOTO.config("en")["kind"] == "photo"
    assert [f.name for f in REGISTRY["relics"].photos] == ["photo"]
    assert [f.name for f in REGISTRY["craft_villages"].photos] == ["photo"]


def test_a_published_map_leaves_photos_out_whatever_their_name():
    carried = published_properties(PORTRAITS)
    assert "anh_dai_dien" not in carried
    assert {"name", "name_en", "website", "description", "description_en"} <= set(carried)


def test_the_detail_pages_table_leaves_photos_out_whatever_their_name():
    listed = [f.name for f in table_fields(PORTRAITS, {"name", "description"})]
    assert "anh_dai_dien" not in listed
    assert {"name_en", "website", "description_en", "district", "commune"} <= set(listed)
    assert "district_code" not in listed and "commune_code" not in listed


def test_a_photo_is_checked_stored_and_filtered_as_an_address():
    assert check_value(PHOTO, f"  {PICTURE} ") == (PICTURE, None)
    assert check_value(PHOTO, "javascript:alert(1)") == (None, "must be an http(s) address")
    assert check_value(PHOTO, 3) == (None, "must be text")
    assert PHOTO.is_url and PHOTO.is_free_text
    assert type(column_type(PHOTO)) is type(column_type(WEBSITE))
    assert field_schema(PHOTO) == {**field_schema(WEBSITE), "title": "Portrait"}
    sql = compile_filter("anh_dai_dien LIKE 'https://%'", layer_queryables(PORTRAITS))
    assert "t.anh_dai_dien" in sql.sql and "https://%" in sql.params.values()


@pytest.fixture()
def address_as_photo(monkeypatch):
    """Relics whose address is declared a photo shown in popups: a photo field not called photo, on a table that has it."""
    layer = REGISTRY["relics"]
    fields = tuple(
        dataclasses.replace(f, kind="photo", popup=True) if f.name == "address" else f for f in layer.fields
    )
    patched = dataclasses.replace(layer, fields=fields)
    check_layer(patched)
    monkeypatch.setitem(REGISTRY, "relics", patched)
    return patched


@pytest.fixture()
def pictured_relic(committed) -> int:
    return committed(
        "relics", "name, kind, rank, address, photo, geom",
        ":name, 'temple', 'unranked', :address, :photo, ST_SetSRID(ST_MakePoint(106.17, 20.43), 4326)",
        {"name": "Đền có hai ảnh", "address": PICTURE, "photo": "https://example.org/photo.jpg"},
    )


def test_the_detail_page_shows_every_photo_above_its_table(client, address_as_photo, pictured_relic):
    page = unescape(client.get(f"/relics/{pictured_relic}?lang=en").get_data(as_text=True))
    table = page.index('<table class="props">')
    photos = re.findall(r'<img class="photo" src="([^"]*)"', page)
    assert photos == [PICTURE, "https://example.org/photo.jpg"]
    assert all(page.index(src) < table for src in photos)
    headings = re.findall(r"<th>([^<]*)</th>", page[table:page.index("</table>")])
    assert "Address" not in headings and "Photo" not in headings and "Kind" in headings


def test_a_published_map_carries_no_photo_under_another_name(client, address_as_photo, pictured_relic):
    html = publish(client, layers="relics", q="Đền có hai ảnh").get_data(as_text=True)
    feature = next(f for f in collections(html)["relics"]["features"] if f["id"] == pictured_relic)
    assert "address" not in feature["properties"] and "photo" not in feature["properties"]
    assert PICTURE not in html
