"""Exports: `/export/{layer}` and `/export` (several layers), with the items endpoint's filters.

The file is written to a temporary directory, sent from disk and removed
when the response closes, so the server holds one batch of rows at a time.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import click
from flask import Blueprint, current_app, render_template, request, send_file
from flask.cli import with_appcontext
from werkzeug.datastructures import MultiDict

from app.auth import may_read
from app.cli import filter_options
from app.db import db
from app.ogc import find_layer
from app.pages import current_lang
from exporters.write import CSV_GEOMETRIES, FORMATS, Format, Metadata, Request, export
from gis.params import ParameterError
from layers import REGISTRY
from layers.base import Layer
from layers.params import named_layers, parse_item_query, parse_layer_queries
from layers.query import ItemQuery, list_districts

bp = Blueprint("exports", __name__)

# Parameters of the export itself rather than of the query.
EXPORT_PARAMS = {"format", "geometry", "lang"}
# /export with nothing else (the language switch adds ?lang=) is the export page.
PAGE_ONLY_PARAMS = {"lang"}


@bp.get("/export/<layer_id>")
def export_layer(layer_id: str):
    layer = find_layer(layer_id)
    fmt = export_format(request.args)
    # Every match unless a limit is asked for (the items endpoint pages by 100).
    query = parse_item_query(layer, request.args, EXPORT_PARAMS, default_limit=None)
    return send_export(((layer, query),), fmt, layer.id)


@bp.get("/export")
def export_layers():
    if set(request.args) <= PAGE_ONLY_PARAMS:
        return export_page()
    fmt = export_format(request.args)
    layers = chosen_layers(request.args)
    if len(layers) > 1 and not fmt.multi_layer:
        multi = ", ".join(f.id for f in FORMATS.values() if f.multi_layer)
        raise ParameterError("format", f"{fmt.id} holds one layer; for several use {multi}")
    queries = parse_layer_queries(layers, request.args, EXPORT_PARAMS | {"layers"}, default_limit=None)
    parts = tuple((layer, queries[layer.id]) for layer in layers)
    return send_export(parts, fmt, layers[0].id if len(layers) == 1 else "vung")


def export_format(args: MultiDict) -> Format:
    name = args.get("format", "gpkg")
    if name not in FORMATS:
        raise ParameterError("format", f"unknown format {name[:20]!r}; expected one of {', '.join(FORMATS)}")
    geometry = args.get("geometry")
    if geometry is not None and (name != "csv" or geometry not in CSV_GEOMETRIES):
        raise ParameterError("geometry", f"only for format=csv: one of {', '.join(CSV_GEOMETRIES)}")
    return FORMATS[name]


def chosen_layers(args: MultiDict) -> list[Layer]:
    """`layers=a,b` (or repeated); by default every readable layer shown on the map."""
    if named := named_layers(args.getlist("layers"), may_read):
        return named
    layers = [layer for layer in REGISTRY.values() if layer.visible and may_read(layer)]
    if not layers:
        raise ParameterError("layers", "no layer is readable without logging in")
    return layers


def send_export(parts: tuple[tuple[Layer, ItemQuery], ...], fmt: Format, name: str):
    now = datetime.now(UTC)
    stem = f"{name}-{now:%Y-%m-%d}"
    metadata = Metadata(
        source=f"Vùng, {request.url}",
        exported=now,
        licences=tuple(current_app.config["DATA_ATTRIBUTION"]),
        filters=filters_text(request.args),
    )
    job = Request(parts, fmt, metadata, lang=current_lang(), csv_geometry=request.args.get("geometry", "wkt"))
    directory = Path(tempfile.mkdtemp(prefix="vung-export-", dir=current_app.config.get("EXPORT_DIR")))
    try:
        path = write_in_snapshot(job, directory, stem)
        # Sent from an open handle: the directory can go now, and the disk space
        # is freed when the handle closes, however the client ends the download.
        handle = path.open("rb")
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    response = send_file(handle, mimetype=fmt.media_type, as_attachment=True, download_name=path.name, max_age=0)
    response.content_length = os.fstat(handle.fileno()).st_size
    return response


def write_in_snapshot(job: Request, directory: Path, stem: str) -> Path:
    """Every layer read in one read-only snapshot, so a multi-layer file is consistent."""
    with db().engine.connect() as conn, conn.begin():
        conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        return export(conn, job, directory, stem)


def filters_text(args: MultiDict) -> str:
    return "&".join(f"{k}={v}" for k, v in args.items(multi=True) if k not in EXPORT_PARAMS)


def export_page():
    lang = current_lang()
    layers = [layer for layer in REGISTRY.values() if may_read(layer)]
    config = {
        "layers": [
            {"id": layer.id, "title": layer.title(lang), "fields": [f.config(lang) for f in layer.filterable]}
            for layer in layers
        ],
        "districts": db().read(list_districts),
    }
    return render_template("export.html", config=config, layers=layers, formats=FORMATS.values(), lang=lang)


@click.command("export")
@with_appcontext
@click.argument("layer_ids")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "format_id", type=click.Choice(list(FORMATS)), help="Default: from PATH's extension.")
@click.option("--filter", "filters", multiple=True, metavar="NAME=VALUE",
              help="As in the API: crop=rice, farming_zones.crop=rice, district=..., bbox=..., q=...")
@click.option("--geometry", type=click.Choice(CSV_GEOMETRIES), default="wkt", show_default=True, help="CSV only.")
def export_command(layer_ids: str, path: Path, format_id: str | None, filters: tuple[str, ...], geometry: str):
    """Export LAYER_IDS (comma-separated) to PATH: .gpkg, .zip (Shapefile), .kml, .csv or .geojson."""
    fmt = FORMATS.get(format_id or format_for(path))
    if fmt is None:
        raise click.ClickException(f"cannot tell the format from {path.name!r}; use --format")
    try:
        layers = named_layers([layer_ids], readable=lambda layer: True)
        if not layers:
            raise ParameterError("layers", "name at least one layer, e.g. relics or relics,craft_villages")
        if len(layers) > 1 and not fmt.multi_layer:
            raise ParameterError("format", f"{fmt.id} holds one layer; for several use gpkg or shp")
        queries = parse_layer_queries(layers, filter_options(filters), default_limit=None)
    except ParameterError as err:
        raise click.ClickException(str(err)) from None
    parts = tuple((layer, queries[layer.id]) for layer in layers)
    now = datetime.now(UTC)
    metadata = Metadata("Vùng, flask export " + " ".join([layer_ids, *filters]), now,
                        tuple(current_app.config["DATA_ATTRIBUTION"]), " ".join(filters))
    job = Request(parts, fmt, metadata, csv_geometry=geometry)
    with tempfile.TemporaryDirectory(prefix="vung-export-", dir=path.resolve().parent) as directory:
        written = write_in_snapshot(job, Path(directory), path.stem)
        written.replace(path)
    click.echo(f"{path}: {', '.join(layer.id for layer in layers)} ({fmt.title})")


def format_for(path: Path) -> str | None:
    suffix = path.suffix.lower()
    return next((f.id for f in FORMATS.values() if f.extension == suffix), "geojson" if suffix == ".json" else None)
