"""Validation of writes, each rule with its message, and the values the server computes."""

from __future__ import annotations

import pytest
from pyproj import Geod
from sqlalchemy import text

from app import create_app
from tests.writing import (  # noqa: F401  (clean_features is an autouse fixture)
    INSIDE,
    MARK,
    OUTSIDE,
    add_user,
    aquaculture_body,
    clean_features,
    drop_users,
    error_of,
    farming_body,
    free_cell,
    history_of,
    insert_feature,
    items_url,
    layer_state,
    messages,
    new_token,
    row_of,
    session_login,
    snapshot,
    square,
    token_actor,
)

FARMING = "farming_zones"
AQUA = "aquaculture_areas"
GEOD = Geod(ellps="WGS84")
S = 0.002  # cell size in degrees, about 200 m


@pytest.fixture(scope="module")
def admin_token(engine):
    add_user(engine, "v-admin", "admin")
    yield new_token(engine, "v-admin")
    drop_users(engine, ["v-admin"])


@pytest.fixture()
def admin(app, admin_token):
    return token_actor(app, admin_token, "v-admin")


@pytest.fixture()
def cell(engine) -> tuple[float, float]:
    return free_cell(engine, INSIDE)


def bowtie(x: float, y: float) -> dict:
    return {"type": "Polygon", "coordinates": [[[x, y], [x + S, y + S], [x + S, y], [x, y + S], [x, y]]]}


def rejected(response, engine_state_before, engine, layer=FARMING) -> dict:
    body = error_of(response, 422, "ValidationFailed")
    assert isinstance(body["errors"], list) and body["errors"]
    assert layer_state(engine, layer) == engine_state_before
    return body


def geodesic_ha(rings: list[list[list[float]]]) -> float:
    """Area of a polygon (outer ring, then holes) on the WGS 84 ellipsoid, in hectares."""
    outer, *holes = rings
    area = abs(GEOD.polygon_area_perimeter(*zip(*outer, strict=True))[0])
    area -= sum(abs(GEOD.polygon_area_perimeter(*zip(*h, strict=True))[0]) for h in holes)
    return area / 10_000


# --- one rule at a time -----------------------------------------------------------

