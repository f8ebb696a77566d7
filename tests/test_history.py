"""History and restore: every change is a version with who and what, and any version comes back."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.writing import (  # noqa: F401  (clean_features is an autouse fixture)
    INSIDE,
    MARK,
    add_user,
    aquaculture_body,
    clean_features,
    drop_users,
    error_of,
    farming_body,
    free_cell,
    history_of,
    items_url,
    layer_state,
    new_token,
    row_of,
    session_login,
    snapshot,
    square,
    token_actor,
)

LAYER = "farming_zones"


@pytest.fixture(scope="module")
def staff(app, engine):
    add_user(engine, "h-editor", "editor", [LAYER, "aquaculture_areas"], [INSIDE])
    add_user(engine, "h-admin", "admin")
    add_user(engine, "h-viewer", "viewer")
    yield {
        "editor": session_login(app, "h-editor"),
        "admin": token_actor(app, new_token(engine, "h-admin"), "h-admin"),
        "viewer": session_login(app, "h-viewer"),
    }
    drop_users(engine, ["h-editor", "h-admin", "h-viewer"])


def tag(fid: int, version: int, layer: str = LAYER) -> dict:
    return {"If-Match": f'"{layer}-{fid}-v{version}"'}


def versions(actor, fid: int, layer: str = LAYER) -> list[dict]:
    response = actor.get(items_url(layer, fid, "/history"))
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["versions"]


def summary(history: list[dict]) -> list[tuple]:
    return [(v["version"], v["operation"], v["user"], v["properties"]["name"]) for v in history]


def test_create_update_delete_restore_each_add_a_version(staff, engine):
    editor, admin = staff["editor"], staff["admin"]
    x, y = free_cell(engine, INSIDE)
    created = editor.post(items_url(LAYER), json=farming_body(square(x, y), name=f"{MARK} a"))
    assert created.status_code == 201
    fid = created.get_json()["id"]
    moved = square(x, y, 0.0015)
    assert editor.patch(items_url(LAYER, fid), json={"properties": {"name": f"{MARK} b"}, "geometry": moved},
                        headers=tag(fid, 1)).status_code == 200
    assert admin.delete(items_url(LAYER, fid), headers=tag(fid, 2)).status_code == 204
    assert admin.get(items_url(LAYER, fid)).status_code == 404
    restored = editor.post(items_url(LAYER, fid, "/restore"), json={"version": 2})
    assert restored.status_code == 201, restored.get_data(as_text=True)

    history = versions(editor, fid)
    assert summary(history) == [
        (4, "restore", "h-editor", f"{MARK} b"),
        (3, "delete", "h-admin", f"{MARK} b"),
        (2, "update", "h-editor", f"{MARK} b"),
        (1, "create", "h-editor", f"{MARK} a"),
    ]
    # Full before/after: attributes and geometry of every version, with when.
    assert history[3]["geometry"]["coordinates"] == [square(x, y)["coordinates"]]
    assert history[2]["geometry"]["coordinates"] == [moved["coordinates"]]
    assert history[3]["properties"]["crop"] == "rice" and history[3]["properties"]["district_code"] == INSIDE
    assert all(v["at"] for v in history)
    assert history[0]["at"] >= history[3]["at"]


def test_restore_an_older_version_of_a_live_feature(staff, engine):
    editor = staff["editor"]
    x, y = free_cell(engine, INSIDE)
    fid = editor.post(items_url(LAYER), json=farming_body(square(x, y), name=f"{MARK} first", season="xuân")).get_json()["id"]
    changed = editor.put(items_url(LAYER, fid), json=farming_body(square(x, y, 0.001), name=f"{MARK} second", crop="fruit"),
                         headers=tag(fid, 1))
    assert changed.status_code == 200 and changed.get_json()["properties"]["season"] is None

    before = snapshot(engine, LAYER, fid)
    error_of(editor.post(items_url(LAYER, fid, "/restore"), json={"version": 1}), 428, "PreconditionRequired")
    error_of(editor.post(items_url(LAYER, fid, "/restore"), json={"version": 1}, headers=tag(fid, 1)), 412, "PreconditionFailed")
    assert snapshot(engine, LAYER, fid) == before

    response = editor.post(items_url(LAYER, fid, "/restore"), json={"version": 1}, headers=tag(fid, 2))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["ETag"] == f'"{LAYER}-{fid}-v3"'
    props = response.get_json()["properties"]
    assert (props["name"], props["crop"], props["season"], props["version"]) == (f"{MARK} first", "rice", "xuân", 3)
    assert response.get_json()["geometry"]["coordinates"] == [square(x, y)["coordinates"]]
    assert props["area_ha"] > 2 * changed.get_json()["properties"]["area_ha"]  # recomputed for the restored shape
    assert summary(versions(editor, fid))[0] == (3, "restore", "h-editor", f"{MARK} first")


def test_restore_a_deleted_feature_brings_back_the_same_id(staff, engine):
    editor, admin = staff["editor"], staff["admin"]
    x, y = free_cell(engine, INSIDE)
    fid = editor.post(items_url(LAYER), json=farming_body(square(x, y), name=f"{MARK} gone")).get_json()["id"]
    assert editor.delete(items_url(LAYER, fid), headers=tag(fid, 1)).status_code == 204
    assert row_of(engine, LAYER, fid) is None

    response = admin.post(items_url(LAYER, fid, "/restore"), json={"version": 1})  # no If-Match: nothing to be stale
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    assert (body["id"], body["properties"]["name"], body["properties"]["version"]) == (fid, f"{MARK} gone", 3)
    assert response.headers["ETag"] == f'"{LAYER}-{fid}-v3"'
    assert admin.get(items_url(LAYER, fid)).status_code == 200
    assert [h[1:4] for h in history_of(engine, LAYER, fid)] == [
        (1, "create", "h-editor"), (2, "delete", "h-editor"), (3, "restore", "h-admin"),
    ]
    # Restored, it is an ordinary feature again: it can be edited with its new ETag.
    assert editor.patch(items_url(LAYER, fid), json={"properties": {"name": f"{MARK} back"}}, headers=tag(fid, 3)).status_code == 200


def test_restoring_a_missing_version_is_404_and_changes_nothing(staff, engine):
    editor = staff["editor"]
    x, y = free_cell(engine, INSIDE)
    fid = editor.post(items_url(LAYER), json=farming_body(square(x, y))).get_json()["id"]
    before = snapshot(engine, LAYER, fid)
    for version in (0, 2, 99):
        error_of(editor.post(items_url(LAYER, fid, "/restore"), json={"version": version}, headers=tag(fid, 1)), 404, "NotFound")
    assert snapshot(engine, LAYER, fid) == before
    # The "delete" entry is a record of the removal, not a version to bring back.
    assert editor.delete(items_url(LAYER, fid), headers=tag(fid, 1)).status_code == 204
    error_of(editor.post(items_url(LAYER, fid, "/restore"), json={"version": 2}), 404, "NotFound")
    assert row_of(engine, LAYER, fid) is None


@pytest.mark.parametrize("body", [{}, {"version": "1"}, {"version": True}, {"version": 1.5}, {"version": None}])
def test_restore_needs_a_whole_version_number(staff, engine, body):
    editor = staff["editor"]
    x, y = free_cell(engine, INSIDE)
    fid = editor.post(items_url(LAYER), json=farming_body(square(x, y))).get_json()["id"]
    before = snapshot(engine, LAYER, fid)
    response = error_of(editor.post(items_url(LAYER, fid, "/restore"), json=body, headers=tag(fid, 1)), 422, "ValidationFailed")
    assert response["errors"][0]["field"] == "version"
    assert snapshot(engine, LAYER, fid) == before


def test_history_and_restore_of_a_feature_that_never_existed_are_404(staff, engine):
    with engine.connect() as c:
        never = c.execute(text(f"SELECT coalesce(max(id), 0) + 100000 FROM {LAYER}")).scalar_one()
    before = layer_state(engine, LAYER)
    error_of(staff["editor"].get(items_url(LAYER, never, "/history")), 404, "NotFound")
    error_of(staff["editor"].post(items_url(LAYER, never, "/restore"), json={"version": 1}), 404, "NotFound")
    error_of(staff["editor"].get(items_url(LAYER, "not-a-number", "/history")), 404, "NotFound")
    error_of(staff["editor"].get(items_url("admin_units", 1, "/history")), 404, "NotFound")
    assert layer_state(engine, LAYER) == before


def test_history_is_for_logged_in_users_only(staff, client, engine):
    x, y = free_cell(engine, INSIDE)
    fid = staff["editor"].post(items_url(LAYER), json=farming_body(square(x, y))).get_json()["id"]
    error_of(client.get(items_url(LAYER, fid, "/history")), 401, "Unauthorized")
    assert summary(versions(staff["viewer"], fid)) == [(1, "create", "h-editor", f"{MARK} ruộng")]


def test_history_is_kept_for_writes_that_skip_the_api(staff, engine):
    """The trigger records plain SQL too, with the user it was told, or none."""
    x, y = free_cell(engine, INSIDE)
    fid = staff["editor"].post(items_url(LAYER), json=farming_body(square(x, y))).get_json()["id"]
    with engine.begin() as c:
        c.execute(text(f"UPDATE {LAYER} SET season = 'mùa' WHERE id = :id"), {"id": fid})
    latest = versions(staff["editor"], fid)[0]
    assert (latest["version"], latest["operation"], latest["user"], latest["properties"]["season"]) == (2, "update", None, "mùa")


def test_one_statement_writing_several_features_records_each(staff, engine):
    """History is written per statement (its transition tables): every row of a multi-row UPDATE or
    DELETE gets its own entry, with its own version, its properties and shape, but no search text."""
    editor = staff["editor"]
    fids = []
    for skip in range(3):
        x, y = free_cell(engine, INSIDE, skip=skip)
        fids.append(editor.post(items_url(LAYER), json=farming_body(square(x, y), name=f"{MARK} lô {skip}")).get_json()["id"])
    with engine.begin() as c:
        c.execute(text("SELECT set_config('vung.user', 'bulk-fix', true)"))
        c.execute(text(f"UPDATE {LAYER} SET season = 'mùa' WHERE id = ANY(:ids)"), {"ids": fids[:2]})
        c.execute(text(f"DELETE FROM {LAYER} WHERE id = ANY(:ids)"), {"ids": fids})
    for number, fid in enumerate(fids):
        updated = number < 2
        expected = [(1, "create", "h-editor"), *([(2, "update", "bulk-fix")] if updated else []),
                    (3 if updated else 2, "delete", "bulk-fix")]
        assert [h[1:4] for h in history_of(engine, LAYER, fid)] == expected
    with engine.connect() as c:
        rows = c.execute(
            text("SELECT feature_id, properties, ST_Equals(geom, (SELECT geom FROM feature_history f "
                 "WHERE f.layer = h.layer AND f.feature_id = h.feature_id AND f.version = 1)) AS same_shape "
                 "FROM feature_history h WHERE layer = :l AND feature_id = ANY(:ids) AND operation = 'delete' "
                 "ORDER BY feature_id"),
            {"l": LAYER, "ids": fids},
        ).all()
    assert [r.feature_id for r in rows] == sorted(fids)
    for r in rows:
        assert r.same_shape
        assert r.properties["id"] == r.feature_id and r.properties["name"].startswith(f"{MARK} lô")
        assert r.properties["area_ha"] > 0 and r.properties["district"]
        assert not {"geom", "search_text"} & set(r.properties)
        assert r.properties["season"] == ("mùa" if r.feature_id in fids[:2] else None)


def test_a_rejected_restore_writes_no_history(staff, engine):
    """Restoring an aquaculture area over one drawn since is an overlap: refused, nothing recorded."""
    editor, admin = staff["editor"], staff["admin"]
    x, y = free_cell(engine, INSIDE)
    layer = "aquaculture_areas"
    old = editor.post(items_url(layer), json=aquaculture_body(square(x, y), name=f"{MARK} old pond")).get_json()["id"]
    assert editor.delete(items_url(layer, old), headers=tag(old, 1, layer)).status_code == 204
    new = admin.post(items_url(layer), json=aquaculture_body(square(x, y), name=f"{MARK} new pond"))
    assert new.status_code == 201
    before = (row_of(engine, layer, old), history_of(engine, layer, old), layer_state(engine, layer))
    response = editor.post(items_url(layer, old, "/restore"), json={"version": 1})
    body = error_of(response, 422, "ValidationFailed")
    assert body["errors"][0]["features"] == [new.get_json()["id"]]
    assert (row_of(engine, layer, old), history_of(engine, layer, old), layer_state(engine, layer)) == before
