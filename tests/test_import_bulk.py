"""A load at least as big as its layer goes in without the layer's indexes, built again after it."""

from __future__ import annotations

import random

import geopandas as gpd
import pytest
from shapely.geometry import box
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

import layers.imports as imports
from importers.run import INDEXES_REBUILT
from layers.edit import set_actor
from tests.importing import do_import, write, zones

LAYER = "farming_zones"


def indexes(conn) -> dict[str, tuple[int, str]]:
    """name -> (oid, definition) of the layer's indexes: a rebuilt index has a new oid."""
    rows = conn.execute(
        text(
            "SELECT c.relname, c.oid, pg_get_indexdef(c.oid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE i.indrelid = CAST(:t AS regclass) AND i.indisvalid AND i.indisready"
        ),
        {"t": LAYER},
    )
    return {name: (oid, definition) for name, oid, definition in rows}


@pytest.fixture()
def bulk_from_four(monkeypatch):
    """Four rows count as a big load (10,000 otherwise): the rule, not the size, is under test."""
    monkeypatch.setattr(imports, "BULK_ROWS", 4)


def empty_layer(conn) -> None:
    conn.execute(text(f"DELETE FROM {LAYER}"))


def load(conn, tmp_path, count: int, name: str = "Vùng nạp lớn"):
    names = [f"{name} {i}" for i in range(count)]
    return do_import(conn, LAYER, write(zones(names, ["Lúa"] * count), tmp_path / "bulk.geojson")), names


def test_a_big_load_into_an_empty_layer_rebuilds_the_same_indexes(conn, tmp_path, bulk_from_four):
    before = indexes(conn)
    empty_layer(conn)
    report, names = load(conn, tmp_path, 6)
    assert report.inserted == 6 and INDEXES_REBUILT in report.notes
    after = indexes(conn)
    assert {k: v[1] for k, v in after.items()} == {k: v[1] for k, v in before.items()}
    rebuilt = {k for k in after if after[k][0] != before[k][0]}
    assert f"{LAYER}_pkey" not in rebuilt and {f"ix_{LAYER}_geom", f"ix_{LAYER}_search"} <= rebuilt
    # What the skipped row triggers would have set, set all the same.
    derived = conn.execute(
        text(
            f"SELECT bool_and(version = 1 AND created_at = now() AND updated_at = now() AND area_ha > 0 "
            f"AND district = 'Nam Trực'), count(*) FROM {LAYER} WHERE name = ANY(:n)"
        ),
        {"n": names},
    ).one()
    assert tuple(derived) == (True, 6)
    history = conn.execute(
        text(f"SELECT count(*) FROM feature_history h JOIN {LAYER} f ON h.feature_id = f.id AND h.layer = '{LAYER}' "
             "WHERE f.name = ANY(:n) AND h.operation = 'create' AND h.version = 1"),
        {"n": names},
    ).scalar_one()
    assert history == 6
    # The rebuilt search index answers.
    conn.execute(text("SET LOCAL enable_seqscan = off"))
    found = conn.execute(text(f"SELECT count(*) FROM {LAYER} WHERE search_text LIKE '%vung nap lon%'")).scalar_one()
    assert found == 6


def test_a_load_smaller_than_the_layer_keeps_its_indexes(conn, tmp_path, bulk_from_four):
    before = indexes(conn)
    existing = conn.execute(text(f"SELECT count(*) FROM {LAYER}")).scalar_one()
    assert existing > 5, "the sample's zones"
    report, _ = load(conn, tmp_path, 5)
    assert report.inserted == 5 and INDEXES_REBUILT not in report.notes
    assert indexes(conn) == before


def test_a_layer_being_read_keeps_its_indexes_and_the_load_goes_on(engine, conn, tmp_path, bulk_from_four, monkeypatch):
    monkeypatch.setattr(imports, "LOCK_WAIT", "200ms")  # the rule, not the length of the wait
    before = indexes(conn)
    empty_layer(conn)
    with engine.connect() as reader:
        reader.begin()
        reader.execute(text(f"SELECT id FROM {LAYER} LIMIT 1")).all()  # holds its lock until it ends
        report, _ = load(conn, tmp_path, 6)
        reader.rollback()
    assert report.inserted == 6 and INDEXES_REBUILT not in report.notes
    assert indexes(conn) == before
    # The short lock wait ended with the savepoint: it does not linger in the transaction.
    assert conn.execute(text("SELECT current_setting('lock_timeout')")).scalar_one() in ("0", "0ms")


