"""Write filtered layers to files: GeoPackage, zipped Shapefile, KML, CSV, GeoJSON.

Every format is fed from the same Arrow batches (exporters.read), spooled to
a directory on disk, so memory stays at one batch whatever the export's size.
GDAL (through pyogrio) writes the spatial formats; CSV is written by Arrow.
"""

from __future__ import annotations

import csv
import html
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
from pyogrio.raw import write_arrow
from sqlalchemy import Connection

from exporters import read
from layers.base import Field, Layer
from layers.query import ItemQuery

CRS = "EPSG:4326"
UTF8_BOM = b"\xef\xbb\xbf"
SHAPEFILE_NAME_LENGTH = 10
# GDAL's names for the geometry type a layer is created with.
GDAL_GEOMETRY = {"Point": "Point", "Polygon": "Polygon", "MultiPolygon": "MultiPolygon", "Geometry": "Unknown"}


@dataclass(frozen=True)
class Format:
    id: str
    title: str
    extension: str
    media_type: str
    # Can hold several layers in one file.
    multi_layer: bool = False


FORMATS = {
    f.id: f
    for f in (
        Format("gpkg", "GeoPackage", ".gpkg", "application/geopackage+sqlite3", multi_layer=True),
        Format("shp", "Shapefile (zip)", ".zip", "application/zip", multi_layer=True),
        Format("kml", "KML (Google Earth)", ".kml", "application/vnd.google-earth.kml+xml"),
        Format("csv", "CSV (Excel)", ".csv", "text/csv"),  # the answer adds "; charset=utf-8" to text types
        Format("geojson", "GeoJSON", ".geojson", "application/geo+json"),
    )
}
CSV_GEOMETRIES = ("wkt", "lonlat")
# Text a spreadsheet would run as a formula (OWASP's list). CSV files are
# written for Excel, so such text gets the apostrophe that tells a spreadsheet
# "this is text"; the importer drops it again (importers.run).
FORMULA_START = r"^[=+\-@\t\r]"


@dataclass(frozen=True)
class Metadata:
    """Where an export comes from, when it was made, under which licences, with which filters."""

    source: str
    exported: datetime
    licences: tuple[str, ...]
    filters: str

    def lines(self) -> list[str]:
        return [
            f"Source / Nguồn: {self.source}",
            f"Exported / Ngày xuất: {self.exported.isoformat(timespec='seconds')}",
            f"Filters / Bộ lọc: {self.filters or '-'}",
            "Licences / Giấy phép: each feature's `source` field names its own source and licence; "
            "the data draws on:",
            *(f"  - {line}" for line in self.licences),
        ]

    def text(self) -> str:
        return "\n".join(self.lines()) + "\n"


@dataclass(frozen=True)
class Request:
    """One export: layers with their queries, a format, and how to label things."""

    parts: tuple[tuple[Layer, ItemQuery], ...]
    format: Format
    metadata: Metadata
    lang: str = "vi"
    csv_geometry: str = "wkt"


def export(conn: Connection, request: Request, directory: Path, stem: str) -> Path:
    """Write the export into `directory`; returns the file to send. `conn` must be in a transaction."""
    writer = WRITERS[request.format.id]
    return writer(conn, request, directory, stem)


def write_gpkg(conn: Connection, request: Request, directory: Path, stem: str) -> Path:
    path = directory / f"{stem}.gpkg"
    for i, (layer, query) in enumerate(request.parts):
        cols = read.columns(layer)
        write_arrow(
            read.read_batches(conn, layer, query, cols), path, layer=layer.id, driver="GPKG",
            geometry_type=GDAL_GEOMETRY[layer.geometry], crs=CRS, append=i > 0,
            layer_options={"DESCRIPTION": f"{layer.title(request.lang)}. {request.metadata.source}", "FID": "fid"},
            dataset_metadata=None if i else {"TITLE": stem, "ABSTRACT": request.metadata.text()},
        )
    return path


