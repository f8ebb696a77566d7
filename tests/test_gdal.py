"""GDAL's own OGC API – Features client (ogrinfo, ogr2ogr) against the live app."""

from __future__ import annotations

import subprocess
import threading

import pyogrio
import pytest
from sqlalchemy import text
from werkzeug.serving import make_server

from layers import public_layers

TIMEOUT = 120


@pytest.fixture(scope="module")
def base_url(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


def run(*args: str) -> subprocess.CompletedProcess:
    result = subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 0, f"{' '.join(args)}\n{result.stdout}\n{result.stderr}"
    # GDAL reports HTTP and parsing failures on stderr while still exiting 0.
    assert "ERROR" not in result.stderr, result.stderr
    return result


def export(base_url: str, path, layer: str, *options: str):
    run("ogr2ogr", "-f", "GPKG", str(path), f"OAPIF:{base_url}/ogc", layer, *options)
    return pyogrio.read_dataframe(path)


def test_ogrinfo_lists_every_collection(base_url):
    out = run("ogrinfo", "-ro", "-so", f"OAPIF:{base_url}/ogc").stdout
    for layer in public_layers():
        assert f": {layer.id} (title: {layer.vi})" in out, out


def test_ogrinfo_describes_a_layer(base_url, engine):
    out = run("ogrinfo", "-ro", "-so", f"OAPIF:{base_url}/ogc", "admin_units").stdout
    with engine.connect() as c:
        total = c.execute(text("SELECT count(*) FROM admin_units")).scalar_one()
    assert f"Feature Count: {total}" in out
    assert "Multi Polygon" in out
    for name in ("code:", "name:", "level:", "parent_code:"):
        assert name in out


def test_ogr2ogr_copies_relics_to_a_geopackage(base_url, engine, tmp_path):
    frame = export(base_url, tmp_path / "relics.gpkg", "relics")
    with engine.connect() as c:
        rows = c.execute(text("SELECT id, name, kind, ST_X(geom) AS lon, ST_Y(geom) AS lat FROM relics")).all()
    assert len(frame) == len(rows)
    assert set(frame["name"]) == {r.name for r in rows}
    assert any("Đền Trần" in name for name in frame["name"])
    assert all(frame.geometry.geom_type == "Point")
    assert frame.crs.to_epsg() == 4326
    by_name = {r.name: r for r in rows}
    for name, kind, point in zip(frame["name"], frame["kind"], frame.geometry, strict=True):
        row = by_name[name]
        assert kind == row.kind
        assert (point.x, point.y) == pytest.approx((row.lon, row.lat), abs=1e-6)


def test_ogr2ogr_follows_next_links(base_url, engine, tmp_path):
    frame = export(base_url, tmp_path / "admin.gpkg", "admin_units", "-oo", "PAGE_SIZE=40")
    with engine.connect() as c:
        names = sorted(r[0] for r in c.execute(text("SELECT name FROM admin_units")))
    assert len(names) > 40
    assert sorted(frame["name"]) == names


def test_ogr2ogr_with_a_spatial_and_attribute_filter(base_url, engine, tmp_path):
    bbox = (106.10, 20.30, 106.25, 20.45)
    frame = export(
        base_url, tmp_path / "temples.gpkg", "relics",
        "-spat", *map(str, bbox), "-where", "kind = 'temple'",
    )
    with engine.connect() as c:
        expected = {
            r[0]
            for r in c.execute(
                text(
                    "SELECT name FROM relics WHERE kind = 'temple' "
                    "AND ST_Intersects(geom, ST_MakeEnvelope(:a, :b, :c, :d, 4326))"
                ),
                dict(zip("abcd", bbox, strict=True)),
            )
        }
    assert expected, "the box should hold at least one temple"
    assert set(frame["name"]) == expected
