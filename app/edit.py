"""The editor page, and the check-before-save the editor calls."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, render_template

from app.auth import csrf_token, current_user, page_for_users, require_editor
from app.db import db
from app.errors import ValidationFailed
from app.features import checked_write, json_body
from app.ogc import find_layer
from app.pages import current_lang, layer_config, map_config
from layers import REGISTRY, editable_layers
from layers.query import list_districts

bp = Blueprint("edit", __name__)


def editor_config(lang: str) -> dict:
    user = current_user()
    config = map_config(db().read(list_districts), lang)
    # Every layer the user may edit, public or not.
    config["layers"] = [
        layer_config(layer, lang) for layer in editable_layers() if user.may_edit_layer(layer.id)
    ]
    for entry in config["layers"]:
        declared = REGISTRY[entry["id"]]
        for f in entry["fields"]:
            field = declared.field(f["name"])
            f.update(required=field.required, computed=field.computed, maxLength=field.max_length)
    minx, miny, maxx, maxy = current_app.config["WORKING_AREA"]
    config.update(
        csrfToken=csrf_token(),
        user={"username": user.username, "role": user.role,
              "districts": list(user.districts) if user.districts is not None else None},
        workingArea=[[miny, minx], [maxy, maxx]],
        maxVertices=current_app.config["MAX_VERTICES"],
    )
    return config


@bp.get("/edit")
@page_for_users
def editor():
    lang = current_lang()
    return render_template("edit.html", config=editor_config(lang), lang=lang, user=current_user())


@bp.post("/edit/validate/<layer_id>")
def validate(layer_id: str):
    """Would this feature be accepted? Errors, warnings, and a repaired shape if invalid."""
    layer = find_layer(layer_id)
    require_editor(layer)
    body = json_body()
    self_id = body.get("id") if isinstance(body.get("id"), int) else None
    with db().begin() as conn:
        try:
            _, _, check = checked_write(conn, layer, body, partial=False, self_id=self_id)
        except ValidationFailed as failed:
            return jsonify({"valid": False, "errors": failed.extra["errors"], "warnings": [],
                            "repaired": failed.extra.get("repaired")})
    return jsonify({"valid": True, "errors": [], "warnings": check.warnings, "repaired": None})