def write_shapefiles(conn: Connection, request: Request, directory: Path, stem: str) -> Path:
    """One Shapefile per layer (per geometry kind for mixed layers), names cut to 10 characters, zipped."""
    files = directory / "shp"
    files.mkdir()
    notes = []
    for layer, query in request.parts:
        cols = read.columns(layer, timestamps_as_text=True)
        names = shapefile_names([c.name for c in cols])
        notes.append(field_note(layer, names, request.lang))
        for family in shapefile_families(conn, layer, query):
            name = layer.id if family is None else f"{layer.id}_{family.lower()}s"
            reader = rename(read.read_batches(conn, layer, query, cols, family=family), names)
            write_arrow(
                reader, files / f"{name}.shp", driver="ESRI Shapefile", crs=CRS,
                geometry_type="Point" if family == "Point" or layer.is_point else "MultiPolygon",
                layer_options={"ENCODING": "UTF-8"},
            )
    (files / "metadata.txt").write_text(request.metadata.text(), encoding="utf-8")
    notes.append("A Shapefile's text fields hold at most 254 characters; longer values are cut (GeoPackage keeps them whole).")
    (files / "fields.txt").write_text("\n\n".join(notes) + "\n", encoding="utf-8")
    return zip_directory(files, directory / f"{stem}.zip")


def shapefile_families(conn: Connection, layer: Layer, query: ItemQuery) -> list[str | None]:
    """A Shapefile holds one kind of geometry: a mixed layer is split (None: not split)."""
    if layer.geometry != "Geometry":
        return [None]
    return read.geometry_families(conn, layer, query) or ["Point"]


def shapefile_names(names: list[str]) -> dict[str, str]:
    """Field names cut to the DBF's 10 characters, numbered where two would collide."""
    out: dict[str, str] = {}
    taken: set[str] = set()
    for name in names:
        short = name[:SHAPEFILE_NAME_LENGTH]
        n = 1
        while short.lower() in taken:
            suffix = f"_{n}"
            short = name[: SHAPEFILE_NAME_LENGTH - len(suffix)] + suffix
            n += 1
        taken.add(short.lower())
        out[name] = short
    return out


def field_note(layer: Layer, names: dict[str, str], lang: str) -> str:
    lines = [f"{layer.id}: {layer.title(lang)}"]
    for name, short in names.items():
        f = layer.field(name)
        label = f" ({f.label('vi')} / {f.label('en')})" if f else ""
        lines.append(f"  {short:<10} = {name}{label}")
    return "\n".join(lines)


def rename(reader: pa.RecordBatchReader, names: dict[str, str]) -> pa.RecordBatchReader:
    fields = [f.with_name(names.get(f.name, f.name)) for f in reader.schema]
    out_schema = pa.schema(fields)

    def batches() -> Iterator[pa.RecordBatch]:
        for batch in reader:
            yield pa.RecordBatch.from_arrays(batch.columns, schema=out_schema)

    return pa.RecordBatchReader.from_batches(out_schema, batches())


def zip_directory(source: Path, target: Path) -> Path:
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(source.iterdir()):
            archive.write(path, path.name)
    return target


def write_kml(conn: Connection, request: Request, directory: Path, stem: str) -> Path:
    """Placemarks named by `name`, described by an HTML table of labelled properties (Google Earth shows it)."""
    ((layer, query),) = request.parts
    cols = read.columns(layer)
    reader = with_description(read.read_batches(conn, layer, query, cols), layer, request.lang)
    raw = directory / "raw.kml"
    write_arrow(
        reader, raw, layer=layer.id, driver="KML", geometry_type=GDAL_GEOMETRY[layer.geometry],
        crs=CRS, dataset_options={"NameField": "name", "DescriptionField": "kml_description"},
    )
    path = directory / f"{stem}.kml"
    add_document_description(raw, path, layer.title(request.lang), request.metadata.text())
    return path


def with_description(reader: pa.RecordBatchReader, layer: Layer, lang: str) -> pa.RecordBatchReader:
    out_schema = reader.schema.append(pa.field("kml_description", pa.string()))

    fields = {f.name: f for f in layer.fields}

    def batches() -> Iterator[pa.RecordBatch]:
        for batch in reader:
            descriptions = [describe(fields, row, lang) for row in batch.drop_columns([read.GEOMETRY]).to_pylist()]
            yield pa.RecordBatch.from_arrays([*batch.columns, pa.array(descriptions, pa.string())], schema=out_schema)

    return pa.RecordBatchReader.from_batches(out_schema, batches())


def describe(fields: dict[str, Field], row: dict, lang: str) -> str:
    """An HTML table of the labelled, non-empty properties as people read them; escaped, so they show as text."""
    cells = []
    for name, value in row.items():
        f = fields.get(name)
        shown = f.display(value, lang) if f else None
        if shown is not None:
            cells.append(f"<tr><th>{html.escape(f.label(lang))}</th><td>{html.escape(shown)}</td></tr>")
    return "<table>" + "".join(cells) + "</table>"


