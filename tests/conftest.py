"""Shared fixtures: a real PostGIS test database, rebuilt by the migrations."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app import create_app
from app.cli import alembic_config, ensure_database
from app.config import sqlalchemy_url
from importers.sample import load_sample
from layers import REGISTRY
from tests.live import serving
from tests.writing import PASSWORD, drop_users

DEFAULT_TEST_URL = "postgresql://postgres@127.0.0.1:5432/vung_test"


@pytest.fixture(scope="session")
def database_url() -> str:
    url = sqlalchemy_url(os.environ.get("DATABASE_URL", DEFAULT_TEST_URL))
    if not make_url(url).database.endswith("_test"):
        pytest.exit(f"refusing to run tests against {make_url(url).database!r}: its name must end in _test", 2)
    return url


@pytest.fixture(scope="session")
def engine(database_url):
    from alembic import command

    ensure_database(database_url)
    cfg = alembic_config(database_url)
    # Down to nothing and back up: the migrations are tested on every run.
    command.downgrade(cfg, "base")
    command.upgrade(cfg, "head")
    eng = create_engine(database_url)
    with eng.begin() as conn:
        load_sample(conn)
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def app(engine, database_url, tmp_path_factory):
    # Uploads of this run only: user ids of other test databases on the machine would find theirs.
    uploads = str(tmp_path_factory.mktemp("uploads"))
    return create_app({"DATABASE_URL": database_url, "TESTING": True, "SECRET_KEY": "test", "UPLOAD_DIR": uploads})


@pytest.fixture(scope="session")
def live_server(app) -> Iterator[str]:
    with serving(app) as url:
        yield url


@pytest.fixture()
def client(app):
    return app.test_client()


@pytest.fixture()
def conn(engine):
    """A connection whose work is rolled back after the test."""
    with engine.connect() as connection:
        transaction = connection.begin()
        yield connection
        transaction.rollback()


@pytest.fixture()
def committed(engine):
    """Insert committed rows the app can see; removes them afterwards.

    Usage: feature_id = committed("relics", "name, kind, rank, geom", "...values sql...", params)
    """
    made: list[tuple[str, int]] = []

    def insert(table: str, columns: str, values: str, params: dict | None = None) -> int:
        with engine.begin() as c:
            new_id = c.execute(text(f"INSERT INTO {table} ({columns}) VALUES ({values}) RETURNING id"), params or {}).scalar_one()
        made.append((table, new_id))
        return new_id

    yield insert
    with engine.begin() as c:
        for table, feature_id in made:
            c.execute(text(f"DELETE FROM {table} WHERE id = :id"), {"id": feature_id})


@pytest.fixture()
def private_relics(monkeypatch):
    """Relics made a layer only logged-in users may read, for this test."""
    monkeypatch.setitem(REGISTRY, "relics", dataclasses.replace(REGISTRY["relics"], public=False))


def pytest_sessionfinish(session, exitstatus):
    # In CI a skipped database or browser test hides a missing feature: fail.
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if os.environ.get("VUNG_REQUIRE_ALL") and skipped and exitstatus == 0:
        session.exitstatus = 1
        if reporter:
            reporter.write_line(f"{len(skipped)} test(s) skipped; VUNG_REQUIRE_ALL forbids skips", red=True)


@pytest.fixture()
def dropped_users(engine):
    """Names of users to remove (with their tokens) after the test, however they were created."""
    names: list[str] = []
    yield names
    drop_users(engine, names)


@pytest.fixture()
def make_user(engine, dropped_users):
    """Create committed users for a test; removed afterwards."""
    from layers.accounts import create_user

    def make(username: str, role: str, password: str = PASSWORD, layers=None, districts=None):
        with engine.begin() as c:
            user = create_user(c, username, password, role, layers, districts)
        dropped_users.append(user.username)
        return user

    return make


SESSION_CSRF = "test-session-csrf"


def signed_in(app, user):
    """A test client already in `user`'s session, with CSRF token SESSION_CSRF.

    A shortcut past the login form, which tests/test_auth.py covers itself.
    """
    client = app.test_client()
    with client.session_transaction() as session:
        session["uid"] = user.id
        session["csrf"] = SESSION_CSRF
    return client
