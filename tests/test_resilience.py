"""The app recovers by itself when the database drops its connections."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from app import create_app

NAME = "vung-resilience-test"


@pytest.fixture()
def resilient_app(database_url):
    app = create_app({"DATABASE_URL": database_url, "DB_APPLICATION_NAME": NAME})
    yield app
    app.extensions["vung_db"].dispose()


def drop_app_connections(engine) -> int:
    """What a server restart does to the app: its sessions end under it."""
    with engine.connect() as c:
        return c.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = :name AND pid <> pg_backend_pid()"
            ),
            {"name": NAME},
        ).scalar_one()


@pytest.mark.parametrize(
    "path", ["/ogc/collections/relics/items/{id}", "/ogc/collections/relics/items?limit=3", "/relics/{id}", "/healthz"]
)
def test_reads_survive_dropped_connections(resilient_app, engine, path):
    with engine.connect() as c:
        relic = c.execute(text("SELECT min(id) FROM relics")).scalar_one()
    client = resilient_app.test_client()
    url = path.format(id=relic)
    assert client.get(url).status_code == 200
    assert drop_app_connections(engine) >= 1
    assert client.get(url).status_code == 200
    assert client.get(url).status_code == 200


def test_writes_get_a_fresh_connection_after_a_drop(resilient_app, engine):
    client = resilient_app.test_client()
    assert client.get("/healthz").status_code == 200
    with resilient_app.extensions["vung_db"].begin() as c:
        c.execute(text("SELECT 1"))
    assert drop_app_connections(engine) >= 1
    with resilient_app.extensions["vung_db"].begin() as c:
        assert c.execute(text("SELECT 1")).scalar_one() == 1
