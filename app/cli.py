"""`flask` commands: database set-up and migrations, the sample, synthetic data, imports (with their log
and undo), publishing, users and tokens; `flask export` lives in app/exports.py."""

from __future__ import annotations

import contextlib
import sys
import tempfile
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from werkzeug.datastructures import MultiDict

from exporters.write import spreadsheet_csv
from importers.rejections import COLUMNS as REJECTED_COLUMNS
from importers.rejections import rejected_table
from importers.run import ImportFailed, ImportOptions, import_file, unmatched_json
from importers.sample import load_sample, sample_is_loaded
from importers.synthetic import generate_zones
from layers import REGISTRY, editable_layers
from layers.accounts import (
    ROLES,
    AccountError,
    create_token,
    create_user,
    list_tokens,
    list_users,
    revoke_token,
    set_password,
    set_role,
)
from layers.edit import set_actor
from layers.imports import UndoRefused, import_log, logged_import, undo_import
from layers.params import split_names

ROOT = Path(__file__).resolve().parent.parent
EXTENSIONS = ("postgis", "unaccent", "pg_trgm")

db_cli = AppGroup("db", help="Create the database and apply migrations.")
users_cli = AppGroup("users", help="Manage user accounts and roles.")
tokens_cli = AppGroup("tokens", help="Manage API tokens for other systems.")
sample_cli = AppGroup("sample", help="Load the Nam Định sample or synthetic data.")


def alembic_config(url: str):
    from alembic.config import Config  # only the db commands need Alembic: others start faster

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
    from alembic import command

    command.upgrade(alembic_config(current_app.config["DATABASE_URL"]), revision)


@db_cli.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str):
    """Undo migrations down to REVISION ("base" for all)."""
    from alembic import command

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


@click.command("import")
@with_appcontext
@click.argument("layer_id")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--source-layer", help="Layer inside the file (GeoPackage, several shapefiles...).")
@click.option("--crs", help="The file's coordinate system when it names none or the wrong one, e.g. EPSG:9209.")
@click.option("--encoding", help="Text encoding of the attributes: utf-8, cp1258, tcvn3, vni...")
@click.option("--map", "mappings", multiple=True, metavar="COLUMN=FIELD", help="Map a column to a field (FIELD empty: ignore it).")
@click.option("--value", "values", multiple=True, metavar="FIELD:TEXT=VALUE",
              help="Read TEXT in FIELD's column as VALUE, for words no label matches (e.g. crop:Lúa nếp=rice).")
@click.option("--set", "constants", multiple=True, metavar="FIELD=VALUE",
              help="Give every row this value of a field no column fills (e.g. rank=unranked).")
@click.option("--key", help="Field matching existing features: they are updated instead of duplicated; "
                            "`id` for a file exported from this app (its id column).")
@click.option("--dry-run", is_flag=True, help="Check and report; write nothing.")
@click.option("--skip-invalid", is_flag=True, help="Load the valid rows even if some are rejected.")
@click.option("--repair", is_flag=True, help="Repair invalid shapes with ST_MakeValid instead of rejecting them.")
@click.option("--user", "username", default="import", show_default=True, help="Name recorded in the history and the import log.")
@click.option("--rejected", "rejected_path", type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help="Write every rejected row (row, reason, longitude, latitude) to this CSV file.")
def import_command(layer_id, path, source_layer, crs, encoding, mappings, values, constants, key, dry_run, skip_invalid,
                   repair, username, rejected_path):
    """Import PATH (GeoJSON, Shapefile zipped or not, GeoPackage, KML/KMZ, CSV, XLSX) into LAYER_ID."""
    layer = editable_layer(layer_id)
    options = ImportOptions(
        source_layer=source_layer, crs=crs, encoding=encoding, mapping=parse_pairs(mappings, "COLUMN=FIELD", "--map"),
        values=parse_values(values), constants=parse_pairs(constants, "FIELD=VALUE", "--set"), key=key,
        dry_run=dry_run, skip_invalid=skip_invalid, repair=repair, username=username,
        working_area=current_app.config["WORKING_AREA"], max_vertices=current_app.config["MAX_VERTICES"],
    )
    with contextlib.ExitStack() as files:
        # Opened first: a file that cannot be written stops the run before anything is imported.
        rejected_file = files.enter_context(open_for_rejected(rejected_path)) if rejected_path else None
        try:
            with (
                tempfile.TemporaryDirectory(prefix="vung-import-") as workdir,
                current_app.extensions["vung_db"].begin() as conn,
                progress_bar() as bar,
            ):
                report = import_file(conn, layer, path, options, Path(workdir), progress=bar.update if bar else None)
        except ImportFailed as err:
            raise click.ClickException(str(err)) from None
        print_report(report, keyed=bool(key))
        if report.import_id:
            click.echo(f"import {report.import_id}; undo with: flask undo-import {report.import_id}")
        if rejected_file:
            rejected_file.writelines(spreadsheet_csv(REJECTED_COLUMNS, rejected_table(report.rejected)))
            click.echo(f"rejected rows: {len(report.rejected)}, written to {rejected_path}")
    if report.rejected and not (skip_invalid or dry_run):
        raise click.exceptions.Exit(1)


