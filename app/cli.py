"""`flask` commands: database set-up and migrations, the sample, synthetic data."""

from __future__ import annotations

from pathlib import Path

import click
from alembic import command
from alembic.config import Config
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from importers.sample import load_sample, sample_is_loaded
from importers.synthetic import generate_zones

ROOT = Path(__file__).resolve().parent.parent
EXTENSIONS = ("postgis", "unaccent", "pg_trgm")

db_cli = AppGroup("db", help="Create the database and apply migrations.")
sample_cli = AppGroup("sample", help="Load the Nam Định sample or synthetic data.")


def alembic_config(url: str) -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.attributes["database_url"] = url
    return cfg


def ensure_database(url: str) -> bool:
    """Create the database if it is missing; True when it was created."""
    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": target.database}).first()
        if not exists:
            # The name comes from configuration, not from a client; quote it all the same.
            conn.execute(text(f'CREATE DATABASE "{target.database.replace(chr(34), "")}"'))
    admin.dispose()
    engine = create_engine(target, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        for name in EXTENSIONS:
            conn.execute(text(f"CREATE EXTENSION IF NOT EXISTS {name}"))
    engine.dispose()
    return not exists


@db_cli.command("create")
def db_create():
    """Create the database and its extensions if missing."""
    created = ensure_database(current_app.config["DATABASE_URL"])
    click.echo("database created" if created else "database exists")


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str):
    """Apply migrations up to REVISION (default: head)."""
    command.upgrade(alembic_config(current_app.config["DATABASE_URL"]), revision)


@db_cli.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str):
    """Undo migrations down to REVISION ("base" for all)."""
    command.downgrade(alembic_config(current_app.config["DATABASE_URL"]), revision)


@sample_cli.command("load")
@click.option("--if-empty", is_flag=True, help="Do nothing when the sample is already there.")
@click.option("--replace", is_flag=True, help="Empty the layers first.")
def sample_load(if_empty: bool, replace: bool):
    """Load the Nam Định sample in data/sample/."""
    database = current_app.extensions["vung_db"]
    with database.begin() as conn:
        if if_empty and sample_is_loaded(conn):
            click.echo("sample already loaded")
            return
        counts = load_sample(conn, replace=replace)
    for layer_id, n in counts.items():
        click.echo(f"{layer_id}: {n}")
    click.echo(
        "note: farming and aquaculture shapes are illustrative octagons drawn around commune points "
        "(attribute illustrative=true); commune areas are approximate Voronoi cells (approximate=true)."
    )


@sample_cli.command("synthetic")
@click.option("--count", default=100_000, show_default=True, help="Number of farming zones.")
@click.option("--seed", default=0.42, show_default=True, help="Random seed in [-1, 1].")
@click.option("--replace", is_flag=True, help="Delete all farming zones first.")
def sample_synthetic(count: int, seed: float, replace: bool):
    """Generate synthetic farming zones inside the province, for benchmarks."""
    database = current_app.extensions["vung_db"]
    with database.begin() as conn:
        made = generate_zones(conn, count, seed, replace=replace)
    click.echo(f"farming_zones: {made} synthetic zones")


def init_app(app: Flask) -> None:
    app.cli.add_command(db_cli)
    app.cli.add_command(sample_cli)
