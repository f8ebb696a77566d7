"""Vector tiles and TileJSON, over the real database, decoded by GDAL's own MVT driver."""

from __future__ import annotations

import html
import math
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pyogrio
import pytest
from sqlalchemy import text

from app import create_app
from app.config import DATA_ATTRIBUTION
from gis.sql import tile_extent
from layers import REGISTRY, public_layers
from tests.attacks import INJECTIONS
from tests.conftest import signed_in
from tests.writing import error_of

MVT = "application/vnd.mapbox-vector-tile"
# Web Mercator's half width in metres, and the tile border in tile units (of 4096).
HALF_WORLD = 20037508.342789244
BORDER = 64 / 4096


# --- helpers ---------------------------------------------------------------


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    """The XYZ tile holding a point (the slippy-map formula)."""
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def tile_bounds_3857(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    size = 2 * HALF_WORLD / 2**z
    minx, maxy = -HALF_WORLD + x * size, HALF_WORLD - y * size
    return minx, maxy - size, minx + size, maxy


def to_lonlat(mx: float, my: float) -> tuple[float, float]:
    return math.degrees(mx / 6378137), math.degrees(math.atan(math.sinh(my / 6378137)))


def bordered_lonlat_box(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """The tile with its border, in degrees: what a tile may hold."""
    minx, miny, maxx, maxy = tile_bounds_3857(z, x, y)
    pad = (maxx - minx) * BORDER
    west, south = to_lonlat(minx - pad, miny - pad)
    east, north = to_lonlat(maxx + pad, maxy + pad)
    return west, south, east, north


def ids_in_tile(engine, table: str, z: int, x: int, y: int, where: str = "true", **params) -> set[int]:
    """What the database says lies in a tile, asked independently of the app's statement."""
    west, south, east, north = bordered_lonlat_box(z, x, y)
    with engine.connect() as c:
        rows = c.execute(
            text(
                f"SELECT id FROM {table} AS t WHERE ST_Intersects(t.geom, ST_MakeEnvelope(:w, :s, :e, :n, 4326)) AND ({where})"
            ),
            dict(params, w=west, s=south, e=east, n=north),
        )
        return {r.id for r in rows}


def get_tile(client, tmp_path: Path, layer_id: str, z: int, x: int, y: int, query: dict | None = None) -> Path:
    """Fetch a tile and write it where GDAL reads z/x/y from the path."""
    url = f"/tiles/{layer_id}/{z}/{x}/{y}.pbf" + (f"?{urlencode(query)}" if query else "")
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code, response.get_data(as_text=True)[:300])
    assert response.mimetype == MVT
    path = tmp_path / str(z) / str(x) / f"{y}.pbf"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(response.data)
    return path


def decode(path: Path, layer_id: str):
    """The tile's one layer as GDAL reads it (EPSG:3857; the MVT feature id as `mvt_id`).

    CLIP=NO: GDAL would otherwise cut away the border, which the tile holds on purpose.
    """
    assert [name for name, _ in pyogrio.list_layers(path)] == [layer_id]
    return pyogrio.read_dataframe(path, layer=layer_id, CLIP="NO")


def tile_ids(client, tmp_path, layer_id: str, z: int, x: int, y: int, query: dict | None = None) -> set[int]:
    path = get_tile(client, tmp_path, layer_id, z, x, y, query)
    return set(decode(path, layer_id)["mvt_id"]) if path.stat().st_size else set()


def relic(engine, relic_id: int) -> dict:
    with engine.connect() as c:
        return dict(
            c.execute(
                text("SELECT id, name, kind, rank, ST_X(geom) AS lon, ST_Y(geom) AS lat, "
                     "ST_X(ST_Transform(geom, 3857)) AS mx, ST_Y(ST_Transform(geom, 3857)) AS my FROM relics WHERE id = :id"),
                {"id": relic_id},
            ).mappings().one()
        )


def first_relic_id(engine) -> int:
    with engine.connect() as c:
        return c.execute(text("SELECT min(id) FROM relics")).scalar_one()


# --- tiles hold what the database holds ------------------------------------


@pytest.mark.parametrize("z", [8, 11, 14])
def test_relic_tile_holds_the_relics_in_its_envelope(client, engine, tmp_path, z):
    first = relic(engine, first_relic_id(engine))
    x, y = tile_of(first["lon"], first["lat"], z)
    expected = ids_in_tile(engine, "relics", z, x, y)
    assert first["id"] in expected
    frame = decode(get_tile(client, tmp_path, "relics", z, x, y), "relics")
    assert set(frame["mvt_id"]) == expected
    # Properties and places as the database has them, and each point within one tile unit of its place.
    unit = (2 * HALF_WORLD / 2**z) / tile_extent(z)
    for row in frame.itertuples():
        stored = relic(engine, int(row.mvt_id))
        assert (row.name, row.kind, row.rank) == (stored["name"], stored["kind"], stored["rank"])
        assert abs(row.geometry.x - stored["mx"]) <= unit and abs(row.geometry.y - stored["my"]) <= unit


def test_tiles_carry_the_declared_popup_and_filter_fields_only(client, engine, tmp_path):
    first = relic(engine, first_relic_id(engine))
    x, y = tile_of(first["lon"], first["lat"], 12)
    frame = decode(get_tile(client, tmp_path, "relics", 12, x, y), "relics")
    declared = {f.name for f in REGISTRY["relics"].fields if (f.popup or f.filterable) and f.kind != "longtext"}
    assert set(frame.columns) == declared | {"mvt_id", "geometry"}
    # Internal columns, and long texts a client reads from the item, stay out.
    assert not {"search_text", "source", "description"} & set(frame.columns)


def test_zone_tile_numbers_and_flags_match_the_database(client, engine, tmp_path):
    with engine.connect() as c:
        lon, lat = c.execute(
            text("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) AS p FROM farming_zones ORDER BY id LIMIT 1) s")
        ).one()
    x, y = tile_of(lon, lat, 12)
    frame = decode(get_tile(client, tmp_path, "farming_zones", 12, x, y), "farming_zones")
    assert set(frame["mvt_id"]) == ids_in_tile(engine, "farming_zones", 12, x, y)
    with engine.connect() as c:
        stored = {
            r.id: (r.area_ha, r.illustrative, r.crop)
            for r in c.execute(text("SELECT id, area_ha, illustrative, crop FROM farming_zones WHERE id = ANY(:ids)"),
                               {"ids": [int(i) for i in frame["mvt_id"]]})
        }
    for row in frame.itertuples():
        area, illustrative, crop = stored[int(row.mvt_id)]
        assert row.area_ha == pytest.approx(area) and bool(row.illustrative) == illustrative and row.crop == crop


def test_zoomed_out_a_shape_smaller_than_a_pixel_drops_out(client, committed, tmp_path):
    lon, lat = 106.6, 20.2  # a corner of the province with nothing else near
    square = "ST_MakeEnvelope(:lon, :lat, :lon + :side, :lat + :side, 4326)"
    tiny = committed("farming_zones", "name, crop, geom", f":name, 'rice', ST_Multi({square})",
                     {"name": "zz-tile tiny", "lon": lon, "lat": lat, "side": 0.0001})  # about 10 m
    big = committed("farming_zones", "name, crop, geom", f":name, 'rice', ST_Multi({square})",
                    {"name": "zz-tile big", "lon": lon + 0.001, "lat": lat, "side": 0.015})  # about 1.5 km
    zoomed_out, close = 10, 14
    assert tile_extent(zoomed_out) < tile_extent(close)
    ids = {}
    for z in (zoomed_out, close):
        x, y = tile_of(lon + 0.0005, lat + 0.0005, z)
        ids[z] = set(decode(get_tile(client, tmp_path / str(z), "farming_zones", z, x, y), "farming_zones")["mvt_id"])
    assert big in ids[zoomed_out] and tiny not in ids[zoomed_out]
    assert {big, tiny} <= ids[close]


def test_a_tile_far_away_is_empty(client, engine):
    x, y = tile_of(-60.0, -30.0, 10)  # South America
    assert ids_in_tile(engine, "farming_zones", 10, x, y) == set()
    response = client.get(f"/tiles/farming_zones/10/{x}/{y}.pbf")
    # Zero bytes is the valid encoding of a tile with no layers.
    assert response.status_code == 200 and response.mimetype == MVT
    assert response.data == b""


def test_a_tile_over_the_province_is_not_empty_at_zoom_0(client, engine, tmp_path):
    frame = decode(get_tile(client, tmp_path, "relics", 0, 0, 0), "relics")
    with engine.connect() as c:
        assert len(frame) == c.execute(text("SELECT count(*) FROM relics")).scalar_one()


# --- filters ---------------------------------------------------------------


def crowded_zone_tile(engine, z: int = 10) -> tuple[int, int]:
    """The tile holding the first rice zone, which must also hold zones of other crops."""
    with engine.connect() as c:
        lon, lat = c.execute(
            text("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) AS p FROM farming_zones "
                 "WHERE crop = 'rice' ORDER BY id LIMIT 1) s")
        ).one()
    return tile_of(lon, lat, z)


def test_bbox_narrows_the_tile(client, engine, tmp_path):
    with engine.connect() as c:
        middle = c.execute(text("SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ST_X(geom)) FROM relics")).scalar_one()
        west = {r.id for r in c.execute(text("SELECT id FROM relics WHERE ST_X(geom) <= :m"), {"m": middle})}
    got = tile_ids(client, tmp_path, "relics", 0, 0, 0, {"bbox": f"100,15,{middle},25"})
    assert got == west and 0 < len(west) < len(tile_ids(client, tmp_path / "all", "relics", 0, 0, 0))


def test_enum_filter_narrows_the_tile(client, engine, tmp_path):
    x, y = crowded_zone_tile(engine)
    everything = tile_ids(client, tmp_path, "farming_zones", 10, x, y)
    rice = tile_ids(client, tmp_path / "rice", "farming_zones", 10, x, y, {"crop": "rice"})
    assert rice == ids_in_tile(engine, "farming_zones", 10, x, y, "t.crop = 'rice'")
    assert rice and rice < everything


def test_two_filters_combine(client, engine, tmp_path):
    x, y = crowded_zone_tile(engine)
    got = tile_ids(client, tmp_path, "farming_zones", 10, x, y, {"crop": "rice,vegetables", "status": "active"})
    assert got == ids_in_tile(engine, "farming_zones", 10, x, y, "t.crop IN ('rice', 'vegetables') AND t.status = 'active'")


def test_q_without_diacritics_finds_den_tran(client, engine, tmp_path):
    first = relic(engine, first_relic_id(engine))
    x, y = tile_of(first["lon"], first["lat"], 8)
    got = tile_ids(client, tmp_path, "relics", 8, x, y, {"q": "den tran"})
    expected = ids_in_tile(engine, "relics", 8, x, y, "t.search_text LIKE '%den%' AND t.search_text LIKE '%tran%'")
    assert got == expected
    assert got and got < tile_ids(client, tmp_path / "all", "relics", 8, x, y)


def test_district_filter_ignores_diacritics(client, engine, tmp_path):
    with engine.connect() as c:
        district = c.execute(text("SELECT district FROM relics WHERE district IS NOT NULL ORDER BY id LIMIT 1")).scalar_one()
    plain = district.replace("Đ", "D").replace("đ", "d")
    got = tile_ids(client, tmp_path, "relics", 0, 0, 0, {"district": plain})
    with engine.connect() as c:
        expected = {r.id for r in c.execute(text("SELECT id FROM relics WHERE district = :d"), {"d": district})}
    assert got == expected and expected


def test_cql_filter_narrows_the_tile(client, engine, tmp_path):
    got = tile_ids(client, tmp_path, "relics", 0, 0, 0, {"filter": "rank = 'special_national'"})
    with engine.connect() as c:
        expected = {r.id for r in c.execute(text("SELECT id FROM relics WHERE rank = 'special_national'"))}
    assert got == expected and expected


@pytest.mark.parametrize("value", INJECTIONS)
def test_injections_in_filters_are_only_values(client, value):
    # Text filters match nothing (never everything); an enum refuses the value.
    for name in ("q", "district"):
        response = client.get(f"/tiles/relics/0/0/0.pbf?{urlencode({name: value})}")
        assert (response.status_code, response.data) == (200, b"")
    error_of(client.get(f"/tiles/relics/0/0/0.pbf?{urlencode({'kind': value})}"), 400, "InvalidParameterValue")


# --- odd text --------------------------------------------------------------


def test_html_and_odd_text_come_through_as_plain_data(client, engine, committed, tmp_path):
    name = "<script>alert('x')</script> & \"Đình\" \u202e ấp 🏯"
    decision = "<img src=x onerror=alert(1)>\nline two\ttab"
    new_id = committed(
        "relics", "name, kind, rank, decision, geom",
        ":name, 'other', 'unranked', :decision, ST_SetSRID(ST_MakePoint(106.25, 20.3), 4326)",
        {"name": name, "decision": decision},
    )
    x, y = tile_of(106.25, 20.3, 15)
    frame = decode(get_tile(client, tmp_path, "relics", 15, x, y), "relics")
    row = frame[frame["mvt_id"] == new_id].iloc[0]
    assert row["name"] == name and row["decision"] == decision


# --- headers and access ----------------------------------------------------


def test_public_tiles_are_cached_briefly_by_anyone(client):
    response = client.get("/tiles/relics/0/0/0.pbf")
    assert response.headers["Content-Type"] == MVT
    assert response.cache_control.public and response.cache_control.max_age == 60
    assert "no-store" not in response.headers["Cache-Control"]


def test_cache_lifetime_is_configurable(engine, database_url, monkeypatch):
    monkeypatch.setenv("VUNG_TILES_MAX_AGE", "5")
    app = create_app({"DATABASE_URL": database_url, "TESTING": True, "SECRET_KEY": "test"})
    try:
        response = app.test_client().get("/tiles/relics/0/0/0.pbf")
        assert response.cache_control.max_age == 5
    finally:
        app.extensions["vung_db"].dispose()


@pytest.mark.parametrize("url", ["/tiles/relics/0/0/0.pbf", "/tiles/relics.json"])
def test_private_layer_is_refused_to_anonymous_users_as_items_are(client, private_relics, url):
    items = client.get("/ogc/collections/relics/items")
    error_of(client.get(url), items.status_code)
    assert items.status_code == 404


@pytest.mark.parametrize("url", ["/tiles/relics/0/0/0.pbf", "/tiles/relics.json"])
def test_private_layer_is_served_to_users_but_no_cache_keeps_it(app, engine, make_user, private_relics, tmp_path, url):
    viewer = signed_in(app, make_user("tiles-viewer", "viewer"))
    response = viewer.get(url)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "private, no-store"
    if url.endswith(".pbf"):
        path = tmp_path / "0" / "0" / "0.pbf"
        path.parent.mkdir(parents=True)
        path.write_bytes(response.data)
        with engine.connect() as c:
            assert len(decode(path, "relics")) == c.execute(text("SELECT count(*) FROM relics")).scalar_one()


# --- errors ----------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/tiles/relics/23/0/0.pbf",
        "/tiles/relics/1/2/0.pbf",
        "/tiles/relics/1/0/2.pbf",
        "/tiles/relics/3/8/0.pbf",
        "/tiles/relics/-1/0/0.pbf",
        "/tiles/relics/1/-1/0.pbf",
        "/tiles/relics/a/0/0.pbf",
        "/tiles/relics/99999999999999999999999/0/0.pbf",
        "/tiles/relics/0/0/0.png",
        "/tiles/nowhere/0/0/0.pbf",
        "/tiles/nowhere.json",
    ],
)
def test_tiles_that_do_not_exist_are_404_json(client, url):
    error_of(client.get(url), 404)


