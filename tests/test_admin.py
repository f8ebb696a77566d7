"""Administration in the browser: users, roles, passwords and tokens."""

from __future__ import annotations

import re
import threading
import time

import pytest
from sqlalchemy import text

from layers.accounts import AccountError, authenticate, create_user, find_user
from tests.conftest import SESSION_CSRF as CSRF
from tests.conftest import signed_in
from tests.writing import PASSWORD


@pytest.fixture()
def admin_client(app, make_user):
    return signed_in(app, make_user("adm_test", "admin"))


def test_anonymous_visitors_are_sent_to_login(client):
    response = client.get("/admin")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=/admin")


@pytest.mark.parametrize("role", ["editor", "viewer"])
def test_only_admins_may_administer(app, make_user, role):
    client = signed_in(app, make_user(f"not_admin_{role}", role))
    assert client.get("/admin").status_code == 403
    response = client.post("/admin/users", data={"csrf_token": CSRF, "username": "x_intruder", "password": "12345678", "role": "admin"})
    assert response.status_code == 403


def test_admin_creates_a_scoped_editor(admin_client, engine, dropped_users):
    dropped_users.append("lan_admin_test")
    response = admin_client.post(
        "/admin/users",
        data={"csrf_token": CSRF, "username": "lan_admin_test", "password": "good password", "role": "editor",
              "layers": ["farming_zones"], "districts": ["366"]},
    )
    assert response.status_code == 303
    with engine.connect() as c:
        user = find_user(c, "lan_admin_test")
        assert authenticate(c, "lan_admin_test", "good password") is not None
    assert (user.role, user.layers, user.districts) == ("editor", ("farming_zones",), ("366",))
    page = admin_client.get("/admin").get_data(as_text=True)
    assert "lan_admin_test" in page


def test_bad_input_is_reported_and_changes_nothing(admin_client, engine):
    with engine.connect() as c:
        before = c.execute(text("SELECT count(*) FROM users")).scalar_one()
    admin_client.post("/admin/users", data={"csrf_token": CSRF, "username": "shorty", "password": "short", "role": "editor"})
    admin_client.post("/admin/users", data={"csrf_token": CSRF, "username": "nobody", "password": "long enough", "role": "king"})
    page = admin_client.get("/admin").get_data(as_text=True)
    assert "at least 8 characters" in page and "unknown role" in page
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM users")).scalar_one() == before


def test_a_taken_name_in_any_case_is_refused_on_the_page(admin_client, make_user, engine):
    make_user("taken_name_test", "viewer")
    with engine.begin() as c:
        c.execute(text("UPDATE users SET active = false WHERE username = 'taken_name_test'"))
        before = c.execute(text("SELECT count(*) FROM users")).scalar_one()
    for name in ("taken_name_test", "Taken_Name_TEST"):
        response = admin_client.post("/admin/users", data={"csrf_token": CSRF, "username": name, "password": "long enough", "role": "admin"})
        assert response.status_code == 303
        assert "exists already" in admin_client.get("/admin").get_data(as_text=True)
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM users")).scalar_one() == before
        assert find_user(c, "taken_name_test") is None  # still deactivated, not replaced


def wait_until_blocked_by(engine, holder, seconds: float = 60) -> None:
    """Return once some other session waits for a lock held by `holder`'s session. The other first hashes
    a password (scrypt), which on a loaded 2-core machine took more than 10 s: the wait allows a minute."""
    pid = holder.execute(text("SELECT pg_backend_pid()")).scalar_one()
    deadline = time.monotonic() + seconds
    with engine.connect() as watcher:
        while time.monotonic() < deadline:
            blocked = watcher.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE :pid = ANY(pg_blocking_pids(pid))"), {"pid": pid}
            ).scalar_one()
            if blocked:
                return
            time.sleep(0.02)
    raise AssertionError("no session came to wait on the first one")


def test_a_create_racing_another_for_the_same_name_is_refused(engine, dropped_users):
    """The second of two concurrent creates waits on the unique index, then says why."""
    dropped_users.append("race_name_test")
    outcome: list[object] = []

    def second_create():
        try:
            with engine.begin() as c:
                outcome.append(create_user(c, "RACE_name_test", "long enough", "viewer"))
        except Exception as err:  # noqa: BLE001  (whatever it raises is the answer)
            outcome.append(err)

    with engine.begin() as first:
        create_user(first, "race_name_test", "long enough", "viewer")
        racer = threading.Thread(target=second_create)
        racer.start()  # passes any look-up, since the first row is not committed yet
        wait_until_blocked_by(engine, first)  # the race is on only once the second waits on the first
    racer.join(60)
    assert not racer.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], AccountError), outcome
    assert "exists already" in str(outcome[0])


def test_changes_need_the_csrf_token(admin_client, engine):
    response = admin_client.post("/admin/users", data={"username": "csrf_victim", "password": "12345678", "role": "admin"})
    assert response.status_code == 403
    with engine.connect() as c:
        assert find_user(c, "csrf_victim") is None


def test_role_and_password_changes(admin_client, make_user, engine):
    make_user("role_change_test", "viewer")
    admin_client.post("/admin/users/role", data={"csrf_token": CSRF, "username": "role_change_test", "role": "editor", "layers": ["relics"]})
    admin_client.post("/admin/users/password", data={"csrf_token": CSRF, "username": "role_change_test", "password": "a new password"})
    with engine.connect() as c:
        user = find_user(c, "role_change_test")
        assert (user.role, user.layers, user.districts) == ("editor", ("relics",), None)
        assert authenticate(c, "role_change_test", "a new password") is not None
        assert authenticate(c, "role_change_test", PASSWORD) is None


def test_tokens_are_shown_once_and_revocable(admin_client, app, make_user):
    make_user("portal_owner", "viewer")
    page = admin_client.post("/admin/tokens", data={"csrf_token": CSRF, "username": "portal_owner", "name": "portal"})
    token = re.search(r"vung_[\w-]{20,}", page.get_data(as_text=True)).group(0)
    listing = admin_client.get("/admin").get_data(as_text=True)
    assert token[:12] in listing and token not in listing
    api = app.test_client()
    assert api.get("/auth/me", headers={"Authorization": f"Bearer {token}"}).json["username"] == "portal_owner"
    admin_client.post("/admin/tokens/revoke", data={"csrf_token": CSRF, "prefix": token[:12]})
    assert api.get("/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    # A second revoke (a form sent twice, a stale page) says why nothing happened.
    admin_client.post("/admin/tokens/revoke", data={"csrf_token": CSRF, "prefix": token[:12]})
    assert "no active token starts with" in admin_client.get("/admin").get_data(as_text=True)


def test_names_are_shown_as_text(admin_client, make_user):
    make_user("<img src=x onerror=alert(1)>", "viewer")
    page = admin_client.get("/admin").get_data(as_text=True)
    assert "<img src=x" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
