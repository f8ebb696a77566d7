"""Real clients of the OGC API over real HTTP: GDAL (ogr2ogr, ogrinfo, pyogrio) and OWSLib.

The app is served on a local port (the `live_server` fixture); counts, ids and
names are compared with the database.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pyogrio
import pytest
from owslib.ogcapi.features import Features
from sqlalchemy import text

from layers import REGISTRY, public_layers

PUBLIC = [layer.id for layer in public_layers()]
# Local connections must not wander through a proxy set for the machine.
CLIENT_ENV = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost", "CPL_DEBUG": "OFF"}


def run(*args: str) -> subprocess.CompletedProcess:
    result = subprocess.run(args, capture_output=True, text=True, timeout=600, env=CLIENT_ENV)
    assert result.returncode == 0, (args, result.stderr[-2000:])
    return result


def assert_quiet(result: subprocess.CompletedProcess):
    """GDAL prints "Warning 1: ..." or "ERROR 1: ..." for whatever it found odd in the service."""
    for stream in (result.stdout, result.stderr):
        assert "Warning" not in stream, stream[-2000:]
        assert "ERROR" not in stream, stream[-2000:]


def db_ids(engine, layer_id: str, where: str = "TRUE", **params) -> set[int]:
    with engine.connect() as c:
        return {r[0] for r in c.execute(text(f"SELECT id FROM {layer_id} WHERE {where}"), params)}


def gpkg_ids(path, layer_id: str) -> set[int]:
    frame = pyogrio.read_dataframe(path, layer=layer_id, read_geometry=False, fid_as_index=True)
    return set(int(i) for i in frame.index)


@pytest.fixture()
def owslib(live_server, monkeypatch) -> Features:
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(name, "127.0.0.1,localhost")
    return Features(f"{live_server}/ogc")


# --- GDAL ------------------------------------------------------------------------------


def test_ogr2ogr_copies_every_collection_with_all_features(live_server, engine, tmp_path):
    out = tmp_path / "all.gpkg"
    result = run("ogr2ogr", "-preserve_fid", "-f", "GPKG", str(out), f"OAPIF:{live_server}/ogc")
    assert_quiet(result)
    assert sorted(name for name, _ in pyogrio.list_layers(out)) == sorted(PUBLIC)
    for layer_id in PUBLIC:
        # GDAL reads the API's integer ids as feature ids; -preserve_fid keeps them in the GeoPackage.
        assert gpkg_ids(out, layer_id) == db_ids(engine, layer_id), layer_id
        info = pyogrio.read_info(out, layer=layer_id)
        assert info["crs"] == "EPSG:4326"
        assert set(REGISTRY[layer_id].field_names) <= set(info["fields"]), layer_id
    with engine.connect() as c:
        relic = c.execute(text("SELECT id, name, district FROM relics WHERE name LIKE 'Đền Trần%' ORDER BY id LIMIT 1")).one()
    frame = pyogrio.read_dataframe(out, layer="relics", fid_as_index=True)
    assert frame.loc[relic.id, "name"] == relic.name
    assert frame.loc[relic.id, "district"] == relic.district
    assert frame.geometry.notna().all() and frame.geometry.is_valid.all()


def test_ogr2ogr_pages_of_any_size_reach_every_feature(live_server, engine, tmp_path):
    for page_size in ("7", "10000"):
        out = tmp_path / f"units-{page_size}.gpkg"
        result = run("ogr2ogr", "-preserve_fid", "-oo", f"PAGE_SIZE={page_size}", "-f", "GPKG", str(out), f"OAPIF:{live_server}/ogc", "admin_units")
        assert_quiet(result)
        assert gpkg_ids(out, "admin_units") == db_ids(engine, "admin_units"), page_size


def test_ogr2ogr_from_one_collection_url(live_server, engine, tmp_path):
    out = tmp_path / "relics.gpkg"
    assert_quiet(run("ogr2ogr", "-preserve_fid", "-f", "GPKG", str(out), f"OAPIF:{live_server}/ogc/collections/relics"))
    assert [name for name, _ in pyogrio.list_layers(out)] == ["relics"]
    assert gpkg_ids(out, "relics") == db_ids(engine, "relics")


def test_ogrinfo_counts_and_extents(live_server, engine):
    result = run("ogrinfo", "-ro", "-so", "-al", f"OAPIF:{live_server}/ogc")
    assert_quiet(result)
    counts = dict(re.findall(r"Layer name: (\w+).*?Feature Count: (\d+)", result.stdout, re.S))
    assert {name: int(n) for name, n in counts.items()} == {i: len(db_ids(engine, i)) for i in PUBLIC}
    assert result.stdout.count("Extent: (") == len(PUBLIC)


def test_ogr2ogr_spatial_and_attribute_filters(live_server, engine, tmp_path):
    """-spat becomes bbox=, -where on a filterable field becomes ?kind=...: the answer matches the database."""
    box = ("106.1", "20.3", "106.25", "20.45")
    out = tmp_path / "filtered.gpkg"
    result = run(
        "ogr2ogr", "-preserve_fid", "-f", "GPKG", str(out), f"OAPIF:{live_server}/ogc", "relics",
        "-spat", *box, "-where", "kind = 'pagoda'",
    )
    assert_quiet(result)
    expected = db_ids(
        engine, "relics", "kind = 'pagoda' AND ST_Intersects(geom, ST_MakeEnvelope(:a, :b, :c, :d, 4326))",
        a=float(box[0]), b=float(box[1]), c=float(box[2]), d=float(box[3]),
    )
    assert expected and expected < db_ids(engine, "relics", "kind = 'pagoda'")
    assert gpkg_ids(out, "relics") == expected


PYOGRIO_READ = """
import json, sys, warnings
import pyogrio
warnings.simplefilter("error")
frame = pyogrio.read_dataframe(sys.argv[1], layer="farming_zones")
print(json.dumps(dict(zip(frame["name"], frame["area_ha"]))))
"""


def test_pyogrio_reads_the_live_api_without_warnings(live_server, engine):
    # In a process of its own: GDAL holds the interpreter lock while it opens the
    # source, so the server thread of this process could not answer it.
    result = run(sys.executable, "-c", PYOGRIO_READ, f"OAPIF:{live_server}/ogc")
    assert_quiet(result)
    areas = json.loads(result.stdout)
    with engine.connect() as c:
        rows = dict(c.execute(text("SELECT name, area_ha FROM farming_zones")).all())
    assert areas == pytest.approx(rows)


# --- OWSLib ------------------------------------------------------------------------------


def test_owslib_lists_the_collections(owslib):
    assert owslib.feature_collections() == PUBLIC
    collections = owslib.collections()["collections"]
    assert [c["id"] for c in collections] == PUBLIC
    for collection in collections:
        assert len(collection["extent"]["spatial"]["bbox"][0]) == 4
        rels = {link["rel"] for link in collection["links"]}
        assert {"self", "items", "http://www.opengis.net/def/rel/ogc/1.0/queryables"} <= rels
    assert owslib.collection("relics")["title"] == REGISTRY["relics"].vi


def test_owslib_reads_every_item_page_by_page(owslib, engine):
    seen: list[int] = []
    offset = 0
    while True:
        page = owslib.collection_items("relics", limit=7, offset=offset)
        assert page["type"] == "FeatureCollection"
        assert page["numberMatched"] == len(db_ids(engine, "relics"))
        seen += [f["id"] for f in page["features"]]
        if page["numberReturned"] < 7:
            break
        offset += 7
    assert seen == sorted(db_ids(engine, "relics"))


def test_owslib_reads_one_item(owslib, engine):
    with engine.connect() as c:
        relic = c.execute(text("SELECT id, name FROM relics ORDER BY id DESC LIMIT 1")).one()
    feature = owslib.collection_item("relics", str(relic.id))
    assert feature["id"] == relic.id and feature["properties"]["name"] == relic.name


def test_owslib_filters_with_cql2_and_bbox(owslib, engine):
    found = owslib.collection_items(
        "relics", limit=1000, filter="rank IN ('national', 'special_national') AND name LIKE 'Chùa%'",
        **{"filter-lang": "cql2-text"},
    )
    expected = db_ids(engine, "relics", "rank IN ('national', 'special_national') AND name LIKE 'Chùa%'")
    assert expected and {f["id"] for f in found["features"]} == expected
    boxed = owslib.collection_items("relics", limit=1000, bbox=[106.1, 20.3, 106.25, 20.45])
    assert {f["id"] for f in boxed["features"]} == db_ids(
        engine, "relics", "ST_Intersects(geom, ST_MakeEnvelope(106.1, 20.3, 106.25, 20.45, 4326))"
    )


def test_owslib_reads_the_queryables(owslib):
    for layer_id in PUBLIC:
        layer = REGISTRY[layer_id]
        schema = owslib.collection_queryables(layer_id)
        assert schema["type"] == "object"
        assert set(schema["properties"]) == {*layer.field_names, "id", "geometry"}
        for f in layer.fields:
            if f.kind == "enum":
                assert schema["properties"][f.name]["enum"] == list(f.choice_values())
        assert schema["properties"]["geometry"]["format"].startswith("geometry-")


def test_owslib_reads_conformance_and_the_api_document(owslib):
    classes = set(owslib.conformance()["conformsTo"])
    assert {
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
        "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
        "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
        "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
        "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
        "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    } <= classes
    document = owslib.api()
    assert "/collections/relics/queryables" in document["paths"]


def test_gdal_types_fields_from_the_feature_schema_not_the_first_page(live_server):
    # households, recognised_year and the validity dates are empty in the sample's first
    # features: without the schema GDAL would make them text.
    villages = run("ogrinfo", "-so", f"OAPIF:{live_server}/ogc", "craft_villages")
    units = run("ogrinfo", "-so", f"OAPIF:{live_server}/ogc", "admin_units")
    assert_quiet(villages)
    types = dict(re.findall(r"^(\w+): (\w+) \(", villages.stdout + units.stdout, re.M))
    for layer_id in ("craft_villages", "admin_units"):
        for f in REGISTRY[layer_id].fields:
            expected = {"integer": "Integer", "number": "Real", "date": "Date"}.get(f.kind)
            if expected:
                assert types[f.name] == expected, (layer_id, f.name)
    assert types["created_at"] == "DateTime"


def test_feature_schema_is_linked_and_describes_every_property(client):
    collection = client.get("/ogc/collections/relics?f=json").get_json()
    (described,) = [link for link in collection["links"] if link["rel"].lower() == "describedby"]
    assert described["type"] == "application/schema+json"
    response = client.get(described["href"])
    assert response.mimetype == "application/schema+json"
    properties = response.get_json()["properties"]["properties"]["properties"]
    assert set(properties) == set(REGISTRY["relics"].property_names)
    assert properties["rank"]["enum"] == list(REGISTRY["relics"].field("rank").choice_values())
    assert client.get("/ogc/collections/nowhere/schema.json").status_code == 404