@pytest.mark.parametrize(
    "query",
    ["limit=10", "offset=5", "relics.limit=10", "kind=castle", "colour=red", "q=" + "a" * 201,
     "bbox=1,2,3", "filter=nonsense ((", "datetime=2020-01-01"],
)
@pytest.mark.parametrize("path", ["/tiles/relics/0/0/0.pbf", "/tiles/relics.json"])
def test_bad_parameters_are_400_json(client, path, query):
    body = error_of(client.get(f"{path}?{query}"), 400, "InvalidParameterValue")
    assert body["description"].startswith(query.split("=")[0] + ": ")  # names the parameter at fault


# --- TileJSON --------------------------------------------------------------


def test_tilejson_describes_the_layer(client, engine):
    response = client.get("/tiles/farming_zones.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    doc = response.get_json()
    layer = REGISTRY["farming_zones"]
    assert doc["tilejson"] == "3.0.0"
    assert doc["name"] == layer.vi
    assert 0 <= doc["minzoom"] < doc["maxzoom"] <= 22
    with engine.connect() as c:
        extent = c.execute(
            text("SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(geom) AS e FROM farming_zones) s")
        ).one()
    assert doc["bounds"] == pytest.approx(list(extent))
    [vector_layer] = doc["vector_layers"]
    assert vector_layer["id"] == "farming_zones"
    declared = {f.name: f.kind for f in layer.fields if (f.popup or f.filterable) and f.kind != "longtext"}
    assert set(vector_layer["fields"]) == set(declared)
    for name, kind in declared.items():
        expected = {"number": "Number", "integer": "Number", "boolean": "Boolean"}.get(kind, "String")
        assert vector_layer["fields"][name] == expected, name
    for line in DATA_ATTRIBUTION:
        assert html.escape(line) in doc["attribution"]
    assert response.cache_control.public


def test_tilejson_bounds_are_those_of_the_filtered_features(client, engine):
    """A client zooms to `bounds`: with a filter, to where its matches are, and with none matching,
    TileJSON's default (the whole world) rather than the unfiltered layer's."""
    with engine.connect() as c:
        district, extent = c.execute(
            text(
                "SELECT district, ARRAY[ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)] FROM ("
                "SELECT district, ST_Extent(geom) AS e, count(*) AS n FROM relics GROUP BY district) s "
                "WHERE district IS NOT NULL ORDER BY n, district LIMIT 1"
            )
        ).one()
        whole = c.execute(text("SELECT ST_XMax(e) - ST_XMin(e) FROM (SELECT ST_Extent(geom) AS e FROM relics) s")).scalar_one()
    doc = client.get("/tiles/relics.json", query_string={"district": district}).get_json()
    assert doc["bounds"] == pytest.approx(extent)
    assert extent[2] - extent[0] < whole
    none = client.get("/tiles/relics.json", query_string={"q": "no such relic anywhere"})
    assert none.status_code == 200 and "bounds" not in none.get_json()


@pytest.mark.parametrize("layer_id", [layer.id for layer in public_layers()])
def test_tilejson_lists_what_the_tiles_carry(client, engine, tmp_path, layer_id):
    fields = client.get(f"/tiles/{layer_id}.json").get_json()["vector_layers"][0]["fields"]
    with engine.connect() as c:
        lon, lat = c.execute(text(f"SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) AS p FROM {layer_id} "
                                  "ORDER BY id LIMIT 1) AS s")).one()
    x, y = tile_of(lon, lat, 12)
    carried = set(decode(get_tile(client, tmp_path, layer_id, 12, x, y), layer_id).columns) - {"mvt_id", "geometry"}
    # A tile names only the properties some feature in it has; it never has one TileJSON leaves out.
    assert carried and carried <= set(fields)
    assert not [f.name for f in REGISTRY[layer_id].fields if f.name in fields and f.kind == "longtext"]


def test_tilejson_in_english_keeps_lang_out_of_the_tile_urls(client):
    doc = client.get("/tiles/relics.json?lang=en&kind=temple").get_json()
    assert doc["name"] == REGISTRY["relics"].en
    assert doc["vector_layers"][0]["description"] == REGISTRY["relics"].en
    assert parse_qs(urlsplit(doc["tiles"][0]).query) == {"kind": ["temple"]}


def test_tilejson_url_serves_the_filtered_tiles(client, engine, tmp_path):
    doc = client.get("/tiles/relics.json?kind=temple&q=den").get_json()
    [template] = doc["tiles"]
    parts = urlsplit(template)
    assert parts.scheme == "http" and parts.netloc == "localhost"
    assert parts.path == "/tiles/relics/{z}/{x}/{y}.pbf"
    assert parse_qs(parts.query) == {"kind": ["temple"], "q": ["den"]}
    first = relic(engine, first_relic_id(engine))
    z = 9
    x, y = tile_of(first["lon"], first["lat"], z)
    filled = template.replace("{z}", str(z)).replace("{x}", str(x)).replace("{y}", str(y))
    response = client.get(filled.removeprefix("http://localhost"))
    assert response.status_code == 200 and response.mimetype == MVT
    path = tmp_path / str(z) / str(x) / f"{y}.pbf"
    path.parent.mkdir(parents=True)
    path.write_bytes(response.data)
    frame = decode(path, "relics")
    assert set(frame["kind"]) == {"temple"}
    assert set(frame["mvt_id"]) == ids_in_tile(engine, "relics", z, x, y, "t.kind = 'temple' AND t.search_text LIKE '%den%'")


def test_tilejson_template_encodes_braces_in_filter_values(client):
    doc = client.get("/tiles/relics.json?q=%7Bz%7D").get_json()
    query = urlsplit(doc["tiles"][0]).query
    assert "{" not in query and parse_qs(query) == {"q": ["{z}"]}


def test_public_answers_vary_on_cookie_only_when_their_language_came_from_it(app):
    """TileJSON's names follow the language cookie: a shared cache must keep each language apart.
    With ?lang= in the address, or for tiles (no words), the cookie changes nothing."""
    client = app.test_client()
    client.set_cookie("lang", "en")
    by_cookie = client.get("/tiles/relics.json")
    assert by_cookie.get_json()["name"] == REGISTRY["relics"].en and by_cookie.cache_control.public
    assert "Cookie" in by_cookie.headers["Vary"]
    assert "Cookie" not in client.get("/tiles/relics.json?lang=vi").headers.get("Vary", "")
    assert "Cookie" not in client.get("/tiles/relics/8/203/113.pbf").headers.get("Vary", "")