# (name, layer, body maker (x, y) -> body, field, message part)
RULES = [
    ("point for a polygon layer", FARMING, lambda x, y: farming_body({"type": "Point", "coordinates": [x, y]}),
     "geometry", "type Point not accepted here; expected Polygon or MultiPolygon"),
    ("polygon for a point layer", "relics",
     lambda x, y: {"geometry": square(x, y), "properties": {"name": f"{MARK} r", "kind": "temple", "rank": "national"}},
     "geometry", "type Polygon not accepted here; expected Point"),
    ("line for a polygon layer", FARMING,
     lambda x, y: farming_body({"type": "LineString", "coordinates": [[x, y], [x + S, y]]}),
     "geometry", "type LineString not accepted here"),
    ("longitude out of range", FARMING, lambda x, y: farming_body(square(x + 100, y)),
     "geometry", "coordinates out of range"),
    ("latitude out of range", FARMING, lambda x, y: farming_body(square(x, -95)),
     "geometry", "coordinates out of range"),
    ("latitude and longitude swapped", FARMING, lambda x, y: farming_body(square(y, x)),
     "geometry", "longitude and latitude look swapped"),
    ("outside the working area", FARMING, lambda x, y: farming_body(square(105.80, 21.02)),
     "geometry", "lies outside the working area of the province"),
    ("half outside the working area", FARMING, lambda x, y: farming_body(square(106.649, 20.0)),
     "geometry", "lies outside the working area of the province"),
    ("point outside the working area", "relics",
     lambda x, y: {"geometry": {"type": "Point", "coordinates": [108.2, 16.05]},
                   "properties": {"name": f"{MARK} r", "kind": "temple", "rank": "national"}},
     "geometry", "lies outside the working area of the province"),
    ("self-intersection", FARMING, lambda x, y: farming_body(bowtie(x, y)), "geometry", "invalid: Self-intersection"),
    ("ring not closed", FARMING,
     lambda x, y: farming_body({"type": "Polygon", "coordinates": [[[x, y], [x + S, y], [x + S, y + S], [x, y + S]]]}),
     "geometry", "do not form a closed linestring"),
    ("too few points", FARMING,
     lambda x, y: farming_body({"type": "Polygon", "coordinates": [[[x, y], [x + S, y], [x, y]]]}),
     "geometry", "invalid: Too few points"),
    ("empty polygon", FARMING, lambda x, y: farming_body({"type": "Polygon", "coordinates": []}), "geometry", "is empty"),
    ("empty multipolygon", FARMING, lambda x, y: farming_body({"type": "MultiPolygon", "coordinates": [[]]}),
     "geometry", "is empty"),
    ("empty point", "relics",
     lambda x, y: {"geometry": {"type": "Point", "coordinates": []},
                   "properties": {"name": f"{MARK} r", "kind": "temple", "rank": "national"}},
     "geometry", "is empty"),
    ("geometry as WKT text", FARMING, lambda x, y: farming_body(f"POLYGON(({x} {y}, {x + S} {y}, {x} {y + S}, {x} {y}))"),
     "geometry", "must be a GeoJSON geometry object with type and coordinates"),
    ("geometry without coordinates", FARMING, lambda x, y: farming_body({"type": "Polygon"}),
     "geometry", "must be a GeoJSON geometry object with type and coordinates"),
    ("geometry missing", FARMING, lambda x, y: {"properties": farming_body(None)["properties"]},
     "geometry", "must be a GeoJSON geometry object with type and coordinates"),
    ("coordinates not an array", FARMING, lambda x, y: farming_body({"type": "Polygon", "coordinates": "abc"}),
     "geometry", "not a readable GeoJSON geometry"),
    ("coordinates are text", FARMING,
     lambda x, y: farming_body({"type": "Polygon", "coordinates": [[["106.2", "20.3"], ["106.21", "20.3"], ["106.21", "20.31"], ["106.2", "20.3"]]]}),
     "geometry", "coordinates must be arrays of numbers"),
    ("coordinates are booleans", FARMING,
     lambda x, y: farming_body({"type": "Polygon", "coordinates": [[[True, y], [x + S, y], [x + S, y + S], [True, y]]]}),
     "geometry", "coordinates must be arrays of numbers"),
    ("a crs naming another CRS", FARMING,
     lambda x, y: farming_body({**square(x, y), "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::3405"}}}),
     "geometry", "must be in WGS 84 longitude/latitude (EPSG:4326); reproject it first"),
    ("unknown field", FARMING, lambda x, y: farming_body(square(x, y), colour="green"), "colour", "unknown field"),
    ("unknown feature member", FARMING, lambda x, y: {**farming_body(square(x, y)), "style": {}},
     "style", "unknown member of a feature"),
    ("computed area sent", FARMING, lambda x, y: farming_body(square(x, y), area_ha=1.5), "area_ha", "is computed by the server"),
    ("computed district sent", FARMING, lambda x, y: farming_body(square(x, y), district="Hà Nội"),
     "district", "is computed by the server"),
    ("system version sent", FARMING, lambda x, y: farming_body(square(x, y), version=7), "version", "unknown field"),
    ("bad enum value", FARMING, lambda x, y: farming_body(square(x, y), crop="banana"),
     "crop", "unknown value 'banana'; expected one of rice, rice_seed, vegetables, fruit, ornamental, salt, other"),
    ("enum label instead of value", FARMING, lambda x, y: farming_body(square(x, y), crop="Lúa"), "crop", "unknown value 'Lúa'"),
    ("required missing", FARMING, lambda x, y: {"geometry": square(x, y), "properties": {"name": f"{MARK} no crop"}},
     "crop", "is required"),
    ("required blank", FARMING, lambda x, y: farming_body(square(x, y), name="   "), "name", "is required"),
    ("required null", AQUA, lambda x, y: aquaculture_body(square(x, y), water_type=None), "water_type", "is required"),
    ("text too long", FARMING, lambda x, y: farming_body(square(x, y), name="x" * 201), "name", "at most 200 characters"),
    ("text as a number", FARMING, lambda x, y: farming_body(square(x, y), name=5), "name", "must be text"),
    ("enum as a list", FARMING, lambda x, y: farming_body(square(x, y), crop=["rice"]), "crop", "must be text"),
    ("boolean as text", FARMING, lambda x, y: farming_body(square(x, y), illustrative="yes"),
     "illustrative", "must be true or false"),
    ("integer as text", "craft_villages",
     lambda x, y: {"geometry": {"type": "Point", "coordinates": [x, y]},
                   "properties": {"name": f"{MARK} c", "craft": "lacquer", "households": "many"}},
     "households", "must be a whole number"),
    ("integer as a fraction", "craft_villages",
     lambda x, y: {"geometry": {"type": "Point", "coordinates": [x, y]},
                   "properties": {"name": f"{MARK} c", "craft": "lacquer", "households": 2.5}},
     "households", "must be a whole number"),
    ("integer too big", "craft_villages",
     lambda x, y: {"geometry": {"type": "Point", "coordinates": [x, y]},
                   "properties": {"name": f"{MARK} c", "craft": "lacquer", "recognised_year": 2**40}},
     "recognised_year", "must be a whole number"),
    ("url not http", "relics",
     lambda x, y: {"geometry": {"type": "Point", "coordinates": [x, y]},
                   "properties": {"name": f"{MARK} r", "kind": "temple", "rank": "national", "photo": "javascript:alert(1)"}},
     "photo", "must be an http(s) address"),
    ("NUL in text", FARMING, lambda x, y: farming_body(square(x, y), name="a\x00b"), "name", "must not contain NUL characters"),
    ("properties not an object", FARMING, lambda x, y: {"geometry": square(x, y), "properties": ["rice"]},
     "properties", "must be an object"),
]


