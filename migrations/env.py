"""Alembic environment: the schema target is the layer registry's tables."""

import os

from alembic import context
from sqlalchemy import create_engine, pool

import layers.autogenerate  # noqa: F401  (compares the layers' triggers too)
from app.config import DEFAULT_DATABASE_URL, sqlalchemy_url
from layers.tables import metadata

config = context.config


def database_url() -> str:
    return config.attributes.get("database_url") or sqlalchemy_url(
        os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    )


def include_object(obj, name, type_, reflected, compare_to):
    # PostGIS owns spatial_ref_sys and friends; leave them alone.
    return not (type_ == "table" and reflected and compare_to is None)


def run_migrations_online() -> None:
    engine = create_engine(database_url(), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection, target_metadata=metadata, include_object=include_object
        )
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()
