"""The write API against the real database: who may write what, and no lost updates."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request

import pytest
from sqlalchemy import text
from werkzeug.serving import make_server

from tests.writing import (  # noqa: F401  (clean_features is an autouse fixture)
    INSIDE,
    MARK,
    OUTSIDE,
    Actor,
    add_user,
    aquaculture_body,
    clean_features,
    drop_users,
    error_of,
    etag,
    farming_body,
    free_cell,
    history_of,
    insert_feature,
    items_url,
    layer_state,
    new_token,
    row_of,
    session_login,
    snapshot,
    square,
    token_actor,
    update_name,
)

LAYER = "farming_zones"
# role name -> (role, layers, districts); every editor here may only touch farming zones in Nam Trực
PEOPLE = {
    "viewer": ("viewer", None, None),
    "editor_other_layer": ("editor", ["relics"], None),
    "editor_other_district": ("editor", [LAYER], [OUTSIDE]),
    "editor": ("editor", [LAYER], [INSIDE]),
    "admin": ("admin", None, None),
}
DENIED = {"viewer", "editor_other_layer", "editor_other_district"}
# History names who changed what: every logged-in user may read it, anonymous visitors not.
READ_BY_ANY_USER = {"history"}


def username(role: str) -> str:
    return f"w-{role}"


@pytest.fixture(scope="module")
def people(app, engine):
    """Each role logged in twice: with a session (and CSRF token) and with an API token."""
    actors = {}
    for role, (kind, layers, districts) in PEOPLE.items():
        add_user(engine, username(role), kind, layers, districts)
        actors[role] = {
            "session": session_login(app, username(role)),
            "token": token_actor(app, new_token(engine, username(role)), username(role)),
        }
    yield actors
    drop_users(engine, [username(r) for r in PEOPLE])


@pytest.fixture()
def target(engine) -> int:
    """A farming zone in Nam Trực at version 2 (v1 named 'v1', v2 named 'v2')."""
    x, y = free_cell(engine, INSIDE)
    feature_id = insert_feature(engine, LAYER, {"name": f"{MARK} v1", "crop": "rice"}, square(x, y))
    update_name(engine, LAYER, feature_id, f"{MARK} v2")
    return feature_id


@pytest.fixture()
def outside_target(engine) -> int:
    x, y = free_cell(engine, OUTSIDE)
    return insert_feature(engine, LAYER, {"name": f"{MARK} outside", "crop": "rice"}, square(x, y))


# --- every role against every endpoint --------------------------------------


def tag(fid: int, version: int = 2) -> dict:
    return {"If-Match": f'"{LAYER}-{fid}-v{version}"'}


def do_post(actor: Actor, engine, fid: int):
    x, y = free_cell(engine, INSIDE)
    return actor.post(items_url(LAYER), json=farming_body(square(x, y), name=f"{MARK} posted"))


def do_put(actor: Actor, engine, fid: int):
    body = {"type": "Feature", "geometry": json.loads(actor.client.get(items_url(LAYER, fid)).get_data())["geometry"],
            "properties": {"name": f"{MARK} put", "crop": "vegetables"}}
    return actor.put(items_url(LAYER, fid), json=body, headers=tag(fid))


def do_patch(actor: Actor, engine, fid: int):
    return actor.patch(items_url(LAYER, fid), json={"properties": {"name": f"{MARK} patched"}}, headers=tag(fid))


def do_delete(actor: Actor, engine, fid: int):
    return actor.delete(items_url(LAYER, fid), headers=tag(fid))


def do_restore(actor: Actor, engine, fid: int):
    return actor.post(items_url(LAYER, fid, "/restore"), json={"version": 1}, headers=tag(fid))


def do_history(actor: Actor, engine, fid: int):
    return actor.get(items_url(LAYER, fid, "/history"))


ENDPOINTS = {
    "POST": (do_post, 201),
    "PUT": (do_put, 200),
    "PATCH": (do_patch, 200),
    "DELETE": (do_delete, 204),
    "restore": (do_restore, 200),
    "history": (do_history, 200),
}


def assert_effect(endpoint: str, response, engine, fid: int, user: str) -> None:
    """What a permitted call must have done, seen in the database."""
    row = row_of(engine, LAYER, fid)
    history = history_of(engine, LAYER, fid)
    if endpoint == "POST":
        created = response.get_json()
        assert response.headers["Location"].endswith(items_url(LAYER, created["id"]))
        stored = row_of(engine, LAYER, created["id"])
        assert stored["name"] == f"{MARK} posted" and stored["district_code"] == INSIDE
        assert history_of(engine, LAYER, created["id"])[-1][1:4] == (1, "create", user)
    elif endpoint == "PUT":
        assert (row["name"], row["crop"], row["version"]) == (f"{MARK} put", "vegetables", 3)
        assert history[-1][1:4] == (3, "update", user)
    elif endpoint == "PATCH":
        assert (row["name"], row["crop"], row["version"]) == (f"{MARK} patched", "rice", 3)
        assert history[-1][1:4] == (3, "update", user)
    elif endpoint == "DELETE":
        assert row is None
        assert history[-1][1:4] == (3, "delete", user)
    elif endpoint == "restore":
        assert (row["name"], row["version"]) == (f"{MARK} v1", 3)
        assert history[-1][1:5] == (3, "restore", user, f"{MARK} v1")
    elif endpoint == "history":
        versions = response.get_json()["versions"]
        assert [(v["version"], v["operation"], v["properties"]["name"]) for v in versions] == [
            (2, "update", f"{MARK} v2"), (1, "create", f"{MARK} v1"),
        ]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_anonymous_gets_401_and_nothing_changes(client, engine, target, endpoint):
    before, layer_before = snapshot(engine, LAYER, target), layer_state(engine, LAYER)
    response = ENDPOINTS[endpoint][0](Actor(client), engine, target)
    error_of(response, 401, "Unauthorized")
    assert snapshot(engine, LAYER, target) == before
    assert layer_state(engine, LAYER) == layer_before


@pytest.mark.parametrize("via", ["session", "token"])
@pytest.mark.parametrize("role", PEOPLE)
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_role_against_endpoint(people, engine, target, endpoint, role, via):
    actor = people[role][via]
    call, success = ENDPOINTS[endpoint]
    before, layer_before = snapshot(engine, LAYER, target), layer_state(engine, LAYER)
    response = call(actor, engine, target)
    if role in DENIED and endpoint not in READ_BY_ANY_USER:
        error_of(response, 403, "Forbidden")
        assert snapshot(engine, LAYER, target) == before
        assert layer_state(engine, LAYER) == layer_before
    else:
        assert response.status_code == success, response.get_data(as_text=True)[:500]
        assert_effect(endpoint, response, engine, target, username(role))


@pytest.mark.parametrize("via", ["session", "token"])
@pytest.mark.parametrize("endpoint", ["PUT", "PATCH", "DELETE", "restore"])
def test_editor_may_not_touch_a_feature_outside_their_districts(people, engine, outside_target, endpoint, via):
    editor, fid = people["editor"][via], outside_target
    update_name(engine, LAYER, fid, f"{MARK} outside v2")  # something to restore, and the ETag is v2
    before = snapshot(engine, LAYER, fid)
    body = {"properties": {"name": f"{MARK} x", "crop": "rice"}}
    if endpoint == "PUT":
        body = farming_body(json.loads(editor.get(items_url(LAYER, fid)).get_data())["geometry"])
    response = {
        "PUT": lambda: editor.put(items_url(LAYER, fid), json=body, headers=tag(fid)),
        "PATCH": lambda: editor.patch(items_url(LAYER, fid), json=body, headers=tag(fid)),
        "DELETE": lambda: editor.delete(items_url(LAYER, fid), headers=tag(fid)),
        "restore": lambda: editor.post(items_url(LAYER, fid, "/restore"), json={"version": 1}, headers=tag(fid)),
    }[endpoint]()
    error_of(response, 403, "Forbidden")
    assert snapshot(engine, LAYER, fid) == before


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_editor_may_not_move_a_feature_out_of_their_districts(people, engine, target, method):
    before = snapshot(engine, LAYER, target)
    x, y = free_cell(engine, OUTSIDE)
    body = {"geometry": square(x, y)}
    if method == "PUT":
        body = farming_body(square(x, y))
    response = people["editor"]["token"].call(method, items_url(LAYER, target), json=body, headers=tag(target))
    error_of(response, 403, "Forbidden")
    assert snapshot(engine, LAYER, target) == before


def test_editor_may_not_move_a_feature_from_outside_into_their_districts(people, engine, outside_target):
    before = snapshot(engine, LAYER, outside_target)
    x, y = free_cell(engine, INSIDE)
    response = people["editor"]["session"].patch(items_url(LAYER, outside_target), json={"geometry": square(x, y)},
                                                 headers=tag(outside_target, 1))
    error_of(response, 403, "Forbidden")
    assert snapshot(engine, LAYER, outside_target) == before


def test_editor_may_not_restore_a_version_lying_outside_their_districts(people, engine):
    x, y = free_cell(engine, OUTSIDE)
    fid = insert_feature(engine, LAYER, {"name": f"{MARK} was outside", "crop": "rice"}, square(x, y))
    xi, yi = free_cell(engine, INSIDE)
    admin = people["admin"]["token"]
    moved = admin.patch(items_url(LAYER, fid), json={"geometry": square(xi, yi)}, headers=tag(fid, 1))
    assert moved.status_code == 200 and moved.get_json()["properties"]["district_code"] == INSIDE
    before = snapshot(engine, LAYER, fid)
    response = people["editor"]["session"].post(items_url(LAYER, fid, "/restore"), json={"version": 1}, headers=tag(fid))
    error_of(response, 403, "Forbidden")
    assert snapshot(engine, LAYER, fid) == before


def test_editor_may_not_restore_a_feature_now_outside_back_into_their_districts(people, engine, target):
    admin, editor = people["admin"]["token"], people["editor"]["token"]
    x, y = free_cell(engine, OUTSIDE)
    assert admin.patch(items_url(LAYER, target), json={"geometry": square(x, y)}, headers=tag(target)).status_code == 200
    before = snapshot(engine, LAYER, target)
    response = editor.post(items_url(LAYER, target, "/restore"), json={"version": 2}, headers=tag(target, 3))
    error_of(response, 403, "Forbidden")
    assert snapshot(engine, LAYER, target) == before


def test_editor_may_not_create_outside_their_districts_nor_outside_any_district(people, engine):
    editor = people["editor"]["session"]
    before = layer_state(engine, LAYER)
    x, y = free_cell(engine, OUTSIDE)
    error_of(editor.post(items_url(LAYER), json=farming_body(square(x, y))), 403, "Forbidden")
    # In the working area but in the sea, in no district at all.
    error_of(editor.post(items_url(LAYER), json=farming_body(square(106.6, 19.9))), 403, "Forbidden")
    assert layer_state(engine, LAYER) == before


def test_editor_limited_to_layers_only_but_not_districts_writes_anywhere(app, engine, make_user):
    make_user("w-anywhere", "editor", layers=[LAYER])
    actor = token_actor(app, new_token(engine, "w-anywhere"))
    for district in (INSIDE, OUTSIDE):
        x, y = free_cell(engine, district)
        response = actor.post(items_url(LAYER), json=farming_body(square(x, y)))
        assert response.status_code == 201, response.get_data(as_text=True)
        assert response.get_json()["properties"]["district_code"] == district
    x, y = free_cell(engine, INSIDE)
    error_of(actor.post(items_url("relics"), json={"geometry": {"type": "Point", "coordinates": [x, y]},
                                                   "properties": {"name": f"{MARK} r", "kind": "temple", "rank": "national"}}),
             403, "Forbidden")


def test_reference_layer_cannot_be_written_even_by_an_admin(people, engine):
    admin = people["admin"]["token"]
    with engine.connect() as c:
        unit = c.execute(text("SELECT id FROM admin_units ORDER BY id LIMIT 1")).scalar_one()
    before = layer_state(engine, "admin_units")
    error_of(admin.post(items_url("admin_units"), json={"geometry": square(106.2, 20.3), "properties": {"name": "x"}}), 403)
    error_of(admin.delete(items_url("admin_units", unit), headers={"If-Match": "*"}), 403)
    assert layer_state(engine, "admin_units") == before


# --- tokens -------------------------------------------------------------------


def test_unknown_and_revoked_tokens_get_401_and_write_nothing(app, client, engine, people, target):
    before = snapshot(engine, LAYER, target)
    for token in ("vung_not-a-real-token", ""):
        response = client.patch(items_url(LAYER, target), json={"properties": {"name": f"{MARK} t"}},
                                headers={"Authorization": f"Bearer {token}", **tag(target)})
        error_of(response, 401, "Unauthorized")
    token = new_token(engine, username("admin"), "to revoke")
    actor = token_actor(app, token)
    assert actor.get("/auth/me").get_json()["username"] == username("admin")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["tokens", "revoke", token[:12]])
    assert result.exit_code == 0, result.output
    error_of(actor.patch(items_url(LAYER, target), json={"properties": {"name": f"{MARK} t"}}, headers=tag(target)), 401, "Unauthorized")
    error_of(actor.get("/auth/me"), 401)
    assert snapshot(engine, LAYER, target) == before


def test_token_auth_needs_no_csrf_and_is_not_fooled_by_a_session_cookie(app, engine, people, target):
    # A token request that also carries a session cookie is judged by its token alone.
    viewer_session = session_login(app, username("viewer"))
    admin_token = new_token(engine, username("admin"))
    response = viewer_session.client.patch(
        items_url(LAYER, target), json={"properties": {"name": f"{MARK} by token"}},
        headers={"Authorization": f"Bearer {admin_token}", **tag(target)},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert history_of(engine, LAYER, target)[-1][3] == username("admin")


def test_token_made_with_the_cli_works(app, engine, people, target):
    result = app.test_cli_runner().invoke(args=["tokens", "create", username("editor"), "--name", "gis office"])
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    assert token.startswith("vung_")
    response = token_actor(app, token).patch(items_url(LAYER, target), json={"properties": {"name": f"{MARK} cli"}},
                                             headers=tag(target))
    assert response.status_code == 200, response.get_data(as_text=True)
    with engine.connect() as c:
        stored = c.execute(text("SELECT token_hash, last_used_at FROM api_tokens WHERE prefix = :p"), {"p": token[:12]}).one()
    assert stored.token_hash != token and token not in stored.token_hash  # only a hash is kept
    assert stored.last_used_at is not None


# --- ETag and If-Match ----------------------------------------------------------


def test_reads_send_an_etag_that_changes_with_each_version(people, engine, target):
    admin = people["admin"]["token"]
    first = etag(admin, LAYER, target)
    assert first == f'"{LAYER}-{target}-v2"'
    response = admin.patch(items_url(LAYER, target), json={"properties": {"season": "đông"}}, headers={"If-Match": first})
    assert response.status_code == 200
    assert response.headers["ETag"] == etag(admin, LAYER, target) != first
    assert response.get_json()["properties"]["version"] == 3


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE", "restore"])
def test_missing_if_match_is_428_and_stale_is_412(people, engine, target, method):
    admin = people["admin"]["token"]
    before = snapshot(engine, LAYER, target)
    x, y = free_cell(engine, INSIDE)

    def send(headers):
        if method == "DELETE":
            return admin.delete(items_url(LAYER, target), headers=headers)
        if method == "restore":
            return admin.post(items_url(LAYER, target, "/restore"), json={"version": 1}, headers=headers)
        body = farming_body(square(x, y)) if method == "PUT" else {"properties": {"name": f"{MARK} late"}}
        return admin.call(method, items_url(LAYER, target), json=body, headers=headers)

    error_of(send({}), 428, "PreconditionRequired")
    stale = error_of(send(tag(target, 1)), 412, "PreconditionFailed")
    assert stale["current_version"] == 2
    error_of(send({"If-Match": '"something-else"'}), 412, "PreconditionFailed")
    assert snapshot(engine, LAYER, target) == before


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
def test_if_match_star_is_accepted(people, engine, target, method):
    admin = people["admin"]["token"]
    if method == "PATCH":
        response = admin.patch(items_url(LAYER, target), json={"properties": {"name": f"{MARK} star"}}, headers={"If-Match": "*"})
        assert response.status_code == 200
        assert row_of(engine, LAYER, target)["name"] == f"{MARK} star"
    else:
        assert admin.delete(items_url(LAYER, target), headers={"If-Match": "*"}).status_code == 204
        assert row_of(engine, LAYER, target) is None


def test_writes_to_a_missing_feature_are_404(people, engine):
    admin = people["admin"]["token"]
    for response in (
        admin.patch(items_url(LAYER, 987654321), json={"properties": {"name": "x"}}, headers={"If-Match": "*"}),
        admin.delete(items_url(LAYER, 987654321), headers={"If-Match": "*"}),
        admin.delete(items_url(LAYER, "abc"), headers={"If-Match": "*"}),
        admin.post(items_url("no_such_layer"), json=farming_body(square(106.2, 20.3))),
    ):
        error_of(response, 404, "NotFound")


def race(send, rounds_of_two) -> list[int]:
    """Run the two `send` callables at the same moment; their statuses."""
    barrier = threading.Barrier(len(rounds_of_two))
    statuses: list = [None] * len(rounds_of_two)

    def run(i):
        barrier.wait()
        statuses[i] = send(rounds_of_two[i])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(rounds_of_two))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return statuses


def test_two_concurrent_writers_through_test_clients_exactly_one_wins(app, engine, people, target):
    # Separate clients (one per writer), same If-Match, released together by a barrier; a few rounds.
    writers = [token_actor(app, new_token(engine, username("admin"))), people["editor"]["token"]]
    for round_ in range(4):
        current = etag(writers[0], LAYER, target)
        version = int(current.strip('"').rsplit("-v", 1)[1])
        history_before = history_of(engine, LAYER, target)

        def send(i, current=current, round_=round_):
            response = writers[i].patch(items_url(LAYER, target), json={"properties": {"name": f"{MARK} w{i} r{round_}"}},
                                        headers={"If-Match": current})
            return response.status_code, response.get_json()

        results = race(send, [0, 1])
        statuses = sorted(s for s, _ in results)
        assert statuses == [200, 412], results
        winner = next(i for i, (s, _) in enumerate(results) if s == 200)
        loser_body = next(b for s, b in results if s == 412)
        assert loser_body["code"] == "PreconditionFailed" and loser_body["current_version"] == version + 1
        row = row_of(engine, LAYER, target)
        assert (row["name"], row["version"]) == (f"{MARK} w{winner} r{round_}", version + 1)
        assert len(history_of(engine, LAYER, target)) == len(history_before) + 1


def wait_for_lock_waiters(engine, count: int, timeout: float = 15) -> int:
    deadline = time.monotonic() + timeout
    with engine.connect() as watcher:
        while True:
            waiting = watcher.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()")
            ).scalar_one()
            if waiting >= count or time.monotonic() > deadline:
                return waiting
            time.sleep(0.02)


def both_held_then_released(engine, hold: str, send) -> None:
    """send(0) and send(1) in two threads, both made to wait on the lock `hold` takes, then let go together."""
    with engine.connect() as blocker:
        blocking = blocker.begin()
        blocker.execute(text(hold))
        threads = [threading.Thread(target=send, args=(i,)) for i in (0, 1)]
        for t in threads:
            t.start()
        assert wait_for_lock_waiters(engine, 2) >= 2, "both writers should be waiting on the lock"
        blocking.rollback()
    for t in threads:
        t.join(30)


def test_two_writers_queued_on_the_row_lock_exactly_one_wins(app, engine, people, target):
    """Both requests are made to wait on the row, so they really overlap inside the transaction."""
    writers = [people["admin"]["token"], people["editor"]["session"]]
    current = etag(writers[0], LAYER, target)
    results: list = [None, None]

    def send(i):
        response = writers[i].patch(items_url(LAYER, target), json={"properties": {"crop": ("fruit", "salt")[i]}},
                                    headers={"If-Match": current})
        results[i] = response.status_code

    both_held_then_released(engine, f"SELECT 1 FROM {LAYER} WHERE id = {int(target)} FOR UPDATE", send)
    assert sorted(results) == [200, 412], results
    winner = results.index(200)
    row = row_of(engine, LAYER, target)
    assert (row["crop"], row["version"]) == (("fruit", "salt")[winner], 3)
    assert [h[1:3] for h in history_of(engine, LAYER, target)] == [(1, "create"), (2, "update"), (3, "update")]


def test_two_concurrent_writers_over_real_http(app, engine, people, target):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    tokens = [new_token(engine, username("admin")), new_token(engine, username("editor"))]
    try:
        current = etag(people["admin"]["token"], LAYER, target)

        def send(i):
            request = urllib.request.Request(
                base + items_url(LAYER, target), method="PATCH",
                data=json.dumps({"properties": {"name": f"{MARK} http {i}"}}).encode(),
                headers={"Authorization": f"Bearer {tokens[i]}", "If-Match": current, "Content-Type": "application/json"},
            )
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    return response.status
            except urllib.error.HTTPError as err:
                return err.code

        statuses = race(send, [0, 1])
    finally:
        server.shutdown()
        thread.join(10)
    assert sorted(statuses) == [200, 412], statuses
    winner = statuses.index(200)
    row = row_of(engine, LAYER, target)
    assert (row["name"], row["version"]) == (f"{MARK} http {winner}", 3)
    assert len(history_of(engine, LAYER, target)) == 3


def test_two_overlapping_aquaculture_areas_saved_at_once_cannot_both_win(engine, people):
    """The overlap rule holds under concurrency: the second writer sees the first."""
    writers = [people["admin"]["token"], people["admin"]["session"]]
    x, y = free_cell(engine, INSIDE)
    bodies = [aquaculture_body(square(x, y)), aquaculture_body(square(x + 0.001, y))]
    before = layer_state(engine, "aquaculture_areas")
    results: list = [None, None]

    def send(i):
        results[i] = writers[i].post(items_url("aquaculture_areas"), json=bodies[i]).status_code

    # Writes wait here, after any check that only reads.
    both_held_then_released(engine, "LOCK TABLE aquaculture_areas IN EXCLUSIVE MODE", send)
    assert sorted(results) == [201, 422], results
    assert layer_state(engine, "aquaculture_areas")[0][0] == before[0][0] + 1


def test_two_restores_of_a_deleted_feature_at_once(engine, people, target):
    """Both find no live feature and re-insert it: the second is told, not given a server error."""
    admin = people["admin"]["token"]
    assert admin.delete(items_url(LAYER, target), headers=tag(target)).status_code == 204
    writers = [admin, people["editor"]["token"]]
    results: list = [None, None]

    def send(i):
        response = writers[i].post(items_url(LAYER, target, "/restore"), json={"version": 1 + i})
        results[i] = (response.status_code, response.get_json())

    both_held_then_released(engine, f"LOCK TABLE {LAYER} IN EXCLUSIVE MODE", send)  # both wait before looking for the row
    assert sorted(s for s, _ in results) == [201, 409], results
    winner = next(i for i, (s, _) in enumerate(results) if s == 201)
    assert next(b for s, b in results if s == 409)["code"] == "Conflict"
    assert [h[2:4] for h in history_of(engine, LAYER, target)][-2:] == [("delete", username("admin")), ("restore", writers[winner].username)]
    assert row_of(engine, LAYER, target)["name"] == f"{MARK} v{1 + winner}"