@click.command("undo-import")
@with_appcontext
@click.argument("import_id", type=int)
@click.option("--user", "username", help="Name recorded in the history of the features restored. [default: the import's]")
def undo_import_command(import_id, username):
    """Take back import IMPORT_ID (as `flask import` and `flask import-log` print it): the features it added
    are deleted, those it updated go back to their earlier version; features changed since are left."""
    with current_app.extensions["vung_db"].begin() as conn:
        logged = logged_import(conn, import_id)
        if logged is None:
            raise click.ClickException(f"no import {import_id}; `flask import-log` lists them")
        username = username or logged["username"]
        set_actor(conn, username, "restore")
        try:
            result = undo_import(conn, import_id, username)
        except UndoRefused as err:
            raise click.ClickException(f"The import cannot be undone: {err}.") from None
    click.echo(f"deleted {result['removed']}, restored {result['restored']}, changed since and left {result['changed_since']}, "
               f"left for want of an earlier version in the history {result['unrecorded']}")


@click.command("import-log")
@with_appcontext
@click.option("--user", "username", help="Only the imports recorded under this name.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 10_000))
def import_log_command(username, limit):
    """The newest committed imports: id, time, layer, user, file, counts, and whether undone."""
    logged = current_app.extensions["vung_db"].read(import_log, username, limit)
    for entry in logged:
        undone = f"  undone {entry['undone_at']:%Y-%m-%d %H:%M} by {entry['undone_by']}" if entry["undone_at"] else ""
        click.echo(f"{entry['id']:>6}  {entry['at']:%Y-%m-%d %H:%M}  {entry['layer']}  {entry['username']}  {entry['file_name']}  "
                   f"read {entry['rows_read']}, inserted {entry['inserted']}, updated {entry['updated']}, "
                   f"rejected {entry['rejected']}{undone}")


def progress_bar():
    """Rows imported so far, on a terminal; nothing where the output goes to a file or a pipe."""
    if not sys.stdout.isatty():
        return contextlib.nullcontext(None)
    return click.progressbar(length=0, label="rows", show_pos=True)


def editable_layer(layer_id: str):
    layer = REGISTRY.get(layer_id)
    if layer is None or not layer.editable:
        raise click.ClickException(f"no editable layer {layer_id!r}; choose one of {', '.join(x.id for x in editable_layers())}")
    return layer


def open_for_rejected(path: Path):
    try:
        return open(path, "w", encoding="utf-8", newline="")
    except OSError as err:
        raise click.BadParameter(f"cannot write {path}: {err.strerror}", param_hint="--rejected") from None


def parse_pairs(pairs: tuple[str, ...], shape: str, option: str) -> dict[str, str]:
    """`NAME=TEXT` options as a dict (the text may hold '=')."""
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise click.BadParameter(f"{pair!r}: expected {shape}", param_hint=option)
        out[name] = value
    return out


def parse_values(triples: tuple[str, ...]) -> dict[str, dict[str, str]]:
    """`--value FIELD:TEXT=VALUE` options as field -> text -> value (the text may hold ':' and '=')."""
    out: dict[str, dict[str, str]] = {}
    for triple in triples:
        field_name, colon, rest = triple.partition(":")
        text, equals, value = rest.rpartition("=")
        if not (colon and equals and field_name.strip() and text):
            raise click.BadParameter(f"{triple!r}: expected FIELD:TEXT=VALUE", param_hint="--value")
        out.setdefault(field_name.strip(), {})[text] = value.strip()
    return out


def print_report(report, keyed: bool = False) -> None:
    if report.committed:
        unchanged = f", unchanged {report.unchanged}" if report.unchanged else ""
        click.echo(f"loaded; rows read {report.rows_read}, inserted {report.inserted}, updated {report.updated}{unchanged}, "
                   f"rejected {report.rejected_rows}")
    else:
        mode = "dry run: nothing written" if report.dry_run else "nothing loaded"
        by_key = (f" (add {report.would_insert}, update {report.would_update}, unchanged {report.unchanged})"
                  if keyed else "")
        click.echo(f"{mode}; rows read {report.rows_read}, would load {report.would_load}{by_key}, rejected {report.rejected_rows}")
    click.echo("mapping: " + ", ".join(f"{c} -> {f}" for c, f in report.mapping.items()))
    if report.constants:
        click.echo("every row: " + ", ".join(f"{f} = {v}" for f, v in report.constants.items()))
    if report.unknown_columns:
        click.echo("columns not imported: " + ", ".join(report.unknown_columns))
    for note in report.notes:
        click.echo(f"note: {note}")
    for name, words in unmatched_json(report.unmatched, most=20).items():
        found = ", ".join(f"{w['value']!r} ({w['rows']})" for w in words)
        click.echo(f"{name}: values no label matches: {found}; read them as a value with --value {name}:TEXT=VALUE")
    for r in report.rejected[:200]:
        where = f" at {r['location']}" if r.get("location") else ""
        click.echo(f"row {r['row']}: {r['reason']}{where}")
    if len(report.rejected) > 200:
        click.echo(f"... and {len(report.rejected) - 200} more rejected rows (--rejected FILE lists them all)")


@click.command("publish")
@with_appcontext
@click.argument("out", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@click.option("--layers", required=True, help="Comma-separated layers, e.g. relics,craft_villages.")
@click.option("--filter", "filters", multiple=True, metavar="NAME=VALUE",
              help="As in the URL: layer.field=value for one layer; district=, bbox=, q= for all.")
@click.option("--title", default="", help="Title shown on the map (default: the layers' titles).")
@click.option("--lang", type=click.Choice(["vi", "en"]), default="vi", show_default=True)
@click.option("--base-url", help="The app's public address: popups then link to its detail pages.")
def publish_command(out, layers, filters, title, lang, base_url):
    """Write OUT, a standalone HTML map of the filtered features of the layers."""
    from app.errors import ApiError
    from app.publish import publish_file
    from gis.params import ParameterError

    if base_url and not base_url.startswith(("http://", "https://")):
        raise click.BadParameter("must start with http:// or https://", param_hint="--base-url")
    try:
        html = publish_file(layers, filter_options(filters), title, lang, base_url)
    except ApiError as err:
        raise click.ClickException(err.description) from None
    except ParameterError as err:
        raise click.ClickException(str(err)) from None
    out.write_text(html, encoding="utf-8")
    click.echo(f"wrote {out}")


def filter_options(filters: tuple[str, ...]) -> MultiDict:
    """`--filter NAME=VALUE` options as a request's arguments, for the endpoints' own parsing."""
    out = MultiDict()
    for item in filters:
        name, eq, value = item.partition("=")
        if not eq:
            raise click.BadParameter(f"{item!r}: expected NAME=VALUE", param_hint="--filter")
        out.add(name.strip(), value)
    return out


def split_list(raw: str | None) -> list[str] | None:
    """A comma-separated option's names; None (all) when it is not given."""
    return split_names([raw]) if raw else None


def account_command(fn, *args):
    """fn(conn, *args) in a transaction; its refusal becomes the command's error message."""
    try:
        with current_app.extensions["vung_db"].begin() as conn:
            return fn(conn, *args)
    except AccountError as err:
        raise click.ClickException(str(err)) from None


@users_cli.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--layers", help="Comma-separated layers an editor may edit (default: all).")
@click.option("--districts", help="Comma-separated districts an editor may edit, by code or name (default: all).")
def users_create(username, role, password, layers, districts):
    """Create a user; the first should be an admin."""
    account_command(create_user, username, password, role, split_list(layers), split_list(districts))
    click.echo(f"user {username} created ({role})")


@users_cli.command("set-role")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--layers", help="Comma-separated layers (default: all).")
@click.option("--districts", help="Comma-separated districts, by code or name (default: all).")
def users_set_role(username, role, layers, districts):
    """Change a user's role and what they may edit."""
    account_command(set_role, username, role, split_list(layers), split_list(districts))
    click.echo(f"user {username} is now {role}")


@users_cli.command("password")
@click.argument("username")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
def users_password(username, password):
    """Reset a user's password."""
    account_command(set_password, username, password)
    click.echo(f"password of {username} changed")


@users_cli.command("list")
def users_list():
    """Every user with role and scope."""
    for user in current_app.extensions["vung_db"].read(list_users):
        scope = f"layers={','.join(user.layers) if user.layers else 'all'} districts={','.join(user.districts) if user.districts else 'all'}"
        click.echo(f"{user.username}\t{user.role}\t{scope}")


@tokens_cli.command("create")
@click.argument("username")
@click.option("--name", required=True, help="What the token is for, e.g. the system using it.")
def tokens_create(username, name):
    """Make an API token for USERNAME; it is shown once."""
    click.echo(account_command(create_token, username, name))


@tokens_cli.command("revoke")
@click.argument("prefix")
def tokens_revoke(prefix):
    """Revoke the token whose first 12 characters are PREFIX."""
    account_command(revoke_token, prefix)
    click.echo("revoked")


@tokens_cli.command("list")
def tokens_list():
    """Tokens by prefix, owner and use."""
    for t in current_app.extensions["vung_db"].read(list_tokens):
        state = "revoked" if t["revoked_at"] else "active"
        click.echo(f"{t['prefix']}\t{t['username']}\t{t['name']}\t{state}\tlast used {t['last_used_at'] or 'never'}")


def init_app(app: Flask) -> None:
    from app.exports import export_command  # the export command lives beside the export endpoints

    app.cli.add_command(import_command)
    app.cli.add_command(undo_import_command)
    app.cli.add_command(import_log_command)
    app.cli.add_command(publish_command)
    app.cli.add_command(export_command)
    app.cli.add_command(users_cli)
    app.cli.add_command(tokens_cli)
    app.cli.add_command(db_cli)
    app.cli.add_command(sample_cli)
