"""OGC API – Features read side, the detail page and the health check, over the real database."""

from __future__ import annotations

import html
import re
import unicodedata
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import markupsafe
import pytest
from openapi_spec_validator import validate as validate_openapi
from shapely.geometry import box, shape
from sqlalchemy import text

from app import create_app
from layers import REGISTRY, public_layers
from tests.attacks import INJECTIONS

PUBLIC = [layer.id for layer in public_layers()]
ALL_TABLES = ("admin_units", "farming_zones", "aquaculture_areas", "craft_villages", "relics")


# --- helpers ---------------------------------------------------------------


def path_of(href: str) -> str:
    """The path and query of an absolute link, for the test client."""
    parts = urlsplit(href)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def get_json(client, url: str, status: int = 200, **kw):
    response = client.get(url, **kw)
    assert response.status_code == status, (url, response.status_code, response.get_data(as_text=True)[:300])
    return response.get_json(force=True)


def assert_error(client, url: str, status: int, code: str | None = None) -> dict:
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code)
    assert response.mimetype == "application/json", url
    body = response.get_json()
    assert set(body) == {"code", "description"}, body
    assert isinstance(body["description"], str) and body["description"]
    if code:
        assert body["code"] == code
    return body


def all_features(client, layer_id: str, **params) -> list[dict]:
    query = urlencode({"limit": 10000, **params})
    return get_json(client, f"/ogc/collections/{layer_id}/items?{query}")["features"]


def db_count(engine, sql: str, **params) -> int:
    with engine.connect() as c:
        return c.execute(text(sql), params).scalar_one()


def table_counts(engine) -> dict[str, int]:
    return {t: db_count(engine, f"SELECT count(*) FROM {t}") for t in ALL_TABLES}


def link_rel(body: dict, rel: str) -> list[dict]:
    return [link for link in body["links"] if link["rel"] == rel]


def fold(s: str) -> str:
    """Lower case without Vietnamese diacritics, computed in Python (not by the database)."""
    s = s.replace("đ", "d").replace("Đ", "D")
    return "".join(ch for ch in unicodedata.normalize("NFD", s) if unicodedata.category(ch) != "Mn").lower()


# --- landing, conformance, OpenAPI -----------------------------------------


def test_landing_links(client):
    body = get_json(client, "/ogc")
    assert body["title"]
    rels = {link["rel"] for link in body["links"]}
    assert {"self", "alternate", "service-desc", "service-doc", "conformance", "data"} <= rels
    assert link_rel(body, "service-desc")[0]["type"].startswith("application/vnd.oai.openapi+json")
    for link in body["links"]:
        assert link["href"].startswith("http://localhost/ogc")
        response = client.get(path_of(link["href"]))
        assert response.status_code == 200, link
        assert response.mimetype == link["type"].split(";")[0] or link["type"].startswith(response.mimetype), link


def test_landing_with_trailing_slash(client):
    assert get_json(client, "/ogc/") == get_json(client, "/ogc")


def test_conformance_classes(client):
    body = get_json(client, "/ogc/conformance")
    base = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/"
    assert {base + c for c in ("core", "geojson", "html", "oas30")} <= set(body["conformsTo"])
    # Part 3 and CQL2: what QGIS checks before it sends filters.
    part3 = "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/"
    cql2 = "http://www.opengis.net/spec/cql2/1.0/conf/"
    assert {part3 + c for c in ("queryables", "filter", "features-filter")} <= set(body["conformsTo"])
    assert {cql2 + c for c in ("cql2-text", "basic-cql2", "advanced-comparison-operators", "basic-spatial-functions")} <= set(
        body["conformsTo"]
    )
    assert not [c for c in body["conformsTo"] if "cql2-json" in c or "ogcapi-features-2" in c]


def test_openapi_document_is_valid_openapi_3(client):
    response = client.get("/ogc/api")
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.oai.openapi+json"
    document = response.get_json(force=True)
    assert document["openapi"].startswith("3.")
    validate_openapi(document)
    assert document["servers"][0]["url"] == "http://localhost/ogc"


def test_openapi_describes_every_collection_and_filter(client):
    document = get_json(client, "/ogc/api")
    components = document["components"]["parameters"]
    for layer in public_layers():
        items = document["paths"][f"/collections/{layer.id}/items"]["get"]
        names = set()
        for p in items["parameters"]:
            if "$ref" in p:
                names.add(components[p["$ref"].rsplit("/", 1)[1]]["name"])
            else:
                names.add(p["name"])
        assert {"bbox", "limit", "offset", "f", "q", "filter", "filter-lang", "filter-crs"} <= names
        assert {f.name for f in layer.filterable} <= names
        assert f"/collections/{layer.id}/queryables" in document["paths"]
        assert ("datetime" in names) is bool(layer.temporal)
        for p in items["parameters"]:
            if p.get("name") in {f.name for f in layer.fields if f.kind == "enum"}:
                assert p["schema"]["enum"] == list(layer.field(p["name"]).choice_values())


def test_every_documented_path_answers(client, engine):
    document = get_json(client, "/ogc/api")
    for path in document["paths"]:
        if "{featureId}" in path:
            layer_id = path.split("/")[2]
            with engine.connect() as c:
                feature_id = c.execute(text(f"SELECT min(id) FROM {layer_id}")).scalar_one()
            path = path.replace("{featureId}", str(feature_id))
        response = client.get("/ogc" + path.rstrip("/"))
        assert response.status_code == 200, path


# --- collections -----------------------------------------------------------


def test_collections_list_every_public_layer_with_its_extent(client, engine):
    body = get_json(client, "/ogc/collections")
    assert [c["id"] for c in body["collections"]] == PUBLIC
    assert link_rel(body, "self")
    for collection in body["collections"]:
        layer = REGISTRY[collection["id"]]
        assert collection["title"] == layer.vi
        assert collection["itemType"] == "feature"
        with engine.connect() as c:
            row = c.execute(
                text(f"SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(geom) AS e FROM {layer.id}) s")
            ).one()
        (bbox,) = collection["extent"]["spatial"]["bbox"]
        assert bbox == pytest.approx(list(row), abs=1e-6)
        # Inside the world, in lon/lat order.
        assert -180 <= bbox[0] <= bbox[2] <= 180 and -90 <= bbox[1] <= bbox[3] <= 90
        items = [link for link in collection["links"] if link["rel"] == "items"]
        assert {link["type"] for link in items} == {"application/geo+json", "text/html"}


