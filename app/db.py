"""The database engine, one per app, created from the app's configuration."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, current_app
from sqlalchemy import Connection, Engine, create_engine, text


class Database:
    def __init__(self, url: str, **engine_options):
        # pre_ping replaces connections the server dropped (e.g. after a restart).
        self.engine: Engine = create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5, **engine_options)

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))


def init_app(app: Flask) -> None:
    app.extensions["vung_db"] = Database(app.config["DATABASE_URL"])


def db() -> Database:
    return current_app.extensions["vung_db"]
