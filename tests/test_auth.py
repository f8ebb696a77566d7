"""Accounts against the real database: login, sessions, CSRF, rate limits, tokens, CLI, the editor page."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import text

from tests.writing import (  # noqa: F401  (clean_features is an autouse fixture)
    INSIDE,
    MARK,
    PASSWORD,
    Actor,
    clean_features,
    clear_login_attempts,
    error_of,
    farming_body,
    free_cell,
    history_of,
    insert_feature,
    items_url,
    layer_state,
    messages,
    new_token,
    session_login,
    snapshot,
    square,
    token_actor,
)

LAYER = "farming_zones"
CONFIG = re.compile(r'<script type="application/json" id="vung-config">(.*?)</script>', re.S)
HIDDEN_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(autouse=True)
def fresh_attempts(engine):
    clear_login_attempts(engine)
    yield
    clear_login_attempts(engine)


@pytest.fixture()
def editor(make_user):
    return make_user("a-editor", "editor", layers=[LAYER], districts=[INSIDE])


@pytest.fixture()
def zone(engine) -> int:
    x, y = free_cell(engine, INSIDE)
    return insert_feature(engine, LAYER, {"name": f"{MARK} auth", "crop": "rice"}, square(x, y))


def login_page_token(client, path: str = "/login") -> str:
    page = client.get(path)
    assert page.status_code == 200
    found = HIDDEN_CSRF.search(page.get_data(as_text=True))
    assert found, "the login form carries the CSRF token"
    return found.group(1)


def post_login(client, username: str, password: str, csrf: str | None, **extra):
    data = {"username": username, "password": password, **extra}
    if csrf is not None:
        data["csrf_token"] = csrf
    return client.post("/login", data=data)


def logged_in_as(client) -> str | None:
    me = client.get("/auth/me")
    return me.get_json()["username"] if me.status_code == 200 else None


# --- login, logout, sessions -------------------------------------------------


def test_login_through_the_page_sets_a_safe_session_cookie(client, editor):
    csrf = login_page_token(client)
    response = post_login(client, "a-editor", PASSWORD, csrf)
    assert response.status_code == 303
    assert urlsplit(response.headers["Location"]).path == "/edit"
    cookie = next(v for k, v in response.headers.items() if k == "Set-Cookie" and v.startswith("session="))
    flags = [part.strip().lower() for part in cookie.split(";")]
    assert "httponly" in flags
    assert "samesite=lax" in flags
    assert "path=/" in flags
    assert logged_in_as(client) == "a-editor"


def test_login_gives_a_new_csrf_token(client, editor, engine, zone):
    before_login = login_page_token(client)
    post_login(client, "a-editor", PASSWORD, before_login)
    me = client.get("/auth/me").get_json()
    assert me["csrfToken"] and me["csrfToken"] != before_login
    assert (me["role"], me["layers"], me["districts"]) == ("editor", [LAYER], [INSIDE])
    # The token from before the login no longer authorises anything.
    stale = client.patch(items_url(LAYER, zone), json={"properties": {"name": f"{MARK} x"}},
                         headers={"X-CSRF-Token": before_login, "If-Match": "*"})
    error_of(stale, 403, "CsrfFailed")


def test_username_is_case_insensitive(client, editor):
    assert post_login(client, "A-Editor", PASSWORD, login_page_token(client)).status_code == 303
    assert logged_in_as(client) == "a-editor"


@pytest.mark.parametrize("username, password", [("a-editor", "wrong horse"), ("nobody-here", PASSWORD), ("a-editor", "")])
def test_wrong_credentials_give_the_login_page_with_401(client, editor, username, password):
    response = post_login(client, username, password, login_page_token(client))
    assert response.status_code == 401
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert 'name="username"' in page and HIDDEN_CSRF.search(page)
    assert "Wrong username or password." in page or "Sai tên đăng nhập hoặc mật khẩu" in page
    assert logged_in_as(client) is None


def test_login_without_or_with_a_wrong_csrf_token_is_refused(client, editor, engine):
    login_page_token(client)  # the session has a token; the form below does not send it
    for csrf in (None, "forged"):
        response = post_login(client, "a-editor", PASSWORD, csrf)
        assert response.status_code == 403
        assert logged_in_as(client) is None
    fresh = client.application.test_client()  # no session at all
    assert post_login(fresh, "a-editor", PASSWORD, "anything").status_code == 403
    assert logged_in_as(fresh) is None
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM login_attempts")).scalar_one() == 0


def test_sixth_failed_login_for_a_name_is_429_until_the_window_passes(client, editor, engine):
    csrf = login_page_token(client)
    for _ in range(5):
        assert post_login(client, "a-editor", "wrong horse", csrf).status_code == 401
    assert post_login(client, "a-editor", "wrong horse", csrf).status_code == 429
    # Now even the right password is refused, whatever the case of the name...
    assert post_login(client, "a-editor", PASSWORD, csrf).status_code == 429
    assert post_login(client, "A-EDITOR", PASSWORD, csrf).status_code == 429
    assert logged_in_as(client) is None
    # ...while other names from elsewhere are not affected.
    other = client.application.test_client()
    assert post_login(other, "nobody-here", "x" * 8, login_page_token(other)).status_code == 401
    with engine.begin() as c:
        c.execute(text("UPDATE login_attempts SET at = at - interval '16 minutes'"))
    assert post_login(client, "a-editor", PASSWORD, csrf).status_code == 303
    assert logged_in_as(client) == "a-editor"


def test_many_failed_logins_from_one_address_are_429(app, make_user, engine):
    make_user("a-victim", "viewer")
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "10.9.8.7"
    csrf = login_page_token(client)
    limit = app.config["LOGIN_FAILURES_PER_ADDRESS"]
    for i in range(limit):
        assert post_login(client, f"guess-{i}", "wrong horse", csrf).status_code == 401
    assert post_login(client, "a-victim", PASSWORD, csrf).status_code == 429
    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "10.9.8.8"
    assert post_login(elsewhere, "a-victim", PASSWORD, login_page_token(elsewhere)).status_code == 303


@pytest.mark.parametrize("target", [
    "//evil.example", "https://evil.example", "http://evil.example/edit", "//evil.example/edit",
    "\\\\evil.example", "javascript:alert(1)", "evil.example", "",
])
def test_next_cannot_send_people_to_another_site(client, editor, target):
    response = post_login(client, "a-editor", PASSWORD, login_page_token(client), next=target)
    assert response.status_code == 303
    assert response.headers["Location"] in ("/edit", "http://localhost/edit")


@pytest.mark.parametrize("target", ["/\\evil.example", "/\t/evil.example", "/%2F/evil.example", "/ /evil.example"])
def test_next_with_tricks_browsers_forgive_stays_on_this_site(client, editor, target):
    # Browsers read a backslash as a slash and drop tabs: the Location must not start with two of them.
    response = post_login(client, "a-editor", PASSWORD, login_page_token(client), next=target)
    assert response.status_code == 303
    location = response.headers["Location"]
    assert urlsplit(location).netloc in ("", "localhost")
    path = urlsplit(location).path
    assert not re.match(r"^[/\\\s]{2}", path), location


def test_next_on_this_site_is_followed(client, editor):
    response = post_login(client, "a-editor", PASSWORD, login_page_token(client), next="/stats?lang=en")
    assert response.status_code == 303
    location = urlsplit(response.headers["Location"])
    assert (location.netloc in ("", "localhost"), location.path, location.query) == (True, "/stats", "lang=en")


def test_the_login_page_keeps_only_a_safe_next(client):
    page = client.get("/login?next=//evil.example").get_data(as_text=True)
    assert 'name="next" value="/edit"' in page
    page = client.get("/login?next=/edit%3Flayer%3Drelics").get_data(as_text=True)
    assert 'name="next" value="/edit?layer=relics"' in page


def test_logout_needs_csrf_and_ends_the_session(client, editor, engine, zone):
    actor = session_login(client.application, "a-editor")
    csrf = actor.headers["X-CSRF-Token"]
    assert actor.client.post("/logout").status_code == 403
    assert logged_in_as(actor.client) == "a-editor"
    response = actor.client.post("/logout", data={"csrf_token": csrf})
    assert response.status_code == 303 and urlsplit(response.headers["Location"]).path == "/"
    assert logged_in_as(actor.client) is None
    before = snapshot(engine, LAYER, zone)
    error_of(actor.patch(items_url(LAYER, zone), json={"properties": {"name": f"{MARK} gone"}}, headers={"If-Match": "*"}), 401)
    assert snapshot(engine, LAYER, zone) == before


def test_auth_me_is_401_for_anonymous_and_answers_for_a_token(client, app, editor, engine):
    error_of(client.get("/auth/me"), 401, "Unauthorized")
    answer = token_actor(app, new_token(engine, "a-editor")).get("/auth/me")
    me = answer.get_json()
    assert (me["username"], me["role"], me["layers"], me["districts"]) == ("a-editor", "editor", [LAYER], [INSIDE])
    # A token client writes without CSRF, so it gets no CSRF token and no session cookie.
    assert me["csrfToken"] is None
    assert "Set-Cookie" not in answer.headers


def test_a_deleted_user_loses_their_session(client, app, editor, engine):
    actor = session_login(app, "a-editor")
    with engine.begin() as c:
        c.execute(text("UPDATE users SET active = false WHERE username = 'a-editor'"))
    assert logged_in_as(actor.client) is None
    assert post_login(client, "a-editor", PASSWORD, login_page_token(client)).status_code == 401


# --- CSRF on writes ------------------------------------------------------------


@pytest.mark.parametrize("csrf", [None, "", "wrong-token"])
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "restore"])
def test_session_writes_without_the_right_csrf_token_are_refused(app, editor, engine, zone, method, csrf):
    actor = session_login(app, "a-editor")
    headers = {"If-Match": "*"} if csrf is None else {"If-Match": "*", "X-CSRF-Token": csrf}
    bare = Actor(actor.client, {}, actor.username)
    before, layer_before = snapshot(engine, LAYER, zone), layer_state(engine, LAYER)
    x, y = free_cell(engine, INSIDE)
    url = items_url(LAYER, zone)
    response = {
        "POST": lambda: bare.post(items_url(LAYER), json=farming_body(square(x, y)), headers=headers),
        "PUT": lambda: bare.put(url, json=farming_body(square(x, y)), headers=headers),
        "PATCH": lambda: bare.patch(url, json={"properties": {"name": f"{MARK} csrf"}}, headers=headers),
        "DELETE": lambda: bare.delete(url, headers=headers),
        "restore": lambda: bare.post(items_url(LAYER, zone, "/restore"), json={"version": 1}, headers=headers),
    }[method]()
    error_of(response, 403, "CsrfFailed")
    assert snapshot(engine, LAYER, zone) == before
    assert layer_state(engine, LAYER) == layer_before
    # The same session with its token may.
    ok = actor.patch(url, json={"properties": {"name": f"{MARK} csrf ok"}}, headers={"If-Match": "*"})
    assert ok.status_code == 200


def test_csrf_token_may_come_as_a_form_field(app, editor, engine, zone):
    actor = session_login(app, "a-editor")
    response = actor.client.delete(items_url(LAYER, zone), data={"csrf_token": actor.headers["X-CSRF-Token"]},
                                   headers={"If-Match": "*"})
    assert response.status_code == 204
    assert history_of(engine, LAYER, zone)[-1][2:4] == ("delete", "a-editor")


def test_token_writes_need_no_csrf(app, editor, engine, zone):
    actor = token_actor(app, new_token(engine, "a-editor"))
    response = actor.patch(items_url(LAYER, zone), json={"properties": {"name": f"{MARK} token"}}, headers={"If-Match": "*"})
    assert response.status_code == 200
    assert history_of(engine, LAYER, zone)[-1][2:4] == ("update", "a-editor")


def test_reads_need_no_csrf(app, editor, zone):
    actor = session_login(app, "a-editor")
    bare = Actor(actor.client)
    assert bare.get(items_url(LAYER, zone)).status_code == 200
    assert bare.get(items_url(LAYER, zone, "/history")).status_code == 200


# --- the command line ---------------------------------------------------------


@pytest.fixture()
def cli(app, engine):
    runner = app.test_cli_runner()
    yield runner
    with engine.begin() as c:
        c.execute(text("DELETE FROM users WHERE username LIKE 'cli-%'"))


def run(cli, *args, input=None, ok=True):
    result = cli.invoke(args=list(args), input=input)
    if ok:
        assert result.exit_code == 0, result.output
    else:
        assert result.exit_code != 0, result.output
    return result


def users_listed(cli) -> dict[str, str]:
    lines = run(cli, "users", "list").output.strip().splitlines()
    return {line.split("\t")[0]: line for line in lines}


def test_cli_users_create_list_set_role_and_password(cli, app):
    assert "created" in run(cli, "users", "create", "cli-lan", "--role", "editor", "--password", "long enough",
                            "--layers", "farming_zones,aquaculture_areas", "--districts", "366").output
    assert users_listed(cli)["cli-lan"] == "cli-lan\teditor\tlayers=farming_zones,aquaculture_areas districts=366"
    run(cli, "users", "create", "cli-first-admin", "--role", "admin", input="prompted pw\nprompted pw\n")
    assert users_listed(cli)["cli-first-admin"].split("\t")[1] == "admin"
    assert session_login(app, "cli-first-admin", "prompted pw").username == "cli-first-admin"

    # Districts by name too, as officers call them; stored as codes, which the checks compare.
    run(cli, "users", "set-role", "cli-lan", "--role", "editor", "--districts", "Huyện Hải Hậu,giao thuy,362,366")
    assert users_listed(cli)["cli-lan"] == "cli-lan\teditor\tlayers=all districts=366,365,362"
    run(cli, "users", "set-role", "cli-lan", "--role", "viewer")
    assert users_listed(cli)["cli-lan"] == "cli-lan\tviewer\tlayers=all districts=all"
    run(cli, "users", "password", "cli-lan", "--password", "another long one")
    assert session_login(app, "cli-lan", "another long one").username == "cli-lan"
    assert post_login(app.test_client(), "cli-lan", "long enough", None).status_code == 403
    client = app.test_client()
    assert post_login(client, "cli-lan", "long enough", login_page_token(client)).status_code == 401


@pytest.mark.parametrize("args, message", [
    (["users", "create", "cli-x", "--role", "superuser", "--password", "long enough"], "Invalid value for '--role'"),
    (["users", "create", "cli-x", "--role", "editor", "--password", "short"], "at least 8 characters"),
    (["users", "create", "cli-x", "--role", "editor", "--password", "long enough", "--layers", "bogus"], "unknown layer 'bogus'"),
    (["users", "create", "cli-x", "--role", "editor"], "Error"),  # the prompt's two entries differ, then input ends
    (["users", "create", "cli-x", "--role", "editor", "--password", "long enough", "--districts", "Hà Nội"],
     "no district 'Hà Nội'; give a code or a name: "),
    (["users", "create", "cli-x", "--role", "editor", "--password", "long enough", "--districts", " , "],
     "districts must not be empty"),
    (["users", "set-role", "cli-nobody", "--role", "viewer"], "no user 'cli-nobody'"),
    (["users", "set-role", "cli-nobody", "--role", "owner"], "Invalid value for '--role'"),
    (["users", "password", "cli-nobody", "--password", "long enough"], "no user 'cli-nobody'"),
    (["tokens", "create", "cli-nobody", "--name", "x"], "no user 'cli-nobody'"),
    (["tokens", "revoke", "vung_nothing"], "no active token"),
])
def test_cli_rejects_bad_input_with_a_clear_message(cli, engine, args, message):
    with engine.connect() as c:
        users_before = c.execute(text("SELECT count(*) FROM users")).scalar_one()
    result = run(cli, *args, input="one password\nanother one\n", ok=False)
    assert message in result.output
    assert "Traceback" not in result.output
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM users")).scalar_one() == users_before


@pytest.mark.parametrize("duplicate", ["cli-dup", "CLI-Dup", " cli-dup "])
def test_cli_refuses_a_duplicate_user(cli, duplicate):
    run(cli, "users", "create", "cli-dup", "--role", "viewer", "--password", "long enough")
    result = run(cli, "users", "create", duplicate, "--role", "admin", "--password", "long enough", ok=False)
    assert "exists already" in result.output
    assert users_listed(cli)["cli-dup"].split("\t")[1] == "viewer"


def test_cli_refuses_the_name_of_a_deactivated_user(cli, engine):
    run(cli, "users", "create", "cli-gone", "--role", "viewer", "--password", "long enough")
    with engine.begin() as c:
        c.execute(text("UPDATE users SET active = false WHERE username = 'cli-gone'"))
    result = run(cli, "users", "create", "cli-gone", "--role", "admin", "--password", "long enough", ok=False)
    assert "exists already" in result.output and "Traceback" not in result.output


def test_cli_short_password_reset_is_refused_and_changes_nothing(cli, app):
    run(cli, "users", "create", "cli-keep", "--role", "viewer", "--password", "long enough")
    result = run(cli, "users", "password", "cli-keep", "--password", "short", ok=False)
    assert "at least 8 characters" in result.output
    assert session_login(app, "cli-keep", "long enough").username == "cli-keep"


def test_cli_tokens_create_list_revoke(cli, app, engine):
    run(cli, "users", "create", "cli-portal", "--role", "viewer", "--password", "long enough")
    token = run(cli, "tokens", "create", "cli-portal", "--name", "district portal").output.strip()
    assert re.fullmatch(r"vung_[A-Za-z0-9_-]{40,}", token)
    listed = [line.split("\t") for line in run(cli, "tokens", "list").output.splitlines()]
    mine = next(line for line in listed if line[0] == token[:12])
    assert mine[1:4] == ["cli-portal", "district portal", "active"]
    assert token not in run(cli, "tokens", "list").output  # the secret is shown once only
    assert token_actor(app, token).get("/auth/me").get_json()["username"] == "cli-portal"
    assert run(cli, "tokens", "revoke", token[:12]).output.strip() == "revoked"
    listed = [line.split("\t") for line in run(cli, "tokens", "list").output.splitlines()]
    assert next(line for line in listed if line[0] == token[:12])[3] == "revoked"
    error_of(token_actor(app, token).get("/auth/me"), 401)
    assert "no active token" in run(cli, "tokens", "revoke", token[:12], ok=False).output


# --- the editor page ------------------------------------------------------------


def editor_config(response) -> dict:
    found = CONFIG.search(response.get_data(as_text=True))
    assert found, "the editor page carries its configuration"
    return json.loads(found.group(1))


def test_edit_redirects_anonymous_users_to_login(client):
    response = client.get("/edit")
    assert response.status_code in (302, 303)
    location = urlsplit(response.headers["Location"])
    assert location.path == "/login"
    assert parse_qs(location.query) == {"next": ["/edit"]}


def test_edit_shows_an_editor_only_their_layers(app, editor):
    actor = session_login(app, "a-editor")
    response = actor.get("/edit")
    assert response.status_code == 200
    config = editor_config(response)
    assert [layer["id"] for layer in config["layers"]] == [LAYER]
    assert config["csrfToken"] == actor.headers["X-CSRF-Token"]
    # The logout form in the header carries the same token.
    assert HIDDEN_CSRF.search(response.get_data(as_text=True)).group(1) == actor.headers["X-CSRF-Token"]
    assert config["user"] == {"username": "a-editor", "role": "editor", "districts": [INSIDE]}
    fields = {f["name"]: f for f in config["layers"][0]["fields"]}
    assert fields["area_ha"]["computed"] and fields["name"]["required"] and fields["name"]["maxLength"] == 200
    assert [c["value"] for c in fields["crop"]["choices"]][:2] == ["rice", "rice_seed"]


def test_edit_shows_an_admin_every_editable_layer(app, make_user):
    make_user("a-admin", "admin")
    config = editor_config(session_login(app, "a-admin").get("/edit"))
    assert {layer["id"] for layer in config["layers"]} == {"farming_zones", "aquaculture_areas", "craft_villages", "relics"}


IMPORT_LINK = 'href="/import"'


@pytest.mark.parametrize("layers", [["admin_units"], []], ids=["not-editable", "none"])
def test_an_editor_of_no_editable_layer_may_not_import(app, make_user, layers):
    make_user("a-no-layers", "editor", layers=layers)
    actor = session_login(app, "a-no-layers")
    assert actor.get("/import").status_code == 403
    page = actor.get("/edit")
    assert page.status_code == 200 and editor_config(page)["layers"] == []
    assert IMPORT_LINK not in page.get_data(as_text=True)


def test_an_editor_of_a_layer_is_offered_the_importer(app, editor):
    actor = session_login(app, "a-editor")
    assert actor.get("/import").status_code == 200
    assert IMPORT_LINK in actor.get("/edit").get_data(as_text=True)


def test_edit_validate_answers_valid_and_invalid(app, editor, engine):
    actor = session_login(app, "a-editor")
    url = "/edit/validate/farming_zones"
    before = layer_state(engine, LAYER)
    x, y = free_cell(engine, INSIDE)
    good = actor.post(url, json=farming_body(square(x, y)))
    assert good.status_code == 200
    assert good.get_json() == {"valid": True, "errors": [], "warnings": [], "repaired": None}

    s = 0.002
    bowtie = {"type": "Polygon", "coordinates": [[[x, y], [x + s, y + s], [x + s, y], [x, y + s], [x, y]]]}
    bad = actor.post(url, json=farming_body(bowtie, crop="banana")).get_json()
    assert bad["valid"] is False
    assert any("Self-intersection" in m for m in messages(bad, "geometry"))
    assert any("unknown value 'banana'" in m for m in messages(bad, "crop"))
    assert bad["repaired"]["type"] in ("MultiPolygon", "Polygon")
    location = next(e for e in bad["errors"] if e["field"] == "geometry")["location"]
    assert location == pytest.approx([x + s / 2, y + s / 2], abs=1e-6)
    assert layer_state(engine, LAYER) == before


def test_edit_validate_needs_an_editor_and_csrf(app, client, make_user, editor):
    make_user("a-viewer", "viewer")
    url = "/edit/validate/farming_zones"
    body = farming_body(square(106.2, 20.3))
    error_of(client.post(url, json=body), 401)
    error_of(session_login(app, "a-viewer").post(url, json=body), 403, "Forbidden")
    error_of(session_login(app, "a-editor").post("/edit/validate/relics", json=body), 403, "Forbidden")
    error_of(Actor(session_login(app, "a-editor").client).post(url, json=body), 403, "CsrfFailed")
