"""Writes to the OGC API (Part 4 style), history and restore.

Every write: who may (auth), what was sent (declaration, PostGIS checks),
then one transaction that locks the row, compares versions (If-Match) and
records history through the database's trigger.
"""

from __future__ import annotations

import json
import re

from flask import Blueprint, Response, current_app, request, url_for

from app.auth import require_district, require_editor, require_user
from app.db import db
from app.errors import ApiError, NotFound, ValidationFailed
from app.ogc import GEOJSON, etag_for, find_layer, parse_feature_id
from layers.base import Layer
from layers.edit import (
    Conflict,
    GeometryCheck,
    Missing,
    WorkingArea,
    check_geometry,
    delete_feature,
    feature_history,
    insert_feature,
    lock_feature,
    recorded_version,
    restore_feature,
    set_actor,
    update_feature,
)
from layers.query import select_feature
from layers.validate import Problems, check_properties

bp = Blueprint("features", __name__)


class PreconditionFailed(ApiError):
    status = 412
    code = "PreconditionFailed"


class PreconditionRequired(ApiError):
    status = 428
    code = "PreconditionRequired"


class EditConflict(ApiError):
    status = 409
    code = "Conflict"


def working_area() -> WorkingArea:
    cfg = current_app.config
    return WorkingArea(*cfg["WORKING_AREA"], max_vertices=cfg["MAX_VERTICES"])


# Half a surrogate pair, which JSON can escape (\\ud800) and Python keeps, but no UTF-8 (database, answer) can hold.
SURROGATE = re.compile("[\ud800-\udfff]")


def json_body() -> dict:
    """The request's JSON object; anything else (not JSON, nested beyond reason, invalid Unicode) is a 400."""
    if not request.is_json:
        raise ApiError("The body must be a JSON object sent as application/json.")
    try:
        data = json.loads(request.get_data())
    except RecursionError:
        raise ApiError("The body is nested too deeply to be a feature.") from None
    except ValueError as err:  # not JSON, or not UTF-8
        raise ApiError(f"The body is not valid JSON: {str(err)[:200]}") from None
    if not isinstance(data, dict):
        raise ApiError("The body must be a JSON object sent as application/json.")
    if has_lone_surrogate(data):
        raise ApiError("The body holds half of a surrogate pair (\\ud800–\\udfff): text must be valid Unicode.")
    return data


def has_lone_surrogate(value) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def checked_write(conn, layer: Layer, body: dict, partial: bool, self_id: int | None) -> tuple[dict, dict | None, GeometryCheck]:
    """Typed properties and geometry of a body, or ValidationFailed listing every problem."""
    values, problems = check_properties(layer, body.get("properties", {} if partial else None), partial)
    geometry = body.get("geometry")
    check = GeometryCheck()
    if geometry is not None or not partial:
        check = check_geometry(conn, layer, geometry, working_area(), self_id)
    unknown = set(body) - {"type", "geometry", "properties", "id", "links"}
    for name in sorted(unknown):
        problems.add(name, "unknown member of a feature")
    refuse("The feature was not saved", Problems(problems.errors + check.problems.errors), check.repaired)
    return values, geometry, check


def refuse(why: str, problems: Problems, repaired: dict | None) -> None:
    """ValidationFailed listing every problem, by field, if there are any."""
    if problems:
        raise ValidationFailed(
            f"{why}: " + "; ".join(f"{e['field']}: {e['message']}" for e in problems.errors),
            errors=problems.errors, repaired=repaired,
        )


def feature_response(conn, layer: Layer, feature_id: int, status: int, warnings: list[dict]) -> Response:
    feature_text, version = select_feature(conn, layer, feature_id)
    if warnings:
        feature_text = feature_text[:-1] + ',"warnings":' + json.dumps(warnings, ensure_ascii=False) + "}"
    response = Response(feature_text, status=status, mimetype=GEOJSON)
    response.headers["ETag"] = etag_for(layer, feature_id, version)
    return response


def require_current(layer: Layer, feature_id: int, version: int) -> None:
    """The client must name the version it changes (If-Match), and it must still be current."""
    if not request.if_match:
        raise PreconditionRequired("Send If-Match with the ETag of the version you are changing.")
    current = etag_for(layer, feature_id, version).strip('"')
    if not (request.if_match.star_tag or request.if_match.contains(current)):
        raise PreconditionFailed(
            "Someone else saved this feature since you read it; reload it and apply your change again.",
            current_version=version,
        )


