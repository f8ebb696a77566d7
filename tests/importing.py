"""Helpers shared by the importer tests: real files, counts, clean-up.

Every file is written by the test itself with pyogrio/GDAL (or by hand where
a real-world file looks like that) into pytest's tmp_path.
"""

from __future__ import annotations

import io
from pathlib import Path

import geopandas as gpd
import pyogrio
from shapely.geometry import Point, box
from sqlalchemy import text

from importers.run import ImportOptions, run_import
from layers import REGISTRY
from tests.conftest import SESSION_CSRF

# Names of features made by the importer tests that commit: removed afterwards.
MARK = "zz-import"
# Nam Trực district in the sample: inside the working area, no aquaculture there.
X0, Y0 = 106.20, 20.30
SIDE = 0.004  # about 420 m


def square(i: int, j: int = 0, side: float = SIDE):
    """A square well inside Nam Trực; (i, j) picks a cell of a grid, apart from each other."""
    x, y = X0 + i * 2 * side, Y0 + j * 2 * side
    return box(x, y, x + side, y + side)


def point(i: int) -> Point:
    """Points in Nam Định city."""
    return Point(106.17 + i * 0.003, 20.42)


def zones(names, crops, crs=4326, **columns) -> gpd.GeoDataFrame:
    """Farming zones (name, crop, extra columns) on squares 0, 1, 2..."""
    data = {"name": list(names), "crop": list(crops), **{k: list(v) for k, v in columns.items()}}
    return gpd.GeoDataFrame(data, geometry=[square(i) for i in range(len(data["name"]))], crs=crs)


def write(gdf: gpd.GeoDataFrame, path: Path, **kw) -> Path:
    pyogrio.write_dataframe(gdf, path, **kw)
    return path


def count(conn, table: str, where: str = "true", params: dict | None = None) -> int:
    return conn.execute(text(f"SELECT count(*) FROM {table} WHERE {where}"), params or {}).scalar_one()


def history_count(conn) -> int:
    return conn.execute(text("SELECT count(*) FROM feature_history")).scalar_one()


def snapshot(conn) -> dict[str, int]:
    """Rows of every editable layer and of the history."""
    out = {}
    for t in ("farming_zones", "aquaculture_areas", "craft_villages", "relics"):
        out[t] = count(conn, t)
        out[f"{t} versions"] = conn.execute(text(f"SELECT coalesce(sum(version), 0) FROM {t}")).scalar_one()
    out["feature_history"] = history_count(conn)
    return out


def do_import(conn, layer_id: str, path: Path, **options):
    options.setdefault("username", "tester")
    return run_import(conn, REGISTRY[layer_id], Path(path), ImportOptions(**options))


def reasons(report) -> dict[int, str]:
    """Row number -> reasons (joined) of a report's rejected rows."""
    out: dict[int, str] = {}
    for r in report.rejected:
        out[r["row"]] = (out[r["row"]] + "; " if r["row"] in out else "") + r["reason"]
    return out


def remove_marked(engine) -> None:
    """Delete committed test features (name starting with MARK) and all their history."""
    with engine.begin() as c:
        for table in ("farming_zones", "aquaculture_areas", "craft_villages", "relics"):
            ids = c.execute(text(f"DELETE FROM {table} WHERE name LIKE :m RETURNING id"), {"m": MARK + "%"}).scalars().all()
            c.execute(
                text("DELETE FROM feature_history WHERE layer = :t AND (feature_id = ANY(:ids) OR properties->>'name' LIKE :m)"),
                {"t": table, "ids": list(ids), "m": MARK + "%"},
            )


def upload(client, data: bytes, name: str, lang: str | None = None):
    """POST a file as the import page does (with its CSRF token), in `lang` when given."""
    return client.post(
        "/import/upload" + (f"?lang={lang}" if lang else ""), data={"file": (io.BytesIO(data), name)},
        content_type="multipart/form-data", headers={"X-CSRF-Token": SESSION_CSRF},
    )