@pytest.mark.parametrize(("already", "rebuilt"), [(6, True), (7, False)])
def test_a_load_as_big_as_the_layer_goes_in_without_its_indexes(conn, tmp_path, bulk_from_four, already, rebuilt):
    """The edge of the rule: six rows into a layer of six drop the indexes, into a layer of seven they do not."""
    empty_layer(conn)
    load(conn, tmp_path, already, name="Vùng có sẵn")
    before = indexes(conn)  # after that first load, big too
    report, _ = load(conn, tmp_path, 6)
    assert report.inserted == 6 and (INDEXES_REBUILT in report.notes) is rebuilt
    assert (indexes(conn) == before) is not rebuilt
    assert conn.execute(text(f"SELECT count(*) FROM {LAYER}")).scalar_one() == already + 6


def test_a_lock_error_other_than_the_wait_fails_the_import_and_changes_nothing(engine, conn, tmp_path, bulk_from_four):
    """Only running out of the short lock wait means "keep the indexes"; any other error (here the
    caller's own statement timeout, shorter than the wait) ends the import with nothing written."""
    empty_layer(conn)
    before = (indexes(conn), conn.execute(text("SELECT count(*) FROM feature_history")).scalar_one())
    conn.execute(text("SET LOCAL statement_timeout = '1s'"))
    with engine.connect() as reader:
        reader.begin()
        reader.execute(text(f"SELECT id FROM {LAYER} LIMIT 1")).all()  # holds its lock until it ends
        with pytest.raises(OperationalError) as raised:
            load(conn, tmp_path, 6)
        reader.rollback()
    assert raised.value.orig.pgcode == "57014"  # query_canceled, not lock_not_available
    conn.execute(text("SET LOCAL statement_timeout = 0"))
    assert conn.execute(text(f"SELECT count(*) FROM {LAYER}")).scalar_one() == 0
    assert (indexes(conn), conn.execute(text("SELECT count(*) FROM feature_history")).scalar_one()) == before


def test_places_are_the_place_triggers_own(conn, tmp_path, bulk_from_four):
    """District and commune of a bulk load (the importer's own join) equal what the place trigger
    gives the same shapes; area is the layer's generated column either way.

    Random zones over the whole province, many across unit borders, where the
    point on the surface decides; the trigger then runs on each (an update that
    keeps the shape) and must change nothing it derives.
    """
    rng = random.Random(20261126)
    centres = conn.execute(
        text("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) AS p FROM admin_units WHERE level = 'commune') c")
    ).all()
    shapes = []
    for _ in range(300):
        cx, cy = rng.choice(centres)
        x, y = cx + rng.uniform(-0.02, 0.01), cy + rng.uniform(-0.02, 0.01)
        w, h = rng.uniform(0.001, 0.03), rng.uniform(0.001, 0.03)
        shapes.append(box(x, y, x + w, y + h).buffer(rng.uniform(0, 0.004), quad_segs=rng.randint(1, 6)))
    names = [f"Vùng đối chiếu {i}" for i in range(len(shapes))]
    frame = gpd.GeoDataFrame({"name": names, "crop": ["Lúa"] * len(shapes)}, geometry=shapes, crs=4326)
    empty_layer(conn)
    report = do_import(conn, LAYER, write(frame, tmp_path / "doi_chieu.gpkg"))
    assert report.inserted == len(shapes) and INDEXES_REBUILT in report.notes
    derived = "area_ha, district, district_code, commune, commune_code"
    query = text(f"SELECT name, {derived} FROM {LAYER} WHERE name = ANY(:n) ORDER BY name")
    imported = conn.execute(query, {"n": names}).all()
    assert sum(1 for r in imported if r.commune) > 250, "most shapes lie in a commune"
    assert len({r.district for r in imported}) >= 5
    conn.execute(text(f"UPDATE {LAYER} SET geom = geom WHERE name = ANY(:n)"), {"n": names})
    assert conn.execute(query, {"n": names}).all() == imported


def prepared_squares(conn, monkeypatch, big: bool, name: str, count: int, side: float, seed: int):
    """Names and random squares in the province for a load that is big (into an empty layer, four rows
    counting as big) or small."""
    if big:
        monkeypatch.setattr(imports, "BULK_ROWS", 4)
        empty_layer(conn)
    rng = random.Random(seed)
    corners = [(rng.uniform(106.0, 106.4), rng.uniform(20.1, 20.4)) for _ in range(count)]
    return [f"{name} {i}" for i in range(count)], [box(x, y, x + side, y + side) for x, y in corners]