@pytest.mark.parametrize("layer, make, field, message", [r[1:] for r in RULES], ids=[r[0] for r in RULES])
def test_each_rule_rejects_with_its_message_and_changes_nothing(admin, engine, cell, layer, make, field, message):
    before = layer_state(engine, layer)
    body = rejected(admin.post(items_url(layer), json=make(*cell)), before, engine, layer)
    found = messages(body, field)
    assert any(message in m for m in found), body["errors"]
    assert message in body["description"]  # the summary names it too


def test_self_intersection_says_where_and_offers_a_repaired_shape(admin, engine, cell):
    x, y = cell
    before = layer_state(engine, FARMING)
    body = rejected(admin.post(items_url(FARMING), json=farming_body(bowtie(x, y))), before, engine)
    error = next(e for e in body["errors"] if e["field"] == "geometry")
    assert error["location"] == pytest.approx([x + S / 2, y + S / 2], abs=1e-7)
    repaired = body["repaired"]
    assert repaired["type"] == "MultiPolygon" and len(repaired["coordinates"]) == 2
    # The repaired shape is accepted as it is.
    response = admin.post(items_url(FARMING), json=farming_body(repaired))
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["properties"]["area_ha"] == pytest.approx(geodesic_ha(square(x, y)["coordinates"]) / 2, rel=0.005)


def test_every_problem_is_listed_at_once(admin, engine, cell):
    before = layer_state(engine, FARMING)
    body = farming_body(bowtie(*cell), crop="banana", colour="red", area_ha=3, name="y" * 300)
    errors = rejected(admin.post(items_url(FARMING), json=body), before, engine)["errors"]
    assert {e["field"] for e in errors} == {"geometry", "crop", "colour", "area_ha", "name"}


