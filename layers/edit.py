"""Layer-driven write statements: checked inserts, updates, deletes, restores.

Every write runs in the caller's transaction, locks the row it changes and
compares versions there, so of two concurrent writers exactly one wins.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from gis import sql
from layers.base import Layer
from layers.store import stored_geometry
from layers.validate import Problems

UNIQUE_VIOLATION = "23505"


class Conflict(Exception):
    """The feature changed since the client read it."""

    def __init__(self, current_version: int):
        super().__init__(f"the feature is now at version {current_version}")
        self.current_version = current_version


class Missing(Exception):
    """No such feature (or version)."""


@dataclass(frozen=True)
class WorkingArea:
    minx: float
    miny: float
    maxx: float
    maxy: float
    max_vertices: int = 10_000


@dataclass
class GeometryCheck:
    problems: Problems = field(default_factory=Problems)
    warnings: list[dict] = field(default_factory=list)
    repaired: dict | None = None


def set_actor(conn: Connection, username: str | None, operation: str | None = None) -> None:
    """Who is writing, for the history trigger; local to the transaction."""
    set_local(conn, {"vung.user": username or "", "vung.operation": operation or ""})


def set_local(conn: Connection, settings: dict[str, str]) -> dict[str, str]:
    """Set server settings until the transaction ends (a rolled-back savepoint undoes them), in one
    statement; returns their old values."""
    params, columns = {}, []
    for i, (name, value) in enumerate(settings.items()):
        params.update({f"n{i}": name, f"v{i}": value})
        columns += [f"current_setting(:n{i}, true)", f"set_config(:n{i}, :v{i}, true)"]
    row = conn.execute(text(f"SELECT {', '.join(columns)}"), params).one()
    return {name: row[2 * i] for i, name in enumerate(settings)}


def lock_overlap_checks(conn: Connection, layer: Layer) -> None:
    """One checked writer at a time per layer refusing overlaps, until commit.

    Two overlapping shapes saved at once (by the API or an import) would
    otherwise each pass without seeing the other.
    """
    if layer.overlap == "reject":
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:layer))"), {"layer": layer.id})


def geometry_sql(layer: Layer, param: str = ":geometry") -> str:
    # GeoJSON may carry altitudes; the layers are flat, so they are dropped rather than refused.
    return stored_geometry(layer, f"ST_Force2D(ST_SetSRID(ST_GeomFromGeoJSON({param}), 4326))")


def check_geometry(conn: Connection, layer: Layer, geometry: dict, area: WorkingArea, self_id: int | None) -> GeometryCheck:
    """Type, size, range, working area, validity and overlaps, all decided by PostGIS."""
    check = GeometryCheck()
    problem = geometry_shape_problem(geometry, layer)
    if problem:
        check.problems.add("geometry", problem)
        return check
    try:
        with conn.begin_nested():
            row = conn.execute(
                text(sql.geometry_report_sql()), {"geometry": json.dumps(geometry), **geometry_rules(layer, area)}
            ).one()
    except DBAPIError as err:
        check.problems.add("geometry", f"not a readable GeoJSON geometry ({str(err.orig).splitlines()[0][:120]})")
        return check
    if row.problem:
        location = json.loads(row.location)["coordinates"] if row.location else None
        check.problems.add("geometry", row.problem, **({"location": location} if location else {}))
        check.repaired = json.loads(row.repaired) if row.repaired else None
    if not check.problems and layer.overlap != "allow" and not layer.is_point:
        add_overlaps(conn, layer, geometry, self_id, check)
    return check


def geometry_shape_problem(geometry, layer: Layer) -> str | None:
    if not isinstance(geometry, dict) or "type" not in geometry or "coordinates" not in geometry:
        return "must be a GeoJSON geometry object with type and coordinates"
    if not numbers_only(geometry["coordinates"]):
        return "not a readable GeoJSON geometry: coordinates must be arrays of numbers"
    crs = geometry.get("crs")
    if crs and "4326" not in json.dumps(crs) and "CRS84" not in json.dumps(crs):
        return "must be in WGS 84 longitude/latitude (EPSG:4326); reproject it first"
    if geometry["type"] not in layer.accepted_geometries:
        return f"type {str(geometry['type'])[:30]} not accepted here; expected {' or '.join(layer.accepted_geometries)}"
    return None


def numbers_only(coordinates) -> bool:
    """Only numbers at the leaves: PostGIS would read "106.2" as a number and "abc" or true as 0 or 1."""
    stack = [coordinates]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, bool) or not isinstance(item, int | float) or not math.isfinite(item):
            return False
    return True


def geometry_rules(layer: Layer, area: WorkingArea) -> dict:
    """The parameters of gis.sql.geometry_verdict for this layer and working area."""
    return {
        "accepted": [t.upper() for t in layer.accepted_geometries],  # as PostGIS's GeometryType() names them
        "accepted_text": " or ".join(layer.accepted_geometries),
        "max_vertices": area.max_vertices,
        "wa_minx": area.minx, "wa_miny": area.miny, "wa_maxx": area.maxx, "wa_maxy": area.maxy,
    }


def add_overlaps(conn: Connection, layer: Layer, geometry: dict, self_id: int | None, check: GeometryCheck) -> None:
    lock_overlap_checks(conn, layer)
    row = conn.execute(
        text(sql.overlap_sql(layer.id)), {"geometry": json.dumps(geometry), "self_id": self_id or 0}
    ).one()
    if not row.ids:
        return
    detail = {"features": list(row.ids), "overlap": json.loads(row.overlap) if row.overlap else None}
    message = f"overlaps {len(row.ids)} other feature(s) of this layer: {', '.join(map(str, row.ids))}"
    if layer.overlap == "reject":
        check.problems.add("geometry", message, **detail)
    else:
        check.warnings.append({"code": "Overlap", "message": message, **detail})


def insert_feature(conn: Connection, layer: Layer, values: dict, geometry: dict) -> dict:
    columns = list(values)
    statement = (
        f"INSERT INTO {layer.id} ({', '.join([*columns, 'geom'])}) "
        f"VALUES ({', '.join([*(f':{c}' for c in columns), geometry_sql(layer)])}) "
        "RETURNING id, version, district_code"
    )
    return dict(conn.execute(text(statement), {**values, "geometry": json.dumps(geometry)}).mappings().one())


def lock_feature(conn: Connection, layer: Layer, feature_id: int) -> dict:
    row = conn.execute(
        text(f"SELECT id, version, district_code FROM {layer.id} WHERE id = :id FOR UPDATE"), {"id": feature_id}
    ).mappings().one_or_none()
    if row is None:
        raise Missing()
    return dict(row)


def update_feature(
    conn: Connection, layer: Layer, feature_id: int, values: dict, geometry: dict | None, replace: bool
) -> dict:
    """Set the given values (all writable fields with `replace`) and maybe the geometry."""
    if replace:
        values = {f.name: values.get(f.name) for f in layer.writable}
    assignments = [f"{c} = :{c}" for c in values]
    params = dict(values, id=feature_id)
    if geometry is not None:
        assignments.append(f"geom = {geometry_sql(layer)}")
        params["geometry"] = json.dumps(geometry)
    if not assignments:
        assignments = ["version = version"]  # still a new version: the client asked to save
    statement = f"UPDATE {layer.id} SET {', '.join(assignments)} WHERE id = :id RETURNING id, version, district_code"
    return dict(conn.execute(text(statement), params).mappings().one())


def delete_feature(conn: Connection, layer: Layer, feature_id: int) -> None:
    conn.execute(text(f"DELETE FROM {layer.id} WHERE id = :id"), {"id": feature_id})


def feature_history(conn: Connection, layer: Layer, feature_id: int) -> list[dict]:
    rows = conn.execute(
        text(
            "SELECT version, operation, username, at, properties, ST_AsGeoJSON(geom, 7) AS geometry "
            "FROM feature_history WHERE layer = :layer AND feature_id = :id ORDER BY version DESC, id DESC"
        ),
        {"layer": layer.id, "id": feature_id},
    ).mappings()
    return [
        {
            "version": r["version"], "operation": r["operation"], "user": r["username"],
            "at": r["at"].isoformat(), "properties": r["properties"],
            "geometry": json.loads(r["geometry"]) if r["geometry"] else None,
        }
        for r in rows
    ]


def recorded_version(conn: Connection, layer: Layer, feature_id: int, version: int) -> tuple[dict, dict]:
    """Writable values and geometry of a recorded version (not a deletion record), or Missing."""
    old = conn.execute(
        text(
            "SELECT properties, ST_AsGeoJSON(geom) AS geometry FROM feature_history "
            "WHERE layer = :layer AND feature_id = :id AND version = :v AND operation <> 'delete' "
            "ORDER BY id DESC LIMIT 1"
        ),
        {"layer": layer.id, "id": feature_id, "v": version},
    ).mappings().one_or_none()
    if old is None:
        raise Missing()
    return {f.name: old["properties"].get(f.name) for f in layer.writable}, json.loads(old["geometry"])


def restore_feature(conn: Connection, layer: Layer, feature_id: int, values: dict, geometry: dict, exists: bool) -> dict:
    """Bring back a recorded version (of a live or deleted feature) as a new version."""
    if exists:
        return update_feature(conn, layer, feature_id, values, geometry, replace=True)
    next_version = conn.execute(
        text("SELECT max(version) + 1 FROM feature_history WHERE layer = :layer AND feature_id = :id"),
        {"layer": layer.id, "id": feature_id},
    ).scalar_one()
    try:
        return insert_feature(conn, layer, dict(values, id=feature_id, version=next_version), geometry)
    except IntegrityError as err:
        if getattr(err.orig, "pgcode", None) != UNIQUE_VIOLATION:
            raise
        raise Conflict(next_version) from None  # restored by someone else meanwhile