def test_collections_in_english(client):
    body = get_json(client, "/ogc/collections?lang=en")
    assert [c["title"] for c in body["collections"]] == [REGISTRY[i].en for i in PUBLIC]


@pytest.mark.parametrize("layer_id", PUBLIC)
def test_one_collection(client, layer_id):
    body = get_json(client, f"/ogc/collections/{layer_id}")
    assert body["id"] == layer_id
    assert link_rel(body, "self")[0]["href"].endswith(f"/ogc/collections/{layer_id}?f=json")
    assert "extent" in body
    items = link_rel(body, "items")
    for link in items:
        assert client.get(path_of(link["href"])).status_code == 200


# --- items: paging ---------------------------------------------------------


def test_default_limit_is_100(client, engine):
    total = db_count(engine, "SELECT count(*) FROM admin_units")
    assert total > 100, "the sample should have more than 100 admin units"
    body = get_json(client, "/ogc/collections/admin_units/items")
    assert body["type"] == "FeatureCollection"
    assert body["numberReturned"] == len(body["features"]) == 100
    assert body["numberMatched"] == total
    assert link_rel(body, "next")
    assert not link_rel(body, "prev")


def test_limit_max_returns_everything(client, engine):
    body = get_json(client, "/ogc/collections/admin_units/items?limit=10000")
    total = db_count(engine, "SELECT count(*) FROM admin_units")
    assert body["numberReturned"] == len(body["features"]) == body["numberMatched"] == total
    assert not link_rel(body, "next")


@pytest.mark.parametrize("value", ["0", "10001", "-1", "abc", "", "1.5", "1e2", "١٢", " 5", "99999999999999999999"])
def test_bad_limit_is_400(client, value):
    assert_error(client, f"/ogc/collections/relics/items?limit={quote(value)}", 400, "InvalidParameterValue")


@pytest.mark.parametrize("value", ["-1", "x", "", "10000001", "2.0"])
def test_bad_offset_is_400(client, value):
    assert_error(client, f"/ogc/collections/relics/items?offset={quote(value)}", 400)


def test_repeated_parameter_is_400(client):
    assert_error(client, "/ogc/collections/relics/items?limit=1&limit=2", 400)


def walk(client, url: str) -> list[dict]:
    pages = []
    while url:
        body = get_json(client, url)
        pages.append(body)
        nexts = link_rel(body, "next")
        assert len(nexts) <= 1
        url = path_of(nexts[0]["href"]) if nexts else None
        assert len(pages) < 500, "paging does not end"
    return pages