def test_too_many_vertices(admin_token, engine, database_url, cell):
    small = create_app({"DATABASE_URL": database_url, "TESTING": True, "SECRET_KEY": "test", "MAX_VERTICES": 10})
    try:
        actor = token_actor(small, admin_token)
        x, y = cell
        ring = [[x + S * i / 12, y] for i in range(12)] + [[x + S, y + S], [x, y + S], [x, y]]
        before = layer_state(engine, FARMING)
        body = rejected(actor.post(items_url(FARMING), json=farming_body({"type": "Polygon", "coordinates": [ring]})), before, engine)
        assert any("has 15 vertices; at most 10" in m for m in messages(body, "geometry")), body
        ok = actor.post(items_url(FARMING), json=farming_body(square(x, y)))
        assert ok.status_code == 201
        page = session_login(small, "v-admin").get("/edit").get_data(as_text=True)
        assert '"maxVertices": 10' in page  # the editor warns before the server refuses
    finally:
        small.extensions["vung_db"].dispose()


def test_a_crs_naming_wgs84_is_accepted(admin, cell):
    geometry = {**square(*cell), "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}}}
    assert admin.post(items_url(FARMING), json=farming_body(geometry)).status_code == 201


@pytest.mark.parametrize("data, content_type", [
    ("name=ruộng&crop=rice", "application/x-www-form-urlencoded"),
    ("not json at all", "application/json"),
    ('{"type": "Feature", ', "application/json"),
    ("[1, 2, 3]", "application/json"),
    ('"a string"', "application/json"),
    ('{"type": "Feature"}', "text/plain"),
])
def test_a_body_that_is_not_a_json_object_is_400(admin, engine, data, content_type):
    before = layer_state(engine, FARMING)
    response = admin.post(items_url(FARMING), data=data.encode(), headers={"Content-Type": content_type})
    error_of(response, 400, "InvalidParameterValue")
    assert layer_state(engine, FARMING) == before


def test_not_a_number_and_infinite_coordinates_are_refused(admin, engine):
    before = layer_state(engine, FARMING)
    for bad in ("NaN", "Infinity", "1e400"):
        ring = f"[[{bad}, 20.3], [106.21, 20.3], [106.21, 20.31], [106.2, 20.3]]"
        raw = f'{{"geometry": {{"type": "Polygon", "coordinates": [{ring}]}}, "properties": {{"name": "{MARK}", "crop": "rice"}}}}'
        response = admin.post(items_url(FARMING), data=raw, headers={"Content-Type": "application/json"})
        assert response.status_code in (400, 422), response.get_data(as_text=True)
        assert response.get_json()["code"] in ("InvalidParameterValue", "ValidationFailed")
    assert layer_state(engine, FARMING) == before


def test_altitudes_are_dropped_not_a_server_error(admin, engine, cell):
    x, y = cell
    ring = [[x, y, 3.5], [x + S, y, 3.5], [x + S, y + S, 4], [x, y + S, 4], [x, y, 3.5]]
    response = admin.post(items_url(FARMING), json=farming_body({"type": "Polygon", "coordinates": [ring]}))
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["geometry"]["coordinates"] == [[[p[:2] for p in ring]]]
    assert row_of(engine, FARMING, response.get_json()["id"])["wkt"].startswith("MULTIPOLYGON(((")


def test_rejected_updates_change_nothing(admin, engine, cell):
    x, y = cell
    fid = insert_feature(engine, FARMING, {"name": f"{MARK} keep", "crop": "rice"}, square(x, y))
    before = snapshot(engine, FARMING, fid)
    url = items_url(FARMING, fid)
    tag = {"If-Match": f'"{FARMING}-{fid}-v1"'}
    for method, body, field in [
        ("PATCH", {"properties": {"crop": "banana"}}, "crop"),
        ("PATCH", {"properties": {"name": None}}, "name"),
        ("PATCH", {"properties": {"area_ha": 99}}, "area_ha"),
        ("PATCH", {"geometry": bowtie(x, y)}, "geometry"),
        ("PATCH", {"geometry": square(105.8, 21.0)}, "geometry"),
        ("PATCH", {"geometry": {"type": "Point", "coordinates": [x, y]}}, "geometry"),
        ("PUT", {"geometry": square(x, y), "properties": {"name": f"{MARK} keep"}}, "crop"),
        ("PUT", {"properties": {"name": f"{MARK} keep", "crop": "rice"}}, "geometry"),
    ]:
        response = admin.call(method, url, json=body, headers=tag)
        assert response.status_code == 422, (method, body, response.get_data(as_text=True))
        assert messages(response.get_json(), field), (body, response.get_json())
        assert snapshot(engine, FARMING, fid) == before


def test_html_in_a_name_is_stored_and_returned_as_text(admin, engine, cell):
    name = f'{MARK} <img src=x onerror=alert(1)> & <script>alert("x")</script>'
    response = admin.post(items_url(FARMING), json=farming_body(square(*cell), name=name, description="<b>đậm</b>"))
    assert response.status_code == 201
    created = response.get_json()
    assert created["properties"]["name"] == name
    assert created["properties"]["description"] == "<b>đậm</b>"
    again = admin.get(items_url(FARMING, created["id"])).get_json()
    assert again["properties"]["name"] == name
    assert row_of(engine, FARMING, created["id"])["name"] == name


# --- overlaps --------------------------------------------------------------------


def test_overlapping_aquaculture_area_is_rejected_naming_the_overlapped_features(admin, engine):
    x, y = free_cell(engine, INSIDE)
    first = admin.post(items_url(AQUA), json=aquaculture_body(square(x, y))).get_json()["id"]
    second = admin.post(items_url(AQUA), json=aquaculture_body(square(x + S, y))).get_json()["id"]  # shares an edge: fine
    before = layer_state(engine, AQUA)
    over = square(x + S / 2, y + S / 4, S)
    body = rejected(admin.post(items_url(AQUA), json=aquaculture_body(over)), before, engine, AQUA)
    error = next(e for e in body["errors"] if e["field"] == "geometry")
    assert error["features"] == sorted([first, second])
    assert error["message"] == f"overlaps 2 other feature(s) of this layer: {', '.join(map(str, sorted([first, second])))}"
    assert error["overlap"]["type"] in ("Polygon", "MultiPolygon")
    # Moving one onto the other is refused too, and changes nothing.
    moved_before = snapshot(engine, AQUA, second)
    response = admin.patch(items_url(AQUA, second), json={"geometry": over}, headers={"If-Match": "*"})
    error = next(e for e in error_of(response, 422, "ValidationFailed")["errors"] if e["field"] == "geometry")
    assert error["features"] == [first]
    assert snapshot(engine, AQUA, second) == moved_before
    # A feature does not overlap itself: an attribute-free geometry save of the same shape is fine.
    same = admin.patch(items_url(AQUA, second), json={"geometry": square(x + S, y)}, headers={"If-Match": "*"})
    assert same.status_code == 200 and "warnings" not in same.get_json()


def test_overlapping_farming_zone_is_saved_with_a_warning(admin, engine):
    x, y = free_cell(engine, INSIDE)
    first = admin.post(items_url(FARMING), json=farming_body(square(x, y))).get_json()["id"]
    response = admin.post(items_url(FARMING), json=farming_body(square(x + S / 2, y), name=f"{MARK} winter crop"))
    assert response.status_code == 201
    warnings = response.get_json()["warnings"]
    assert [(w["code"], w["features"]) for w in warnings] == [("Overlap", [first])]
    assert str(first) in warnings[0]["message"]
    assert warnings[0]["overlap"]["type"] == "Polygon"
    assert row_of(engine, FARMING, response.get_json()["id"])["name"] == f"{MARK} winter crop"


# --- computed values --------------------------------------------------------------


def test_area_district_and_commune_are_computed(admin, engine, cell):
    x, y = cell
    geometry = square(x, y)
    response = admin.post(items_url(FARMING), json=farming_body(geometry))
    assert response.status_code == 201
    props = response.get_json()["properties"]
    assert props["area_ha"] == pytest.approx(geodesic_ha(geometry["coordinates"]), rel=0.005)
    assert (props["district"], props["district_code"]) == ("Nam Trực", INSIDE)
    assert props["commune"] and props["commune_code"]
    with engine.connect() as c:
        parent = c.execute(text("SELECT parent_code FROM admin_units WHERE level = 'commune' AND code = :c"),
                           {"c": props["commune_code"]}).scalar_one()
    assert parent == INSIDE
    assert (props["version"], props["created_at"] is not None) == (1, True)


def test_a_hole_is_subtracted_from_the_area(admin, engine, cell):
    x, y = cell
    outer = square(x, y, S)["coordinates"][0]
    hole = [[x + S / 4, y + S / 4], [x + S / 4, y + 3 * S / 4], [x + 3 * S / 4, y + 3 * S / 4], [x + 3 * S / 4, y + S / 4], [x + S / 4, y + S / 4]]
    response = admin.post(items_url(FARMING), json=farming_body({"type": "Polygon", "coordinates": [outer, hole]}))
    assert response.status_code == 201, response.get_data(as_text=True)
    area = response.get_json()["properties"]["area_ha"]
    assert area == pytest.approx(geodesic_ha([outer, hole]), rel=0.005)
    assert area == pytest.approx(geodesic_ha([outer]) * 0.75, rel=0.005)
    assert len(response.get_json()["geometry"]["coordinates"][0]) == 2  # stored as a multipolygon, hole kept


def test_multipolygon_area_is_the_sum_of_its_parts(admin, engine):
    x, y = free_cell(engine, INSIDE)
    a, b = square(x, y)["coordinates"], square(x + 1.5 * S, y, S / 2)["coordinates"]
    response = admin.post(items_url(AQUA), json=aquaculture_body({"type": "MultiPolygon", "coordinates": [a, b]}))
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["properties"]["area_ha"] == pytest.approx(geodesic_ha(a) + geodesic_ha(b), rel=0.005)


def test_moving_a_feature_recomputes_area_and_place(admin, engine, cell):
    created = admin.post(items_url(FARMING), json=farming_body(square(*cell))).get_json()
    x, y = free_cell(engine, OUTSIDE)
    bigger = square(x, y, S * 1.5)
    response = admin.patch(items_url(FARMING, created["id"]), json={"geometry": bigger}, headers={"If-Match": "*"})
    assert response.status_code == 200
    props = response.get_json()["properties"]
    assert (props["district_code"], props["district"]) == (OUTSIDE, "Giao Thủy")
    assert props["area_ha"] == pytest.approx(geodesic_ha(bigger["coordinates"]), rel=0.005)
    assert props["commune_code"] != created["properties"]["commune_code"]
    assert history_of(engine, FARMING, created["id"])[-1][1:3] == (2, "update")


def test_a_point_layer_gets_its_place_and_no_area(admin, engine, cell):
    x, y = cell
    body = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [x, y]},
            "properties": {"name": f"{MARK} đền", "kind": "temple", "rank": "provincial", "photo": "https://example.org/a.jpg"}}
    response = admin.post(items_url("relics"), json=body)
    assert response.status_code == 201, response.get_data(as_text=True)
    props = response.get_json()["properties"]
    assert props["district_code"] == INSIDE and "area_ha" not in props
    assert response.get_json()["geometry"] == {"type": "Point", "coordinates": [x, y]}
