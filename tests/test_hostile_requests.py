"""Requests a client can send that once made a 500: each now gets a clear 400 or 422 and changes nothing."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

import pytest
from sqlalchemy import text

from tests.conftest import SESSION_CSRF, signed_in
from tests.importing import count
from tests.writing import (  # noqa: F401  (clean_features is an autouse fixture)
    INSIDE,
    clean_features,
    farming_body,
    free_cell,
    layer_state,
    new_token,
    square,
)

ITEMS = "/ogc/collections/relics/items"
# Two polygons sharing area: each valid, so the collection is too for shapely, but GEOS cannot test against it.
OVERLAPPING = (
    "GEOMETRYCOLLECTION(POLYGON((106 20,106.5 20,106.5 21,106 21,106 20)),"
    "POLYGON((106.3 20,107 20,107 21,106.3 21,106.3 20)))"
)
SIDE_BY_SIDE = (
    "GEOMETRYCOLLECTION(POLYGON((106 20,106.3 20,106.3 21,106 21,106 20)),"
    "POLYGON((106.3 20,107 20,107 21,106.3 21,106.3 20)))"
)


@pytest.mark.parametrize(("path", "raw", "status"), [
    ("/healthz", "\xff", 200),  # bytes that are not UTF-8, sent as they are, not %-escaped
    ("/", "q=\xe9", 200),
    (ITEMS, "limit=\xff", 400),
    (ITEMS, "\xff", 400),
    ("/static/js/map.js", "v=\xff", 200),
])
def test_raw_bytes_in_the_query_string_are_read_like_percent_escapes(client, path, raw, status):
    response = client.get(path, environ_overrides={"QUERY_STRING": raw})
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    if status == 400:
        assert "%FF" in response.get_json()["description"]


def test_raw_utf8_in_the_query_string_still_means_its_text(client):
    """A client that sends UTF-8 unescaped (`?q=đền`) is understood as before."""
    raw = "q=" + "đền".encode().decode("latin-1")
    found = client.get(ITEMS, environ_overrides={"QUERY_STRING": raw}).get_json()
    assert found["numberMatched"] == client.get(ITEMS, query_string={"q": "đền"}).get_json()["numberMatched"] > 0


@pytest.mark.parametrize("field", ["username", "password"])
def test_nul_in_a_login_form_is_a_400(client, field):
    client.get("/login")
    with client.session_transaction() as session:
        session["csrf"] = SESSION_CSRF
    form = {"username": "someone", "password": "secret", "csrf_token": SESSION_CSRF} | {field: "a\x00b"}
    response = client.post("/login", data=form)
    assert response.status_code == 400 and "NUL" in response.get_data(as_text=True)


def test_nul_in_an_admin_form_is_a_400_and_creates_nothing(app, make_user, engine):
    admin = signed_in(app, make_user("hostile_admin", "admin"))
    with engine.connect() as c:
        before = count(c, "users")
    response = admin.post("/admin/users", data={"username": "x\x00y", "password": "long enough password", "role": "viewer",
                                                "csrf_token": SESSION_CSRF})
    assert response.status_code == 400
    with engine.connect() as c:
        assert count(c, "users") == before


@pytest.fixture()
def editor(app, make_user):
    return signed_in(app, make_user("hostile_editor", "editor", layers=["farming_zones"], districts=[INSIDE]))


@pytest.mark.parametrize(("body", "says"), [
    pytest.param("[" * 5000 + "]" * 5000, "nested too deeply", id="deep"),
    pytest.param('{"type": "Feature", "properties": {"name": "\\ud800", "crop": "rice"}, "geometry": null}', "surrogate",
                 id="surrogate-value"),
    pytest.param('{"\\udfff": 1}', "surrogate", id="surrogate-key"),
    pytest.param('{"type": "Feature", "properties": {"\\ud800x": "y"}}', "surrogate", id="surrogate-property"),
    pytest.param("{not json", "not valid JSON", id="not-json"),
    pytest.param("\xff\xfe{", "not valid JSON", id="not-utf8"),
])
def test_json_bodies_that_cannot_be_a_feature_are_a_400_and_write_nothing(editor, engine, body, says):
    before = layer_state(engine, "farming_zones")
    for method, url in (("post", "/ogc/collections/farming_zones/items"), ("put", "/ogc/collections/farming_zones/items/1"),
                        ("post", "/edit/validate/farming_zones")):
        data = body.encode("latin-1") if "\xff" in body else body.encode()
        response = getattr(editor, method)(url, data=data, content_type="application/json",
                                           headers={"X-CSRF-Token": SESSION_CSRF})
        assert response.status_code == 400, (url, response.status_code, response.get_data(as_text=True)[:300])
        assert says in response.get_json()["description"], (url, response.get_json())
    assert layer_state(engine, "farming_zones") == before


def test_a_valid_feature_still_goes_in(editor, engine):
    """The stricter reading of bodies keeps what was fine: a real feature, with an emoji (a surrogate pair in JSON)."""
    x, y = free_cell(engine, INSIDE)
    body = farming_body(square(x, y), name="zz-test vườn \U0001F33E")
    response = editor.post("/ogc/collections/farming_zones/items", json=body, headers={"X-CSRF-Token": SESSION_CSRF})
    assert response.status_code == 201, response.get_data(as_text=True)
    fid = response.get_json()["id"]
    with engine.connect() as c:
        assert c.execute(text("SELECT name FROM farming_zones WHERE id = :id"), {"id": fid}).scalar_one().endswith("\U0001F33E")


@pytest.mark.parametrize(("path", "extra"), [(ITEMS, {}), (ITEMS, {"f": "html"}), ("/tiles/relics.json", {}),
                                           ("/tiles/relics/0/0/0.pbf", {}), ("/export/relics", {})])
def test_a_collection_of_overlapping_polygons_is_a_400_not_a_geos_failure(client, path, extra):
    for predicate in ("S_INTERSECTS", "S_WITHIN", "S_TOUCHES"):
        response = client.get(path, query_string={"filter": f"{predicate}(geometry, {OVERLAPPING})", **extra})
        assert response.status_code == 400, (path, predicate, response.get_data(as_text=True)[:300])
        assert "overlap" in response.get_data(as_text=True)
    side_by_side = client.get(path, query_string={"filter": f"S_INTERSECTS(geometry, {SIDE_BY_SIDE})", **extra})
    assert side_by_side.status_code == 200


@pytest.mark.parametrize("character", ["\ufffe", "\uffff", "\x0b", "\x1b"])
def test_characters_xml_cannot_hold_are_refused_in_text(editor, engine, character):
    """Once stored they broke every KML export of the layer."""
    x, y = free_cell(engine, INSIDE)
    response = editor.post("/ogc/collections/farming_zones/items?lang=en", json=farming_body(square(x, y), name=f"zz-test {character} ruộng"),
                           headers={"X-CSRF-Token": SESSION_CSRF})
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.get_json()["errors"] == [{"field": "name", "message": "must not contain control characters"}]


def test_tabs_and_line_breaks_stay_allowed(editor, engine):
    x, y = free_cell(engine, INSIDE)
    body = farming_body(square(x, y), owner="HTX\tĐông\r\nXã Nam")
    response = editor.post("/ogc/collections/farming_zones/items", json=body, headers={"X-CSRF-Token": SESSION_CSRF})
    assert response.status_code == 201, response.get_data(as_text=True)


@pytest.mark.parametrize("collection", [
    # Interiors meeting along a sliver 1e-11 degrees wide: the areas barely differ.
    "GEOMETRYCOLLECTION(POLYGON((106 20,106.3 20,106.3 21,106 21,106 20)),"
    "POLYGON((106.29999999999 20,107 20,107 21,106.29999999999 21,106.29999999999 20)))",
    # One vertex a hair into the neighbour.
    "GEOMETRYCOLLECTION(POLYGON((106 20,106.3 20,106.300000000001 20.5,106.3 21,106 21,106 20)),"
    "POLYGON((106.3 20,107 20,107 21,106.3 21,106.3 20)))",
])
def test_even_a_thin_overlap_in_a_collection_is_a_400(client, collection):
    for predicate in ("S_INTERSECTS", "S_WITHIN", "S_DISJOINT"):
        response = client.get(ITEMS, query_string={"filter": f"{predicate}(geometry, {collection})"})
        assert response.status_code == 400, (predicate, response.get_data(as_text=True)[:300])



def chunked(server: str, token: str, path: str, body: bytes, content_type: str) -> tuple[int, bytes]:
    """POST `body` to the live server as a client streaming it would: in chunks, with no Content-Length."""
    connection = http.client.HTTPConnection(urlsplit(server).netloc, timeout=30)
    try:
        connection.request("POST", path, body=iter([body[:1000], body[1000:]]), encode_chunked=True,
                           headers={"Authorization": f"Bearer {token}", "Content-Type": content_type})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@pytest.fixture()
def streaming_editor(make_user, engine) -> str:
    """An API token of an editor of farming zones."""
    make_user("hostile_streamer", "editor", layers=["farming_zones"], districts=[INSIDE])
    return new_token(engine, "hostile_streamer")


@pytest.fixture()
def small_limit(app):
    """The app taking bodies of at most 4 kB, for one test."""
    before = app.config["MAX_CONTENT_LENGTH"]
    app.config["MAX_CONTENT_LENGTH"] = 4096
    yield
    app.config["MAX_CONTENT_LENGTH"] = before


def test_a_chunked_body_beyond_the_limit_is_a_413_not_broken_json(live_server, streaming_editor, engine, small_limit):
    before = layer_state(engine, "farming_zones")
    body = json.dumps(farming_body(square(106.2, 20.4), name="x" * 5000)).encode()
    status, answer = chunked(live_server, streaming_editor, "/ogc/collections/farming_zones/items", body,
                             "application/geo+json")
    assert status == 413, answer[:300]
    assert json.loads(answer)["code"]
    assert layer_state(engine, "farming_zones") == before


def test_a_chunked_upload_beyond_the_limit_is_a_413(live_server, streaming_editor, small_limit):
    """Werkzeug's form parser gives this 413 itself: kept so that the request class never loses it."""
    boundary = "vungboundary"
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.geojson"\r\n'
            "Content-Type: application/geo+json\r\n\r\n").encode() + b" " * 8000 + f"\r\n--{boundary}--\r\n".encode()
    status, answer = chunked(live_server, streaming_editor, "/import/upload", body, f"multipart/form-data; boundary={boundary}")
    assert status == 413, answer[:300]


def test_a_chunked_body_within_the_limit_is_read_whole(live_server, streaming_editor, engine):
    x, y = free_cell(engine, INSIDE)
    body = json.dumps(farming_body(square(x, y), name="zz-test gửi từng khúc")).encode()
    status, answer = chunked(live_server, streaming_editor, "/ogc/collections/farming_zones/items", body,
                             "application/geo+json")
    assert status == 201, answer[:300]
    assert json.loads(answer)["properties"]["name"] == "zz-test gửi từng khúc"


@pytest.mark.parametrize("path", ["/ogc", "/ogc/", "/ogc/conformance", "/ogc/collections/relics"])
@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_a_method_a_resource_does_not_take_is_a_405(client, path, method):
    response = getattr(client, method)(path)
    assert response.status_code == 405, (method, path, response.status_code)
    assert response.get_json()["code"]
    assert "GET" in response.headers["Allow"]
