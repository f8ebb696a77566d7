"""The database engines, one pair per app, created from the app's configuration."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from flask import Flask, current_app
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.exc import DBAPIError

T = TypeVar("T")


class Database:
    def __init__(self, url: str, application_name: str = "vung"):
        # The name shows in pg_stat_activity, so operators can tell the app's sessions apart.
        args = {"application_name": application_name}
        self.engine: Engine = create_engine(url, pool_pre_ping=True, pool_size=3, max_overflow=5, connect_args=args)
        # Reads are single statements: autocommit spares a BEGIN and a ROLLBACK
        # round trip each (so there is nothing to reset on return), and `read`
        # replaces a dropped connection instead of pinging before every request.
        self.reader: Engine = create_engine(
            url, isolation_level="AUTOCOMMIT", pool_reset_on_return=None, pool_size=5, max_overflow=5, connect_args=args
        )

    def read(self, fn: Callable[..., T], *args) -> T:
        """fn(conn, *args) on a read connection; once more if the server had dropped it."""
        try:
            with self.reader.connect() as conn:
                return fn(conn, *args)
        except DBAPIError as err:
            if not err.connection_invalidated:
                raise
        # SQLAlchemy has invalidated the stale pool; this connection is new.
        with self.reader.connect() as conn:
            return fn(conn, *args)

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    def ping(self) -> None:
        self.read(lambda conn: conn.execute(text("SELECT 1")))

    def dispose(self) -> None:
        self.engine.dispose()
        self.reader.dispose()


def init_app(app: Flask) -> None:
    app.extensions["vung_db"] = Database(app.config["DATABASE_URL"], app.config.get("DB_APPLICATION_NAME", "vung"))


def db() -> Database:
    return current_app.extensions["vung_db"]