@pytest.mark.parametrize("big", [True, False], ids=["bulk", "small"])
def test_a_reimport_by_key_derives_and_records_what_the_triggers_would(conn, tmp_path, monkeypatch, big):
    """Features updated by key: new values and shape, place, area, version and history as a single edit gives."""
    names, first = prepared_squares(conn, monkeypatch, big, "Vùng cập nhật", 30, 0.005, seed=7)
    moved = [shape.buffer(0.003) if i % 2 else shape.centroid.buffer(0.01) for i, shape in enumerate(first)]
    do_import(conn, LAYER, write(gpd.GeoDataFrame({"name": names, "crop": ["Lúa"] * 30}, geometry=first, crs=4326),
                                 tmp_path / "v1.gpkg"))
    second = gpd.GeoDataFrame({"name": names, "crop": ["Rau màu"] * 30}, geometry=moved, crs=4326)
    report = do_import(conn, LAYER, write(second, tmp_path / "v2.gpkg"), key="name", username="lan")
    assert (report.updated, report.inserted) == (30, 0)
    assert (INDEXES_REBUILT in report.notes) is big
    current = text(
        f"SELECT name, crop, version, area_ha, district, district_code, commune, commune_code, "
        f"to_jsonb(f) - 'geom' - 'search_text' AS props FROM {LAYER} AS f WHERE name = ANY(:n) ORDER BY name"
    )
    updated = conn.execute(current, {"n": names}).all()
    assert {(r.crop, r.version) for r in updated} == {("vegetables", 2)}
    history = dict(
        conn.execute(
            text(
                f"SELECT f.name, h.properties FROM feature_history h JOIN {LAYER} f ON h.layer = '{LAYER}' "
                "AND h.feature_id = f.id AND h.version = 2 AND h.operation = 'update' AND h.username = 'lan' "
                "WHERE f.name = ANY(:n)"
            ),
            {"n": names},
        ).all()
    )
    assert history == {r.name: r.props for r in updated}
    # The row triggers, run on the same shapes, derive the same place and area.
    conn.execute(text(f"UPDATE {LAYER} SET geom = geom WHERE name = ANY(:n)"), {"n": names})
    again = conn.execute(current, {"n": names}).all()
    assert [r[3:8] for r in again] == [r[3:8] for r in updated]


@pytest.mark.parametrize("big", [True, False], ids=["bulk", "small"])
def test_undoing_a_reimport_restores_what_an_edit_back_would_give(conn, tmp_path, monkeypatch, big):
    """Undo of a re-import by key: the earlier values and shapes come back with the place that shape
    lies in, a new version and a restore in the history, whether or not the load was big enough to go
    in without the layer's indexes; the indexes are all there afterwards."""
    names, first = prepared_squares(conn, monkeypatch, big, "Vùng hoàn tác", 20, 0.004, seed=11)
    far = [shape.centroid.buffer(0.01) for shape in first[::-1]]  # other shapes, mostly in other communes
    current = text(
        f"SELECT name, crop, version, ST_AsEWKB(geom) AS shape, area_ha, district, district_code, commune, commune_code "
        f"FROM {LAYER} WHERE name = ANY(:n) ORDER BY name"
    )
    do_import(conn, LAYER, write(gpd.GeoDataFrame({"name": names, "crop": ["Lúa"] * 20}, geometry=first, crs=4326),
                                 tmp_path / "v1.gpkg"))
    before = conn.execute(current, {"n": names}).all()
    before_indexes = indexes(conn)
    second = do_import(conn, LAYER, write(gpd.GeoDataFrame({"name": names, "crop": ["Muối"] * 20}, geometry=far, crs=4326),
                                          tmp_path / "v2.gpkg"), key="name", username="lan")
    assert second.updated == 20 and (INDEXES_REBUILT in second.notes) is big
    assert conn.execute(current, {"n": names}).all() != before

    set_actor(conn, "lan", "restore")
    assert imports.undo_import(conn, second.import_id, "lan") == {"removed": 0, "restored": 20, "changed_since": 0,
                                                                  "unrecorded": 0}
    restored = conn.execute(current, {"n": names}).all()
    assert [r[:2] + r[3:] for r in restored] == [r[:2] + r[3:] for r in before]
    assert {r.version for r in restored} == {3}
    assert {k: v[1] for k, v in indexes(conn).items()} == {k: v[1] for k, v in before_indexes.items()}
    recorded = conn.execute(text(
        f"SELECT count(*) FROM feature_history h JOIN {LAYER} f ON h.layer = '{LAYER}' AND h.feature_id = f.id "
        "AND h.version = 3 AND h.operation = 'restore' AND h.username = 'lan' AND h.properties->>'crop' = 'rice' "
        "WHERE f.name = ANY(:n)"), {"n": names}).scalar_one()
    assert recorded == 20
    # The row triggers, run on the restored shapes, derive the same place.
    conn.execute(text(f"UPDATE {LAYER} SET geom = geom WHERE name = ANY(:n)"), {"n": names})
    assert [r[4:] for r in conn.execute(current, {"n": names}).all()] == [r[4:] for r in restored]