@bp.post("/collections/<layer_id>/items")
def create(layer_id: str):
    layer = find_layer(layer_id)
    user = require_editor(layer)
    body = json_body()
    with db().begin() as conn:
        set_actor(conn, user.username)
        values, geometry, check = checked_write(conn, layer, body, partial=False, self_id=None)
        row = insert_feature(conn, layer, values, geometry)
        require_district(user, row["district_code"])
        response = feature_response(conn, layer, row["id"], 201, check.warnings)
    response.headers["Location"] = url_for("ogc.item", layer_id=layer.id, feature_id=row["id"], _external=True)
    return response


def change(layer_id: str, raw_id: str, partial: bool, replace: bool):
    layer = find_layer(layer_id)
    user = require_editor(layer)
    feature_id = parse_feature_id(raw_id, layer)
    body = json_body()
    with db().begin() as conn:
        set_actor(conn, user.username)
        current = locked(conn, layer, feature_id)
        require_current(layer, feature_id, current["version"])
        require_district(user, current["district_code"])
        values, geometry, check = checked_write(conn, layer, body, partial=partial, self_id=feature_id)
        row = update_feature(conn, layer, feature_id, values, geometry, replace=replace)
        require_district(user, row["district_code"])
        return feature_response(conn, layer, feature_id, 200, check.warnings)


def locked(conn, layer: Layer, feature_id: int) -> dict:
    try:
        return lock_feature(conn, layer, feature_id)
    except Missing:
        raise NotFound(f"There is no feature {feature_id} in {layer.id}.") from None


@bp.put("/collections/<layer_id>/items/<raw_id>")
def replace(layer_id: str, raw_id: str):
    return change(layer_id, raw_id, partial=False, replace=True)


@bp.patch("/collections/<layer_id>/items/<raw_id>")
def patch(layer_id: str, raw_id: str):
    return change(layer_id, raw_id, partial=True, replace=False)


@bp.delete("/collections/<layer_id>/items/<raw_id>")
def delete(layer_id: str, raw_id: str):
    layer = find_layer(layer_id)
    user = require_editor(layer)
    feature_id = parse_feature_id(raw_id, layer)
    with db().begin() as conn:
        set_actor(conn, user.username)
        current = locked(conn, layer, feature_id)
        require_current(layer, feature_id, current["version"])
        require_district(user, current["district_code"])
        delete_feature(conn, layer, feature_id)
    return Response(status=204)


@bp.get("/collections/<layer_id>/items/<raw_id>/history")
def history(layer_id: str, raw_id: str):
    layer = find_layer(layer_id)
    if not layer.editable:
        raise NotFound(f"{layer.id} keeps no history.")
    require_user()  # history names who changed what: not for anonymous visitors
    feature_id = parse_feature_id(raw_id, layer)
    versions = db().read(feature_history, layer, feature_id)
    if not versions:
        raise NotFound(f"There is no feature {feature_id} in {layer.id}, nor was there.")
    return Response(json.dumps({"versions": versions}, ensure_ascii=False, default=str), mimetype="application/json")


@bp.post("/collections/<layer_id>/items/<raw_id>/restore")
def restore(layer_id: str, raw_id: str):
    layer = find_layer(layer_id)
    user = require_editor(layer)
    feature_id = parse_feature_id(raw_id, layer)
    version = json_body().get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise ValidationFailed("Name the version to restore: {\"version\": n}.", errors=[{"field": "version", "message": "must be a whole number"}])
    with db().begin() as conn:
        set_actor(conn, user.username, "restore")
        try:
            current = lock_feature(conn, layer, feature_id)
        except Missing:
            current = None
        if current:
            require_current(layer, feature_id, current["version"])
            require_district(user, current["district_code"])
        try:
            values, geometry = recorded_version(conn, layer, feature_id, version)
        except Missing:
            raise NotFound(f"Feature {feature_id} of {layer.id} has no version {version}.") from None
        check = restorable(conn, layer, feature_id, geometry)
        try:
            row = restore_feature(conn, layer, feature_id, values, geometry, exists=current is not None)
        except Conflict:
            raise EditConflict(f"Someone else restored feature {feature_id} meanwhile; reload it.") from None
        require_district(user, row["district_code"])
        return feature_response(conn, layer, feature_id, 200 if current else 201, check.warnings)


def restorable(conn, layer: Layer, feature_id: int, geometry: dict) -> GeometryCheck:
    """An old shape meets today's rules too: another feature may have been drawn over it since."""
    check = check_geometry(conn, layer, geometry, working_area(), feature_id)
    refuse("This version cannot be restored", check.problems, check.repaired)
    return check