def add_document_description(raw: Path, target: Path, title: str, description: str) -> None:
    """Copy the KML, giving its Document a name and the export's metadata (streamed line by line)."""
    inserted = False
    with raw.open(encoding="utf-8") as src, target.open("w", encoding="utf-8") as out:
        for line in src:
            out.write(line)
            if not inserted and re.match(r"\s*<Document\b[^>]*>\s*$", line):
                out.write(f"<name>{html.escape(title)}</name>\n<description>{html.escape(description)}</description>\n")
                inserted = True
    raw.unlink()


def write_geojson(conn: Connection, request: Request, directory: Path, stem: str) -> Path:
    ((layer, query),) = request.parts
    path = directory / f"{stem}.geojson"
    write_arrow(
        read.read_batches(conn, layer, query, read.columns(layer)), path, layer=layer.id, driver="GeoJSON",
        geometry_type=GDAL_GEOMETRY[layer.geometry], crs=CRS,
        layer_options={"RFC7946": "YES", "COORDINATE_PRECISION": "7", "DESCRIPTION": request.metadata.text()},
    )
    return path


def write_csv(conn: Connection, request: Request, directory: Path, stem: str) -> Path:
    """UTF-8 with a byte order mark, so Excel shows Vietnamese; geometry as WKT or longitude/latitude."""
    ((layer, query),) = request.parts
    cols = read.columns(layer) + csv_geometry_columns(request.csv_geometry)
    reader = read.read_batches(conn, layer, query, cols, geometry_sql=None, geometry=None)
    path = directory / f"{stem}.csv"
    with path.open("wb") as out:
        out.write(UTF8_BOM)
        with pa_csv.CSVWriter(out, reader.schema) as writer:
            for batch in reader:
                writer.write_batch(defuse_formulas(batch))
    return path


def defuse_formulas(batch: pa.RecordBatch) -> pa.RecordBatch:
    """The batch with every text that a spreadsheet would run as a formula led by an apostrophe."""
    columns = [
        pc.replace_substring_regex(column, FORMULA_START, "'\\0") if pa.types.is_string(column.type) else column
        for column in batch.columns
    ]
    return pa.RecordBatch.from_arrays(columns, schema=batch.schema)


def unmark_formulas(batch: pa.RecordBatch, columns) -> pa.RecordBatch:
    """The inverse for the importer: the named text columns without the marking apostrophe."""
    arrays = [
        pc.replace_substring_regex(array, MARKED_FORMULA, r"\1") if name in columns and pa.types.is_string(array.type) else array
        for name, array in zip(batch.column_names, batch.columns, strict=True)
    ]
    return pa.RecordBatch.from_arrays(arrays, schema=batch.schema)


# The apostrophe, then what a spreadsheet would run as a formula (kept, as \1).
MARKED_FORMULA = "^'(" + FORMULA_START.removeprefix("^") + ")"


def defuse_formula(value):
    """One value as defuse_formulas writes it."""
    return f"'{value}" if isinstance(value, str) and re.match(FORMULA_START, value) else value


def spreadsheet_csv(headers, rows, rows_per_chunk: int = 1000) -> Iterator[str]:
    """A table as CSV text for spreadsheets, in chunks to stream: the byte order mark first (Excel then
    reads UTF-8, so Vietnamese shows right), CRLF lines, formulas defused."""
    out = io.StringIO()
    out.write(UTF8_BOM.decode())
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(headers)
    for n, row in enumerate(rows, start=1):
        writer.writerow([defuse_formula(value) for value in row])
        if n % rows_per_chunk == 0:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()


def csv_geometry_columns(kind: str) -> list[read.Column]:
    if kind == "lonlat":
        # A polygon is given by a point inside it: its centroid could fall outside.
        return [
            read.Column("longitude", "ST_X(ST_PointOnSurface(t.geom))", pa.float64()),
            read.Column("latitude", "ST_Y(ST_PointOnSurface(t.geom))", pa.float64()),
        ]
    return [read.Column("wkt", "ST_AsText(t.geom)", pa.string())]


WRITERS = {
    "gpkg": write_gpkg,
    "shp": write_shapefiles,
    "kml": write_kml,
    "csv": write_csv,
    "geojson": write_geojson,
}