@pytest.mark.parametrize("limit", [1, 7, 100, 229, 230])
def test_next_links_walk_the_whole_collection(client, engine, limit):
    with engine.connect() as c:
        expected = [r[0] for r in c.execute(text("SELECT id FROM admin_units ORDER BY id"))]
    pages = walk(client, f"/ogc/collections/admin_units/items?limit={limit}")
    ids = [f["id"] for page in pages for f in page["features"]]
    assert ids == expected  # no duplicates, no gaps, stable order
    for i, page in enumerate(pages):
        assert page["numberMatched"] == len(expected)
        assert page["numberReturned"] == len(page["features"])
        assert page["numberReturned"] <= limit
        assert bool(link_rel(page, "prev")) is (i > 0)
    assert len(pages) == max(1, -(-len(expected) // limit))


def test_prev_links_walk_back(client):
    pages = walk(client, "/ogc/collections/admin_units/items?limit=50")
    assert len(pages) >= 3
    body = pages[-1]
    seen = []
    while link_rel(body, "prev"):
        body = get_json(client, path_of(link_rel(body, "prev")[0]["href"]))
        seen.append([f["id"] for f in body["features"]])
    assert seen == [[f["id"] for f in p["features"]] for p in reversed(pages[:-1])]


def test_paging_keeps_the_filters(client, engine):
    expected = db_count(engine, "SELECT count(*) FROM admin_units WHERE level = 'commune'")
    pages = walk(client, "/ogc/collections/admin_units/items?level=commune&limit=40")
    features = [f for p in pages for f in p["features"]]
    assert len(features) == len({f["id"] for f in features}) == expected
    assert {f["properties"]["level"] for f in features} == {"commune"}
    for page in pages:
        for link in link_rel(page, "next"):
            assert parse_qs(urlsplit(link["href"]).query)["level"] == ["commune"]


def test_offset_skips_exactly(client, engine):
    with engine.connect() as c:
        expected = [r[0] for r in c.execute(text("SELECT id FROM relics ORDER BY id"))]
    body = get_json(client, "/ogc/collections/relics/items?offset=5&limit=3")
    assert [f["id"] for f in body["features"]] == expected[5:8]
    assert body["numberMatched"] == len(expected)
    beyond = get_json(client, f"/ogc/collections/relics/items?offset={len(expected) + 10}")
    assert beyond["features"] == [] and beyond["numberReturned"] == 0
    assert beyond["numberMatched"] == len(expected)
    assert not link_rel(beyond, "next")


def test_self_link_reproduces_the_page(client):
    body = get_json(client, "/ogc/collections/relics/items?kind=temple&offset=1&limit=2")
    again = get_json(client, path_of(link_rel(body, "self")[0]["href"]))
    assert [f["id"] for f in again["features"]] == [f["id"] for f in body["features"]]


# --- items: content --------------------------------------------------------


@pytest.mark.parametrize("layer_id", PUBLIC)
def test_features_carry_the_declared_properties(client, engine, layer_id):
    layer = REGISTRY[layer_id]
    body = get_json(client, f"/ogc/collections/{layer_id}/items?limit=5")
    assert body["features"]
    for feature in body["features"]:
        assert feature["type"] == "Feature"
        assert isinstance(feature["id"], int)
        assert list(feature["properties"]) == list(layer.property_names)
        assert "search_text" not in feature["properties"] and "geom" not in feature["properties"]
        geometry = shape(feature["geometry"])
        assert geometry.is_valid and not geometry.is_empty
        if layer.geometry not in ("Geometry",):
            assert feature["geometry"]["type"] == layer.geometry
    assert body["numberMatched"] == db_count(engine, f"SELECT count(*) FROM {layer_id}")


def test_items_are_geojson_with_diacritics_unescaped(client):
    response = client.get("/ogc/collections/relics/items?limit=3")
    assert response.mimetype == "application/geo+json"
    assert "Đ" in response.get_data(as_text=True) or "ư" in response.get_data(as_text=True)


# --- items: bbox -----------------------------------------------------------

BOXES = [
    (106.10, 20.30, 106.25, 20.45),  # around Nam Định city and Mỹ Lộc
    (106.35, 20.10, 106.60, 20.30),  # the coast: Giao Thủy, Hải Hậu
    (105.95, 20.20, 106.05, 20.35),  # Ý Yên
]


@pytest.mark.parametrize("layer_id", ["relics", "craft_villages", "farming_zones", "aquaculture_areas", "admin_units"])
@pytest.mark.parametrize("bbox", BOXES, ids=["city", "coast", "yyen"])
def test_bbox_returns_exactly_the_intersecting_features(client, layer_id, bbox):
    everything = all_features(client, layer_id)
    area = box(*bbox)
    expected = {f["id"] for f in everything if shape(f["geometry"]).intersects(area)}
    body = get_json(client, f"/ogc/collections/{layer_id}/items?limit=10000&bbox={','.join(map(str, bbox))}")
    got = {f["id"] for f in body["features"]}
    assert got == expected
    assert body["numberMatched"] == body["numberReturned"] == len(expected)
    for feature in body["features"]:
        assert shape(feature["geometry"]).intersects(area)


def test_bbox_finds_something_and_not_everything(client):
    everything = all_features(client, "relics")
    some = get_json(client, "/ogc/collections/relics/items?bbox=106.10,20.30,106.25,20.45")["features"]
    assert 0 < len(some) < len(everything)


def test_bbox_with_six_values_and_crs(client):
    four = get_json(client, "/ogc/collections/relics/items?bbox=106.10,20.30,106.25,20.45")
    six = get_json(client, "/ogc/collections/relics/items?bbox=106.10,20.30,-10,106.25,20.45,100")
    crs = quote("http://www.opengis.net/def/crs/OGC/1.3/CRS84", safe="")
    with_crs = get_json(client, f"/ogc/collections/relics/items?bbox=106.10,20.30,106.25,20.45&bbox-crs={crs}")
    ids = [f["id"] for f in four["features"]]
    assert ids == [f["id"] for f in six["features"]] == [f["id"] for f in with_crs["features"]]


def test_bbox_far_away_is_empty(client):
    body = get_json(client, "/ogc/collections/relics/items?bbox=0,0,1,1")
    assert body["features"] == [] and body["numberMatched"] == 0 == body["numberReturned"]


@pytest.mark.parametrize(
    "value",
    ["1,2,3", "1,2,3,4,5", "a,b,c,d", "106,21,107,20", "170,0,-170,1", "0,0,200,1", "0,-95,1,1", "nan,0,1,1", "0,0,inf,1", ""],
)
def test_bad_bbox_is_400(client, value):
    assert_error(client, f"/ogc/collections/relics/items?bbox={quote(value)}", 400)


def test_other_bbox_crs_is_400(client):
    assert_error(client, "/ogc/collections/relics/items?bbox=0,0,1,1&bbox-crs=EPSG:3857", 400)


# --- items: property filters ------------------------------------------------


def test_enum_filter_single_value(client, engine):
    body = get_json(client, "/ogc/collections/relics/items?kind=temple&limit=10000")
    assert body["features"]
    assert {f["properties"]["kind"] for f in body["features"]} == {"temple"}
    assert body["numberMatched"] == db_count(engine, "SELECT count(*) FROM relics WHERE kind = 'temple'")


def test_enum_filter_comma_list(client):
    everything = all_features(client, "relics")
    wanted = {"temple", "pagoda"}
    expected = {f["id"] for f in everything if f["properties"]["kind"] in wanted}
    got = {f["id"] for f in all_features(client, "relics", kind="temple,pagoda")}
    assert got == expected
    assert got > {f["id"] for f in all_features(client, "relics", kind="temple")}


def test_two_filters_combine_with_and(client):
    everything = all_features(client, "relics")
    expected = {
        f["id"] for f in everything if f["properties"]["kind"] == "temple" and f["properties"]["rank"] == "national"
    }
    assert {f["id"] for f in all_features(client, "relics", kind="temple", rank="national")} == expected


@pytest.mark.parametrize("layer_id", PUBLIC)
def test_every_enum_filter_value_matches_the_data(client, layer_id):
    layer = REGISTRY[layer_id]
    everything = all_features(client, layer_id)
    for f in layer.filterable:
        if f.kind != "enum":
            continue
        for value in f.choice_values():
            expected = {x["id"] for x in everything if x["properties"][f.name] == value}
            assert {x["id"] for x in all_features(client, layer_id, **{f.name: value})} == expected, (f.name, value)


@pytest.mark.parametrize("value", ["castle", "Temple", "temple,castle", ",", "temple;pagoda", "' OR 1=1 --"])
def test_unknown_enum_value_is_400(client, value):
    body = assert_error(client, f"/ogc/collections/relics/items?kind={quote(value)}", 400)
    assert "kind" in body["description"]


@pytest.mark.parametrize("name", ["colour", "name", "geom", "id", "search_text", "sortby", "crop"])
def test_unknown_parameter_is_400(client, name):
    body = assert_error(client, f"/ogc/collections/relics/items?{name}=x", 400)
    assert name in body["description"]


def test_district_filter_with_and_without_diacritics(client, engine):
    with engine.connect() as c:
        district = c.execute(
            text("SELECT district FROM relics WHERE district IS NOT NULL GROUP BY district ORDER BY count(*) DESC LIMIT 1")
        ).scalar_one()
        expected = {r[0] for r in c.execute(text("SELECT id FROM relics WHERE district = :d"), {"d": district})}
    assert fold(district) != district, "pick a district whose name has diacritics"
    for spelling in (district, fold(district), district.upper(), f" {fold(district).upper()} "):
        got = {f["id"] for f in all_features(client, "relics", district=spelling)}
        assert got == expected, spelling


def test_district_filter_with_an_unknown_place_is_empty(client):
    assert all_features(client, "relics", district="Hà Nội") == []


def test_district_filter_is_exact_not_a_substring(client):
    assert all_features(client, "relics", district="Nam") == []


def test_admin_units_filter_on_parent_code(client, engine):
    with engine.connect() as c:
        code = c.execute(text("SELECT code FROM admin_units WHERE level = 'district' ORDER BY code LIMIT 1")).scalar_one()
        expected = {r[0] for r in c.execute(text("SELECT id FROM admin_units WHERE parent_code = :c"), {"c": code})}
    assert expected
    assert {f["id"] for f in all_features(client, "admin_units", parent_code=code)} == expected


# --- items: free text -------------------------------------------------------


def test_q_without_diacritics_finds_den_tran(client, engine):
    with engine.connect() as c:
        tran = c.execute(text("SELECT id, name FROM relics WHERE name LIKE 'Đền Trần%'")).one()
    for q in ("den tran", "Đền Trần", "ĐỀN TRẦN", "DEN   TRAN", "tran den"):
        got = {f["id"] for f in all_features(client, "relics", q=q)}
        assert tran.id in got, q


def test_q_matches_what_python_folding_expects(client):
    everything = all_features(client, "relics")
    for q in ("chua", "den tran", "pagoda", "phu day", "nam"):
        words = fold(q).split()
        expected = {
            f["id"]
            for f in everything
            if all(w in fold(f"{f['properties']['name']} {f['properties']['name_en'] or ''}") for w in words)
        }
        got = {f["id"] for f in all_features(client, "relics", q=q)}
        assert got == expected, q


def test_q_with_filters_and_paging(client):
    body = get_json(client, "/ogc/collections/relics/items?q=chua&kind=pagoda&limit=1")
    everything = all_features(client, "relics", q="chua", kind="pagoda")
    assert body["numberMatched"] == len(everything)
    assert body["numberReturned"] == min(1, len(everything))


@pytest.mark.parametrize("wildcard", ["%", "_"])
def test_q_wildcards_are_literal(client, committed, wildcard):
    name = f"Đình thử{wildcard}ký tự"
    new_id = committed(
        "relics", "name, kind, rank, geom", ":name, 'other', 'unranked', ST_SetSRID(ST_MakePoint(106.2, 20.4), 4326)",
        {"name": name},
    )
    everything = all_features(client, "relics")
    expected = {f["id"] for f in everything if wildcard in f["properties"]["name"] + (f["properties"]["name_en"] or "")}
    assert new_id in expected
    got = {f["id"] for f in all_features(client, "relics", q=wildcard)}
    assert got == expected
    # A wildcard in the middle of a word matches only itself.
    assert {f["id"] for f in all_features(client, "relics", q=f"thu{wildcard}ky")} == {new_id}
    assert all_features(client, "relics", q=f"th{wildcard}y") == []


def test_q_backslash_is_literal(client):
    assert all_features(client, "relics", q="\\") == []
    assert all_features(client, "relics", q="\\%") == []


def test_q_too_long_is_400(client):
    assert_error(client, "/ogc/collections/relics/items?q=" + "a" * 201, 400)




@pytest.mark.parametrize("value", INJECTIONS)
@pytest.mark.parametrize("param", ["q", "district", "kind", "rank", "bbox", "limit", "offset", "f", "lang", "bbox-crs"])
def test_injection_attempts_change_nothing(client, engine, value, param):
    before = table_counts(engine)
    response = client.get(f"/ogc/collections/relics/items?{urlencode({param: value})}")
    assert response.status_code in (200, 400), response.status_code
    if response.status_code == 200:
        body = response.get_json(force=True)
        # A string matching nothing must not turn into "everything".
        if param in ("q", "district"):
            assert body["numberMatched"] == 0
    else:
        assert set(response.get_json()) == {"code", "description"}
    assert table_counts(engine) == before


def test_injection_in_datetime_on_admin_units(client, engine):
    before = table_counts(engine)
    for value in INJECTIONS:
        response = client.get(f"/ogc/collections/admin_units/items?{urlencode({'datetime': value})}")
        assert response.status_code == 400
    assert table_counts(engine) == before


# --- items: datetime --------------------------------------------------------


@pytest.fixture()
def old_unit(committed):
    """An administrative unit valid 2000–2010, far from the province."""
    return committed(
        "admin_units", "code, name, level, valid_from, valid_to, geom",
        "'T-OLD', 'Đơn vị cũ', 'province', '2000-01-01', '2010-12-31', "
        "ST_Multi(ST_MakeEnvelope(100.0, 10.0, 100.1, 10.1, 4326))",
    )


def overlaps(props: dict, start: str | None, end: str | None) -> bool:
    valid_from, valid_to = props["valid_from"], props["valid_to"]
    return (end is None or valid_from is None or valid_from <= end) and (
        start is None or valid_to is None or valid_to >= start
    )


@pytest.mark.parametrize(
    ("value", "start", "end", "included"),
    [
        ("2005-06-01", "2005-06-01", "2005-06-01", True),
        ("2020-01-01", "2020-01-01", "2020-01-01", False),
        ("2005-06-01T12:00:00Z", "2005-06-01", "2005-06-01", True),
        ("1990-01-01/2000-01-01", "1990-01-01", "2000-01-01", True),
        ("1990-01-01/1999-12-31", "1990-01-01", "1999-12-31", False),
        ("2010-12-31/..", "2010-12-31", None, True),
        ("2011-01-01/..", "2011-01-01", None, False),
        ("../1999-12-31", None, "1999-12-31", False),
        ("../2000-01-01", None, "2000-01-01", True),
        ("../..", None, None, True),
    ],
)
def test_datetime_on_admin_units(client, old_unit, value, start, end, included):
    everything = all_features(client, "admin_units")
    expected = {f["id"] for f in everything if overlaps(f["properties"], start, end)}
    body = get_json(client, f"/ogc/collections/admin_units/items?limit=10000&datetime={quote(value)}")
    got = {f["id"] for f in body["features"]}
    assert got == expected
    assert (old_unit in got) is included
    assert body["numberMatched"] == len(expected)


@pytest.mark.parametrize("value", ["yesterday", "2020-13-01", "2021-01-01/2020-01-01", "..", "2020-01-01/x"])
def test_bad_datetime_is_400(client, value):
    assert_error(client, f"/ogc/collections/admin_units/items?datetime={quote(value)}", 400)


@pytest.mark.parametrize("layer_id", [i for i in PUBLIC if not REGISTRY[i].temporal])
def test_datetime_on_a_collection_without_time_is_400(client, layer_id):
    body = assert_error(client, f"/ogc/collections/{layer_id}/items?datetime=2020-01-01", 400)
    assert "datetime" in body["description"]


# --- formats -----------------------------------------------------------------


def html_endpoints(engine) -> list[str]:
    with engine.connect() as c:
        relic = c.execute(text("SELECT min(id) FROM relics")).scalar_one()
    return [
        "/ogc", "/ogc/conformance", "/ogc/api", "/ogc/collections", "/ogc/collections/relics",
        "/ogc/collections/relics/queryables", "/ogc/collections/relics/items", f"/ogc/collections/relics/items/{relic}",
    ]


def test_f_html_on_every_endpoint(client, engine):
    for url in html_endpoints(engine):
        response = client.get(url + "?f=html")
        assert response.status_code == 200, url
        assert response.mimetype == "text/html", url
        page = response.get_data(as_text=True)
        assert page.lstrip().lower().startswith("<!doctype html>"), url
        assert "</html>" in page, url


def test_browsers_get_html_without_f(client, engine):
    for url in html_endpoints(engine):
        response = client.get(url, headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
        assert response.mimetype == "text/html", url


def test_negotiated_responses_vary_on_accept(client, engine):
    """The same URL gives JSON or HTML by Accept: a shared cache must not mix them up."""
    for url in html_endpoints(engine):
        assert "accept" in client.get(url).headers.get("Vary", "").lower(), url
        assert "accept" in client.get(url, headers={"Accept": "text/html"}).headers.get("Vary", "").lower(), url


def test_f_json_wins_over_accept(client):
    response = client.get("/ogc/collections?f=json", headers={"Accept": "text/html"})
    assert response.mimetype == "application/json"


def test_items_html_lists_the_page(client, engine):
    page = client.get("/ogc/collections/relics/items?f=html&limit=5").get_data(as_text=True)
    with engine.connect() as c:
        names = [r[0] for r in c.execute(text("SELECT name FROM relics ORDER BY id LIMIT 5"))]
    for name in names:
        assert name in page


@pytest.mark.parametrize("value", ["xml", "geojson", "JSON", "htm", ""])
def test_unknown_f_is_400(client, engine, value):
    for url in html_endpoints(engine):
        if value == "":
            assert client.get(url + "?f=").status_code == 200
            continue
        assert_error(client, f"{url}?f={value}", 400)


# --- errors ------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["/ogc/collections/nope", "/ogc/collections/nope/items", "/ogc/collections/nope/items/1",
     "/ogc/collections/RELICS", "/ogc/collections/relics%3B/items"],
)
def test_unknown_collection_is_404_json(client, url):
    assert_error(client, url, 404, "NotFound")


def test_unknown_collection_html_is_404_html(client):
    response = client.get("/ogc/collections/nope?f=html")
    assert response.status_code == 404 and response.mimetype == "text/html"


@pytest.mark.parametrize("feature_id", ["abc", "1.0", "-1", "1e3", "%C2%B2", "%EF%BC%91", "0x1", "0", "999999999", "9" * 30])
def test_bad_or_missing_feature_id_is_404(client, feature_id):
    assert_error(client, f"/ogc/collections/relics/items/{feature_id}", 404, "NotFound")


# --- single item -------------------------------------------------------------


def test_single_item_matches_the_collection(client, engine):
    with engine.connect() as c:
        relic = c.execute(text("SELECT id, name FROM relics ORDER BY id LIMIT 1")).one()
    response = client.get(f"/ogc/collections/relics/items/{relic.id}")
    assert response.status_code == 200 and response.mimetype == "application/geo+json"
    feature = response.get_json(force=True)
    assert feature["id"] == relic.id and feature["properties"]["name"] == relic.name
    listed = next(f for f in all_features(client, "relics") if f["id"] == relic.id)
    assert {k: v for k, v in feature.items() if k != "links"} == listed
    rels = {link["rel"] for link in feature["links"]}
    assert {"self", "alternate", "collection"} <= rels


def test_etag_and_if_none_match(client, engine):
    with engine.connect() as c:
        relic = c.execute(text("SELECT min(id) FROM relics")).scalar_one()
    url = f"/ogc/collections/relics/items/{relic}"
    first = client.get(url)
    etag = first.headers["ETag"]
    assert etag.startswith('"') and etag.endswith('"')
    assert client.get(url).headers["ETag"] == etag  # stable
    cached = client.get(url, headers={"If-None-Match": etag})
    assert cached.status_code == 304
    assert cached.get_data() == b""
    assert cached.headers["ETag"] == etag
    assert client.get(url, headers={"If-None-Match": f'"other", {etag}'}).status_code == 304
    assert client.get(url, headers={"If-None-Match": f"W/{etag}"}).status_code == 304  # weak comparison
    assert client.get(url, headers={"If-None-Match": '"relics-0-v0"'}).status_code == 200


def test_etag_changes_when_the_feature_changes(client, committed, engine):
    new_id = committed(
        "relics", "name, kind, rank, geom", "'Đền ETag', 'temple', 'unranked', ST_SetSRID(ST_MakePoint(106.2, 20.4), 4326)"
    )
    url = f"/ogc/collections/relics/items/{new_id}"
    etag = client.get(url).headers["ETag"]
    with engine.begin() as c:
        c.execute(text("UPDATE relics SET rank = 'provincial' WHERE id = :id"), {"id": new_id})
    response = client.get(url, headers={"If-None-Match": etag})
    assert response.status_code == 200
    assert response.headers["ETag"] != etag
    assert response.get_json(force=True)["properties"]["rank"] == "provincial"


def test_etags_differ_between_features(client, engine):
    with engine.connect() as c:
        ids = [r[0] for r in c.execute(text("SELECT id FROM relics ORDER BY id LIMIT 2"))]
    etags = {client.get(f"/ogc/collections/relics/items/{i}").headers["ETag"] for i in ids}
    assert len(etags) == 2


# --- queryables, output coordinates, temporal extent -------------------------

QUERYABLES_REL = "http://www.opengis.net/def/rel/ogc/1.0/queryables"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
JSON_TYPES = {"text": "string", "longtext": "string", "url": "string", "photo": "string", "enum": "string",
              "integer": "integer", "number": "number", "date": "string", "boolean": "boolean"}
GEOMETRY_FORMATS = {"Point": "geometry-point", "Polygon": "geometry-polygon",
                    "MultiPolygon": "geometry-multipolygon", "Geometry": "geometry-any"}


@pytest.mark.parametrize("layer_id", PUBLIC)
def test_queryables_are_a_json_schema_of_the_declared_fields(client, layer_id):
    from jsonschema import Draft202012Validator

    layer = REGISTRY[layer_id]
    response = client.get(f"/ogc/collections/{layer_id}/queryables")
    assert response.status_code == 200 and response.mimetype == "application/schema+json"
    schema = response.get_json(force=True)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == f"http://localhost/ogc/collections/{layer_id}/queryables"
    assert schema["type"] == "object" and schema["title"] == layer.vi
    properties = schema["properties"]
    assert list(properties) == ["geometry", "id", *layer.field_names]
    assert properties["geometry"]["format"] == GEOMETRY_FORMATS[layer.geometry]
    assert properties["id"]["type"] == "integer"
    for f in layer.fields:
        assert properties[f.name]["type"] == JSON_TYPES[f.kind], f.name
        assert properties[f.name]["title"] == f.vi
        assert properties[f.name].get("enum") == (list(f.choice_values()) if f.kind == "enum" else None)
        assert (properties[f.name].get("format") == "date") is (f.kind == "date")
    # The features the API serves fit the schema (missing values left out: queryables may be absent).
    validator = Draft202012Validator(schema)
    for feature in all_features(client, layer_id):
        declared = {k: v for k, v in feature["properties"].items() if k in properties and v is not None}
        validator.validate({**declared, "id": feature["id"]})


def test_queryables_in_english_and_html(client):
    schema = get_json(client, "/ogc/collections/relics/queryables?lang=en")
    assert schema["title"] == REGISTRY["relics"].en
    assert schema["properties"]["kind"]["title"] == "Kind"
    response = client.get("/ogc/collections/relics/queryables?f=html")
    assert response.status_code == 200 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    for f in REGISTRY["relics"].fields:
        assert f"<code>{f.name}</code>" in page
    assert "<code>communal_house</code>" in page


def queryables_example(client, layer_id: str) -> str:
    page = client.get(f"/ogc/collections/{layer_id}/queryables?f=html").get_data(as_text=True)
    found = re.search(r"<code>filter</code> \(CQL2\):\s*<code>([^<]*)</code>", page)
    assert found, page
    return html.unescape(found.group(1))


def test_queryables_page_gives_a_working_example_in_the_working_area(app, client, monkeypatch):
    example = queryables_example(client, "relics")
    response = client.get(f"/ogc/collections/relics/items?{urlencode({'filter': example})}")
    assert response.status_code == 200, (example, response.get_data(as_text=True)[:200])
    minx, miny, maxx, maxy = app.config["WORKING_AREA"]
    x1, y1, x2, y2 = map(float, re.search(r"BBOX\(([^)]*)\)", example).group(1).split(","))
    assert minx < x1 < x2 < maxx and miny < y1 < y2 < maxy
    # The box follows the configured area: places are data, not code.
    monkeypatch.setitem(app.config, "WORKING_AREA", (100.0, 10.0, 101.0, 11.0))
    assert "BBOX(100.38, 10.38, 100.62, 10.62)" in queryables_example(client, "relics")


def test_queryables_asked_for_as_json_schema(client):
    """QGIS asks with Accept: application/schema+json."""
    response = client.get("/ogc/collections/relics/queryables", headers={"Accept": "application/schema+json"})
    assert response.status_code == 200 and response.mimetype == "application/schema+json"


@pytest.mark.parametrize("layer_id", PUBLIC)
def test_collections_link_to_their_queryables(client, layer_id):
    for body in (get_json(client, f"/ogc/collections/{layer_id}"),
                 next(c for c in get_json(client, "/ogc/collections")["collections"] if c["id"] == layer_id)):
        links = {link["type"]: link["href"] for link in link_rel(body, QUERYABLES_REL)}
        assert set(links) == {"application/schema+json", "text/html"}
        assert client.get(path_of(links["application/schema+json"])).mimetype == "application/schema+json"
        assert client.get(path_of(links["text/html"])).mimetype == "text/html"


@pytest.mark.parametrize("url", ["/ogc/collections/nope/queryables", "/ogc/collections/RELICS/queryables"])
def test_queryables_of_an_unknown_collection_is_404(client, url):
    assert_error(client, url, 404, "NotFound")


def test_crs84_may_be_asked_for_by_name(client, engine):
    """Newer GDAL sends crs= with the collection's storageCrs; the answer says its coordinates."""
    with engine.connect() as c:
        relic = c.execute(text("SELECT min(id) FROM relics")).scalar_one()
    for url in ("/ogc/collections/relics/items", f"/ogc/collections/relics/items/{relic}"):
        plain = client.get(url)
        named = client.get(f"{url}?{urlencode({'crs': CRS84})}")
        assert named.status_code == 200
        assert named.headers["Content-Crs"] == plain.headers["Content-Crs"] == f"<{CRS84}>"
        assert named.get_json(force=True)["features" if "features" in plain.get_json(force=True) else "geometry"] == (
            plain.get_json(force=True)["features" if "features" in plain.get_json(force=True) else "geometry"]
        )
        for other in ("http://www.opengis.net/def/crs/EPSG/0/3857", "EPSG:4326", ""):
            body = assert_error(client, f"{url}?{urlencode({'crs': other})}", 400)
            assert "crs" in body["description"]


def test_next_links_keep_the_crs(client):
    body = get_json(client, f"/ogc/collections/admin_units/items?{urlencode({'crs': CRS84, 'limit': 5})}")
    assert parse_qs(urlsplit(link_rel(body, "next")[0]["href"]).query)["crs"] == [CRS84]


def test_temporal_extent_of_a_temporal_collection(client, old_unit):
    everything = all_features(client, "admin_units")
    starts = [f["properties"]["valid_from"] for f in everything]
    ends = [f["properties"]["valid_to"] for f in everything]
    first = None if None in starts else min(starts)
    last = None if None in ends else max(ends)
    body = get_json(client, "/ogc/collections/admin_units")
    temporal = body["extent"]["temporal"]
    assert temporal["interval"] == [[first and f"{first}T00:00:00Z", last and f"{last}T00:00:00Z"]]
    assert temporal["trs"] == "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"
    for layer_id in PUBLIC:
        if not REGISTRY[layer_id].temporal:
            assert "temporal" not in get_json(client, f"/ogc/collections/{layer_id}")["extent"]


def test_temporal_extent_with_every_unit_dated(client, engine):
    """When every unit has both dates the interval is closed: its ends are the earliest start and latest end."""
    with engine.connect() as c:
        before = c.execute(text("SELECT id, valid_from, valid_to FROM admin_units ORDER BY id")).all()
    try:
        with engine.begin() as c:
            c.execute(text("UPDATE admin_units SET valid_from = DATE '2001-02-03' + CAST(id % 7 AS int), valid_to = DATE '2030-04-05' - CAST(id % 5 AS int)"))
        with engine.connect() as c:
            first, last = c.execute(text("SELECT min(valid_from), max(valid_to) FROM admin_units")).one()
        body = get_json(client, "/ogc/collections/admin_units")
        assert body["extent"]["temporal"]["interval"] == [[f"{first}T00:00:00Z", f"{last}T00:00:00Z"]]
    finally:
        # The saved rows are kept here, not in a temporary table: the pool may hand back another session.
        with engine.begin() as c:
            c.execute(
                text(
                    "UPDATE admin_units a SET valid_from = d.valid_from, valid_to = d.valid_to "
                    "FROM unnest(CAST(:ids AS bigint[]), CAST(:froms AS date[]), CAST(:tos AS date[])) AS d(id, valid_from, valid_to) "
                    "WHERE a.id = d.id"
                ),
                {"ids": [r.id for r in before], "froms": [r.valid_from for r in before], "tos": [r.valid_to for r in before]},
            )


# --- detail page -------------------------------------------------------------


def test_feature_page_shows_the_name(client, engine):
    with engine.connect() as c:
        relic = c.execute(text("SELECT id, name, name_en, district FROM relics ORDER BY id LIMIT 1")).one()
    response = client.get(f"/relics/{relic.id}")
    assert response.status_code == 200 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert f"<h1>{relic.name}</h1>" in page
    assert relic.district in page
    english = client.get(f"/relics/{relic.id}?lang=en").get_data(as_text=True)
    assert f"<h1>{relic.name_en}</h1>" in english


@pytest.mark.parametrize("layer_id", [i for i in PUBLIC if i != "admin_units"])
def test_every_layer_has_detail_pages(client, engine, layer_id):
    with engine.connect() as c:
        row = c.execute(text(f"SELECT id, name FROM {layer_id} ORDER BY id LIMIT 1")).one()
    response = client.get(f"/{layer_id}/{row.id}")
    assert response.status_code == 200
    assert row.name in response.get_data(as_text=True)


def test_a_detail_pages_table_repeats_nothing_and_hides_codes(client, engine):
    """Name, description and photo in the page's language stand above the table, the other language's
    in it (the local name on an English page); place codes are for other systems, not visitors."""
    with engine.connect() as c:
        relic = c.execute(
            text("SELECT id, name, name_en, description, district_code, commune_code FROM relics "
                 "WHERE description IS NOT NULL AND name_en IS NOT NULL AND district_code IS NOT NULL "
                 "AND commune_code IS NOT NULL ORDER BY id LIMIT 1")
        ).one()
    fields = REGISTRY["relics"].fields
    for lang, above, in_table in (("vi", "name", "name_en"), ("en", "name_en", "name")):
        page = client.get(f"/relics/{relic.id}?lang={lang}").get_data(as_text=True)
        table = page[page.index('<table class="props">'):page.index("</table>")]
        headings = re.findall(r"<th>([^<]*)</th>", table)
        labels = {f.name: f.label(lang) for f in fields}
        assert labels["district"] in headings and labels["kind"] in headings
        assert labels[in_table] in headings and str(markupsafe.escape(getattr(relic, in_table))) in table
        for hidden in (above, "photo", "district_code", "commune_code"):
            assert labels[hidden] not in headings, (lang, hidden)
        assert relic.district_code not in table and relic.commune_code not in table
    vi = client.get(f"/relics/{relic.id}?lang=vi").get_data(as_text=True)
    assert vi[vi.index("<article"):].count(str(markupsafe.escape(relic.description))) == 1


@pytest.mark.parametrize("url", ["/relics/999999999", "/nope/1", "/relics/abc", "/relics/-1"])
def test_missing_detail_page_is_404(client, url):
    assert client.get(url).status_code == 404


def test_illustrative_areas_say_so_on_their_page(client, engine):
    with engine.connect() as c:
        zone = c.execute(text("SELECT id FROM farming_zones WHERE illustrative ORDER BY id LIMIT 1")).scalar_one()
    page = client.get(f"/farming_zones/{zone}").get_data(as_text=True)
    assert 'class="illustrative"' in page


# --- HTML in stored text -----------------------------------------------------

EVIL = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture()
def evil_relic(committed):
    return committed(
        "relics", "name, name_en, kind, rank, description, description_en, address, geom",
        ":name, :name, 'temple', 'unranked', :name, :name, :name, ST_SetSRID(ST_MakePoint(106.2, 20.4), 4326)",
        {"name": f"Đền {EVIL}"},
    )


def assert_escaped(page: str, where: str):
    assert "<script>alert" not in page, where
    assert "<img src=x" not in page, where
    assert "&lt;script&gt;alert" in page or "\\u003cscript\\u003e" in page, where


def test_html_in_stored_text_is_escaped(client, evil_relic):
    pages = {
        "item": f"/ogc/collections/relics/items/{evil_relic}?f=html",
        "items": f"/ogc/collections/relics/items?f=html&limit=10000&{urlencode({'q': 'script alert'})}",
        "detail": f"/relics/{evil_relic}",
        "detail en": f"/relics/{evil_relic}?lang=en",
    }
    for where, url in pages.items():
        response = client.get(url)
        assert response.status_code == 200, where
        assert_escaped(response.get_data(as_text=True), where)


def test_html_in_a_district_name_is_escaped_on_the_map_page(client, committed):
    committed(
        "admin_units", "code, name, level, geom",
        "'T-EVIL', :name, 'district', ST_Multi(ST_MakeEnvelope(100.0, 10.0, 100.1, 10.1, 4326))",
        {"name": EVIL},
    )
    response = client.get("/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "\\u003cscript\\u003ealert" in page or "&lt;script&gt;alert" in page


def test_html_in_stored_text_stays_text_in_json(client, evil_relic):
    feature = get_json(client, f"/ogc/collections/relics/items/{evil_relic}")
    assert feature["properties"]["name"] == f"Đền {EVIL}"


def test_html_in_a_parameter_is_escaped(client):
    for url in (
        f"/ogc/collections/relics/items?f=html&{urlencode({'kind': EVIL})}",
        f"/ogc/collections/{quote(EVIL, safe='')}?f=html",
        f"/ogc/collections/relics/items?f=html&{urlencode({'district': EVIL})}",
    ):
        response = client.get(url)
        assert response.status_code in (200, 400, 404)
        page = response.get_data(as_text=True)
        assert "<script>alert" not in page and "<img src=x" not in page, url


# --- health --------------------------------------------------------------------


def test_healthz_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json()["database"] is True


@pytest.fixture(scope="module")
def down_app():
    return create_app({"DATABASE_URL": "postgresql://postgres@127.0.0.1:1/none", "SECRET_KEY": "test"})


def test_healthz_503_when_the_database_is_unreachable(down_app):
    response = down_app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["database"] is False


@pytest.mark.parametrize(
    "url", ["/ogc/collections", "/ogc/collections/relics", "/ogc/collections/relics/items",
            "/ogc/collections/relics/items/1", "/relics/1", "/"]
)
def test_database_down_is_503_json_not_500(down_app, url):
    response = down_app.test_client().get(url)
    assert response.status_code == 503
    body = response.get_json()
    assert body["code"] == "ServiceUnavailable" and body["description"]


def test_no_500_anywhere_when_the_database_is_down(down_app):
    client = down_app.test_client()
    for url in ("/ogc", "/ogc/conformance", "/ogc/api", "/ogc/collections?f=html", "/relics/1?f=html",
                "/ogc/collections/relics/items?kind=temple&q=den"):
        response = client.get(url)
        assert response.status_code in (200, 503), url


# --- fuzz ----------------------------------------------------------------------

NASTY = [
    "", " ", "'", '"', "\\", "%", "%%", "_", "*", "..", "/", "//", ",", ",,,", ";", "--", "/*", "${x}", "{{7*7}}",
    "-0", "-1", "0", "1e309", "-1e309", "NaN", "Infinity", "0x10", "1_0", "１２", "²", "٣", "9" * 40, "x" * 3000,
    "🙂", "\u202e", "\ufeff", "\u0301", "\x01", "\t", "\n", "\r\n", "Đền Trần", "<script>",
    "2020-01-01/2019-01-01", "2020-01-01T00:00:00+99:99", "2020-02-30", "9999-12-31T23:59:60Z",
    "-180,-90,180,90", "180,90,-180,-90", "1,2,3,4,5,6", "nan,nan,nan,nan", "1,1,1,1", "0,0,0,0,0,0",
    "10000", "10001", "10000000", "10000001", "99999999999999999999", "\ud7ff", "%00", "%ZZ",
]
FUZZ_LAYERS = ["relics", "farming_zones", "admin_units"]


def fuzz_params(layer_id: str) -> list[str]:
    layer = REGISTRY[layer_id]
    return ["limit", "offset", "bbox", "bbox-crs", "datetime", "q", "f", "lang", "sortby",
            *(f.name for f in layer.filterable)]


@pytest.mark.parametrize("layer_id", FUZZ_LAYERS)
def test_no_parameter_value_gives_a_500(client, engine, layer_id):
    before = table_counts(engine)
    for param in fuzz_params(layer_id):
        for value in NASTY:
            url = f"/ogc/collections/{layer_id}/items?{urlencode({param: value})}"
            response = client.get(url)
            assert response.status_code in (200, 400), (param, value, response.status_code)
    assert table_counts(engine) == before


def test_no_path_gives_a_500(client):
    for value in NASTY:
        if value in ("", "/", "//", ".."):
            continue
        segment = quote(value, safe="")
        for url in (
            f"/ogc/collections/{segment}",
            f"/ogc/collections/{segment}/items",
            f"/ogc/collections/relics/items/{segment}",
            f"/relics/{segment}",
            f"/{segment}/1",
        ):
            response = client.get(url)
            assert response.status_code < 500, (url, response.status_code)


def test_nasty_values_on_the_other_endpoints(client):
    for value in NASTY:
        for url in ("/ogc", "/ogc/conformance", "/ogc/api", "/ogc/collections", "/ogc/collections/relics", "/", "/healthz"):
            for param in ("f", "lang", "bbox"):
                response = client.get(f"{url}?{urlencode({param: value})}")
                assert response.status_code < 500, (url, param, value, response.status_code)


def test_nasty_headers(client, engine):
    with engine.connect() as c:
        relic = c.execute(text("SELECT min(id) FROM relics")).scalar_one()
    for header, value in (
        ("If-None-Match", "*"), ("If-None-Match", "garbage"), ("If-None-Match", 'W/"'),
        ("Accept", "text/html;q=abc"), ("Accept", "*/*"), ("Accept", ""), ("Accept-Language", "xx;q=2"),
        ("Cookie", "lang=<script>"),
    ):
        response = client.get(f"/ogc/collections/relics/items/{relic}", headers={header: value})
        assert response.status_code in (200, 304), (header, value, response.status_code)
