"""QGIS itself (Debian's python3-qgis, offscreen) connected to the live app:
the OGC API layers and the vector tiles, as a planner adds them in QGIS.

What QGIS saw is told by tests/qgis_client.py, run by the system's Python,
and compared here with the database.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections import Counter
from pathlib import Path

from sqlalchemy import text

from layers import REGISTRY, public_layers
from layers.base import SYSTEM_FIELDS

CLIENT = Path(__file__).resolve().parent / "qgis_client.py"
SYSTEM_PYTHON = "/usr/bin/python3"  # python3-qgis is built for it, not for the virtualenv
PROVINCE = [106.0, 20.1, 106.5, 20.5]
FAR_AWAY = [105.0, 21.5, 105.1, 21.6]  # north of Hà Nội: nothing of ours there


def ask_qgis(live_server: str, **job) -> dict:
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
        "XDG_RUNTIME_DIR": os.environ.get("XDG_RUNTIME_DIR", "/tmp"),
    }
    # The virtualenv's variables would send the system's Python to the wrong packages.
    for name in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"):
        env.pop(name, None)
    result = subprocess.run(
        [SYSTEM_PYTHON, str(CLIENT), json.dumps({"base": live_server, **job})],
        capture_output=True, text=True, timeout=300, env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def names(engine, layer_id: str, where: str = "TRUE") -> Counter:
    with engine.connect() as conn:
        return Counter(conn.execute(text(f"SELECT name FROM {layer_id} WHERE {where}")).scalars())


def test_qgis_reads_every_public_collection_whole(live_server, engine):
    layers = [layer.id for layer in public_layers()]
    seen = ask_qgis(live_server, collections=[{"name": layer_id} for layer_id in layers])["collections"]
    for layer_id, layer in zip(layers, seen, strict=True):
        assert layer["valid"] and layer["crs"] == "EPSG:4326", layer_id
        assert Counter(layer["names"]) == names(engine, layer_id), layer_id
        assert layer["with_geometry"] == len(layer["names"]), layer_id
        declared = {f.name for f in REGISTRY[layer_id].fields}
        assert {"name", *(f.name for f in REGISTRY[layer_id].filterable)} <= set(layer["fields"])
        assert set(layer["fields"]) <= declared | {"id", *SYSTEM_FIELDS}


def test_qgis_filters_a_layer_by_an_attribute(live_server, engine):
    [national] = ask_qgis(live_server, collections=[{"name": "relics", "filter": "\"rank\" = 'national'"}])["collections"]
    expected = names(engine, "relics", "rank = 'national'")
    assert expected and Counter(national["names"]) == expected


def test_qgis_draws_the_vector_tiles_where_the_features_are(live_server):
    inside, outside = ask_qgis(
        live_server, views=[{"layer": "farming_zones", "bbox": PROVINCE}, {"layer": "farming_zones", "bbox": FAR_AWAY}]
    )["views"]
    assert inside > 0
    assert outside == 0
