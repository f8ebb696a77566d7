"""gzip for clients that accept it: the same bytes once unpacked, the same ETags, downloads untouched."""

from __future__ import annotations

import gzip

import pytest

from tests.conftest import SESSION_CSRF, signed_in
from tests.writing import (  # noqa: F401  (clean_features is an autouse fixture)
    INSIDE,
    clean_features,
    farming_body,
    free_cell,
    items_url,
    square,
)

GZIP = {"Accept-Encoding": "gzip, deflate, br"}


def unpacked(response) -> bytes:
    assert response.headers.get("Content-Encoding") == "gzip", response.headers
    assert int(response.headers["Content-Length"]) == len(response.get_data())
    return gzip.decompress(response.get_data())


@pytest.mark.parametrize(
    "address",
    ["/ogc/collections/admin_units/items?limit=1000", "/ogc/collections/relics/items?f=html", "/",
     "/static/vendor/leaflet/leaflet.js", "/ogc/api", "/tiles/admin_units/8/203/113.pbf"],
)
def test_a_large_answer_is_compressed_and_unpacks_to_the_same_bytes(client, address):
    plain = client.get(address)
    packed = client.get(address, headers=GZIP)
    assert plain.status_code == packed.status_code == 200
    assert "Content-Encoding" not in plain.headers
    assert unpacked(packed) == plain.get_data()
    assert len(packed.get_data()) < len(plain.get_data()) / 2
    assert "Accept-Encoding" in packed.headers["Vary"] and "Accept-Encoding" in plain.headers["Vary"]
    if address.startswith("/static/"):  # the file's ETag names its bytes: weak once they are compressed
        assert packed.get_etag() == (plain.get_etag()[0], True)
    else:
        assert packed.headers.get("ETag") == plain.headers.get("ETag")


def test_small_answers_and_downloads_go_as_they_are(client):
    assert "Content-Encoding" not in client.get("/healthz", headers=GZIP).headers
    download = client.get("/export/relics?format=geojson", headers=GZIP)
    assert download.status_code == 200 and "Content-Encoding" not in download.headers
    assert download.get_data().startswith(b"{")


def test_an_unchanged_feature_is_still_304_and_uncompressed(client):
    first = client.get("/ogc/collections/relics/items/1", headers=GZIP)
    assert first.status_code == 200
    again = client.get("/ogc/collections/relics/items/1", headers={**GZIP, "If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and not again.get_data() and "Content-Encoding" not in again.headers


def test_the_etag_of_a_compressed_read_is_accepted_by_a_write(app, make_user, engine):
    """An editor's browser always accepts gzip: the version it reads must still match If-Match."""
    editor = signed_in(app, make_user("z-editor", "editor", layers=["farming_zones"], districts=[INSIDE]))
    csrf = {"X-CSRF-Token": SESSION_CSRF}
    x, y = free_cell(engine, INSIDE)
    # A long description: the read is large enough to be compressed.
    body = farming_body(square(x, y), description="Ruộng lúa hai vụ ven đê. " * 100)
    created = editor.post(items_url("farming_zones"), json=body, headers=csrf)
    assert created.status_code == 201
    fid = created.get_json()["id"]
    read = editor.get(items_url("farming_zones", fid), headers=GZIP)
    assert read.status_code == 200 and read.headers["Content-Encoding"] == "gzip"
    changed = editor.patch(
        items_url("farming_zones", fid), json={"properties": {"season": "mùa"}},
        headers={"If-Match": read.headers["ETag"], **GZIP, **csrf},
    )
    assert changed.status_code == 200, changed.get_data(as_text=True)


def test_it_can_be_turned_off_for_a_proxy_that_compresses(app):
    app.config["COMPRESS"] = False
    try:
        response = app.test_client().get("/ogc/collections/admin_units/items?limit=1000", headers=GZIP)
    finally:
        app.config["COMPRESS"] = True
    assert response.status_code == 200 and "Content-Encoding" not in response.headers


def test_head_answers_with_the_headers_get_would_have(client):
    address = "/ogc/collections/admin_units/items?limit=1000"
    head, get = client.head(address, headers=GZIP), client.get(address, headers=GZIP)
    assert head.status_code == 200 and not head.get_data()
    for name in ("Content-Encoding", "Content-Length", "Vary", "Content-Type"):
        assert head.headers.get(name) == get.headers.get(name), name


def test_a_csv_download_names_its_charset_once(client):
    assert client.get("/export/relics?format=csv").headers["Content-Type"] == "text/csv; charset=utf-8"


def test_pages_of_logged_in_users_are_not_compressed(app, make_user):
    """They carry the CSRF token: compressed beside reflected input, their size could betray it (BREACH)."""
    officer = signed_in(app, make_user("z-officer", "editor", layers=["farming_zones"]))
    page = officer.get("/edit?q=" + "x" * 2000, headers=GZIP)
    assert page.status_code == 200 and "Content-Encoding" not in page.headers
    data = officer.get("/ogc/collections/admin_units/items?limit=1000", headers=GZIP)
    assert data.headers.get("Content-Encoding") == "gzip"  # data holds no token: still compressed


def test_a_compressed_static_file_has_a_weak_etag_and_no_ranges_but_still_revalidates(client):
    packed = client.get("/static/js/map.js", headers=GZIP)
    assert packed.headers["ETag"].startswith('W/"') and "Accept-Ranges" not in packed.headers
    assert client.get("/static/js/map.js", headers={**GZIP, "If-None-Match": packed.headers["ETag"]}).status_code == 304
    plain = client.get("/static/js/map.js")
    assert not plain.headers["ETag"].startswith("W/") and plain.headers["Accept-Ranges"] == "bytes"
    part = client.get("/static/js/map.js", headers={**GZIP, "Range": "bytes=0-9"})
    assert part.status_code == 206 and "Content-Encoding" not in part.headers and part.get_data() == plain.get_data()[:10]
