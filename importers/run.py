"""The import pipeline: read a file in batches, map, check, stage, load.

Everything happens in a savepoint of the caller's transaction: a dry run, or
a run with rejected rows (unless told to skip them), rolls back and leaves
the database as it was.
"""

from __future__ import annotations

import binascii
import io
import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyogrio
import shapely
import shapely.geometry
from pyogrio.raw import open_arrow
from pyproj import CRS
from sqlalchemy import Connection

from exporters.write import unmark_formulas
from gis.params import BOOLEAN_WORDS
from importers.crs import AXES_EXCHANGED, CrsChoice, CrsError, axes_exchanged, check_degrees, choose_crs, to_wgs84
from importers.encodings import (
    LEGACY_ENCODINGS,
    OTHER,
    UTF8,
    byte_text_kind,
    decode_legacy,
    fix_text,
    guess_legacy,
    normalize_encoding_name,
)
from importers.kml import with_placemark_data
from importers.mapping import Mapping, MappingError, chosen_values, fold, map_choice, suggest_by_values, suggest_mapping
from importers.sources import (
    CSV,
    CSV_NOT_UTF8,
    KML,
    NO_CPG,
    NO_PRJ,
    SHAPEFILE,
    ImportFileError,
    Source,
    attach_geometry,
    copy_with_sidecars,
    open_layer,
    prepare_source,
    read_options,
    read_sheet,
    sheet_header,
)
from layers import REGISTRY
from layers.base import Field, Layer
from layers.edit import WorkingArea, geometry_rules, set_actor
from layers.imports import (
    copy_rows,
    create_stage,
    index_stage,
    keep_cut_text,
    keep_stored_shapes,
    overlapping_rows,
    record_import,
    reject_bad_geometries,
    reject_outside_districts,
    reject_overlaps,
    reject_repeated_keys,
    reject_stale_copies,
    reject_unknown_ids,
    repair_geometries,
    rows_already_there,
    rows_in_no_district,
    rows_without_key,
    save_staged,
    set_aside_unchanged,
    stage_columns,
    stage_places,
    would_write,
)
from layers.validate import check_value


class ImportFailed(ValueError):
    """The file cannot be imported at all (unreadable, unmapped, wrong CRS...)."""


@dataclass
class ImportOptions:
    source_layer: str | None = None
    crs: str | None = None
    encoding: str | None = None
    mapping: dict[str, str] = field(default_factory=dict)
    dry_run: bool = False
    skip_invalid: bool = False
    repair: bool = False
    key: str | None = None
    username: str | None = None
    batch_size: int = 5_000
    open_options: dict = field(default_factory=dict)
    table_geometry: dict | None = None  # coordinate columns of a spreadsheet
    values: dict[str, dict[str, str]] = field(default_factory=dict)  # field -> file text -> choice, for unknown words
    districts: tuple[str, ...] | None = None  # the codes of those the importing user may edit; None: all
    working_area: tuple[float, float, float, float] = (105.85, 19.85, 106.65, 20.6)
    max_vertices: int = 10_000
    file_name: str | None = None  # what the import log calls the file: the page's upload keeps the user's own name
    constants: dict[str, str] = field(default_factory=dict)  # field -> text every row gets, for a field no column fills
    encoding_from_file: bool = False  # the encoding is the .cpg's word, not the user's
    header_row: int | None = None  # a sheet's header below a title: its row, from 0


@dataclass
class ImportReport:
    rows_read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0  # accepted rows whose key names a feature that already holds what they say
    would_update: int = 0  # a run not committed (a dry run): what it would have done with the accepted rows
    would_insert: int = 0
    rejected: list[dict] = field(default_factory=list)  # {"row", "reason", "location"?}, a row may have several
    mapping: dict[str, str] = field(default_factory=dict)
    constants: dict[str, object] = field(default_factory=dict)  # field -> the value every row was given (--set)
    unknown_columns: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    unmatched: dict[str, Unmatched] = field(default_factory=dict)  # enum field -> its text no choice matched
    dry_run: bool = False
    committed: bool = False
    import_id: int | None = None  # a committed import's entry in the import log, by which undo_import takes it back
    at: datetime | None = None  # and its time

    @property
    def rejected_rows(self) -> int:
        return len({r["row"] for r in self.rejected})

    @property
    def would_load(self) -> int:
        return self.rows_read - self.rejected_rows


def decoded_here(encoding: str | None) -> bool:
    """Whether the importer decodes a file's text itself, GDAL handing it over byte for byte (as latin-1):
    for every encoding but UTF-8. TCVN3 and VNI have no codec, and GDAL's conversion (iconv) drops the
    last letter of Windows-1258 text, which it holds back waiting for a tone mark."""
    return encoding is not None and encoding != "utf-8"


def read_encoding(options: ImportOptions) -> str | None:
    return "latin1" if decoded_here(options.encoding) else options.encoding


def decoded(text: str, encoding: str | None) -> str:
    """Text GDAL handed over byte for byte, decoded (decoded_here); a column name as the file means it."""
    try:
        return fix_text(text, encoding) if decoded_here(encoding) else text
    except (UnicodeDecodeError, ValueError):
        return text


def convert_column(
    f: Field, raw: list, encoding: str | None, chosen: dict[str, str] | None = None, unmatched: Unmatched | None = None,
) -> tuple[list, dict[int, str]]:
    """A file column's values as the field stores them, and the problem of each offending row (by offset).

    Each distinct value is converted once: a column of 100,000 rows holds a
    few crops or statuses many times over. Enum text no choice matches (the
    user's `chosen` ones included) is counted in `unmatched`.
    """
    legacy = decoded_here(encoding)
    done: dict = {}
    values, problems = [], {}
    for offset, value in enumerate(raw):
        if isinstance(value, float) and np.isnan(value):
            value = None
        try:
            key = (type(value), value)  # True and 1 are equal keys, not equal values
            converted = done.get(key)
        except TypeError:  # a list or a map from the file: no key, checked as it is
            key, converted = None, None
        if converted is None:
            try:
                text = fix_text(value, encoding) if legacy and isinstance(value, str) else value
                converted = (*convert_value(f, text, chosen), text)
            except (UnicodeDecodeError, ValueError):  # a byte the encoding leaves undefined
                converted = (None, f"is not {encoding} text", value)
            if key is not None:
                done[key] = converted
        value, error, text = converted
        values.append(value)
        if error:
            problems[offset] = error
            if unmatched is not None and f.kind == "enum" and value is None and text not in (None, ""):
                unmatched.count(str(text))
    return values, problems


UNMATCHED_KEPT = 1_000  # texts counted per field: a wrongly mapped column can hold a different one every row


@dataclass
class Unmatched:
    """Enum text no choice matched, counted as matching compares it (folded): "Lúa nếp" and "lua nep"
    are one word, which one reading (ImportOptions.values) covers; shown as first written."""

    rows: Counter = field(default_factory=Counter)  # folded text -> rows
    spelling: dict[str, str] = field(default_factory=dict)  # folded text -> as first written

    def count(self, text: str) -> None:
        key = fold(text)
        if key in self.rows or len(self.rows) < UNMATCHED_KEPT:
            self.rows[key] += 1
            self.spelling.setdefault(key, text)

    def commonest(self, most: int) -> list[dict]:
        return [{"value": self.spelling[key], "key": key, "rows": n} for key, n in self.rows.most_common(most)]


def convert_value(f: Field, raw, chosen: dict[str, str] | None = None) -> tuple[object, str | None]:
    """A file's value as the field stores it, or the problem; enum text is matched to a choice first."""
    if f.kind in ("integer", "number") and isinstance(raw, str) and GROUPED_THOUSANDS.fullmatch(raw):
        return None, f"{raw.strip()[:20]!r} has a dot between thousands, so it reads as a thousand times more or less: write it without"
    if f.is_free_text and beyond_reading(raw):
        return None, "is a number too large to be read exactly: write it as text (in quotes)"
    if f.kind != "enum" or raw in (None, ""):
        value, problem = check_value(f, typed_raw(f, raw))
        if problem and not f.is_free_text and isinstance(raw, str):  # "khoảng 50" households: say what was read
            problem = f"{problem} (the file holds {raw.strip()[:40]!r})"
        return value, problem
    choice = map_choice(f, raw, chosen)
    if choice is None:
        return None, f"unknown value {str(raw)[:40]!r}"
    return check_value(f, choice)


def unmatched_json(unmatched: dict[str, Unmatched], most: int = 50) -> dict[str, list[dict]]:
    """The texts no choice matched, the commonest first, for a report or an inspection."""
    return {name: found.commonest(most) for name, found in unmatched.items() if found.rows}


def convert_batch(layer: Layer, reading: Reading, batch: pa.RecordBatch, encoding: str | None, unmatched: dict):
    """The batch's writable values column by column, and each offending row's problems (by offset), in field order;
    enum text no choice matched is counted in `unmatched` (field -> Unmatched)."""
    values: dict[str, list] = {}
    problems: dict[int, list[str]] = {}
    for column, name in reading.mapping.items():
        f = layer.field(name)
        counts = unmatched.setdefault(name, Unmatched()) if f.kind == "enum" else None
        values[name], errors = convert_column(f, batch.column(column).to_pylist(), encoding, reading.values.get(name), counts)
        for offset, error in errors.items():
            problems.setdefault(offset, []).append(f"{name}: {error}")
    for name, value in reading.constants.items():
        values[name] = [value] * batch.num_rows
    for column, f in ((reading.id_column, ID_FIELD), (reading.version_column, VERSION_FIELD)):
        if column:
            values[f.name], errors = convert_column(f, batch.column(column).to_pylist(), None)
            for offset, error in errors.items() if reading.ids_named else ():  # else only a guard, where readable
                problems.setdefault(offset, []).append(f"{f.name}: {error}")
    for f in (f for f in layer.writable if f.required):
        for offset, value in enumerate(values.get(f.name) or [None] * batch.num_rows):
            if value is None and not any(p.startswith(f"{f.name}:") for p in problems.get(offset, ())):
                problems.setdefault(offset, []).append(f"{f.name}: is required")
    return values, problems


# A number written as text: a spreadsheet column mixing numbers and text arrives all as text.
NUMBER_TEXT = re.compile(r"\s*[+-]?\d+(\.\d+)?\s*")
# "1.000" is a thousand in Vietnamese writing and one elsewhere: such text is left as text (refused).
GROUPED_THOUSANDS = re.compile(r"\s*[+-]?\d{1,3}(\.\d{3})+\s*")


def beyond_reading(raw) -> bool:
    """A number the reader could not hold as written: infinite (1e400), or stopped where 64 bits end."""
    return isinstance(raw, int | float) and not isinstance(raw, bool) and not -(2**63) < raw < 2**63 - 1


def typed_raw(f: Field, raw):
    if f.is_free_text and raw is not None and not isinstance(raw, str):
        return str(raw)
    if f.kind in ("integer", "number") and isinstance(raw, str) and NUMBER_TEXT.fullmatch(raw) \
            and not GROUPED_THOUSANDS.fullmatch(raw):
        return int(raw) if f.kind == "integer" and "." not in raw else float(raw)
    if f.kind == "number" and isinstance(raw, int):
        return float(raw)
    if f.kind == "boolean" and (isinstance(raw, str) or isinstance(raw, int) and raw in (0, 1)):
        # Formats without a boolean type (KML, CSV, a shapefile's DBF) write one as text or a number;
        # an empty cell is no answer, as in any other column.
        return BOOLEAN_WORDS.get(str(raw).strip().lower(), raw) if str(raw).strip() else None
    return raw


# Arrow types of the staged columns, by field kind (every other kind is a string).
ARROW_KINDS = {"integer": pa.int64(), "number": pa.float64(), "boolean": pa.bool_(), "date": pa.date32()}
CSV_OPTIONS = pa_csv.WriteOptions(include_header=False)


def batch_csv(layer: Layer, start_row: int, values: dict[str, list], geometries: np.ndarray, refused) -> bytes:
    """COPY input of a batch (written by Arrow, not row by row): row number, the feature id and version it
    names (keyed by id), the writable fields,
    the shape as hex EWKB, and whether the row is already refused (offsets in `refused`)."""
    count = len(geometries)
    columns = {"row_no": pa.array(range(start_row, start_row + count), pa.int32()),
               "id": pa.array(values.get(ID_KEY) or [None] * count, pa.int64()),
               "version": pa.array(values.get(VERSION) or [None] * count, pa.int32())}
    for f in (layer.field(c) for c in stage_columns(layer)):
        columns[f.name] = pa.array(values.get(f.name) or [None] * count, ARROW_KINDS.get(f.kind, pa.string()))
    columns["geom"] = hex_ewkb(geometries)
    columns["rejected"] = pa.array(np.isin(np.arange(count), list(refused)), pa.bool_())
    out = io.BytesIO()
    pa_csv.write_csv(pa.table(columns), out, CSV_OPTIONS)
    return out.getvalue()


def hex_ewkb(geometries: np.ndarray) -> pa.StringArray:
    """Shapes as hex EWKB (SRID 4326), hex-encoded in one pass over the batch (shapely's hex=True is 7 times slower)."""
    wkb = pa.array(shapely.to_wkb(shapely.set_srid(geometries, 4326), include_srid=True), pa.binary())
    offsets = np.frombuffer(wkb.buffers()[1], np.int32, len(wkb) + 1, wkb.offset * 4)
    data = wkb.buffers()[2]
    digits = binascii.hexlify(memoryview(data)[offsets[0]:offsets[-1]]) if data is not None else b""
    return pa.StringArray.from_buffers(len(wkb), pa.py_buffer((offsets - offsets[0]) * 2), pa.py_buffer(digits),
                                       wkb.buffers()[0], wkb.null_count)


def file_info(path: Path, options: ImportOptions) -> dict:
    try:
        info = pyogrio.read_info(path, layer=options.source_layer, encoding=read_encoding(options), **options.open_options)
    except UnicodeDecodeError:
        raise not_utf8(path) from None
    except Exception as err:  # GDAL's own errors come in many classes
        raise ImportFailed(f"cannot read {path.name}: {str(err).splitlines()[0][:200]}") from None
    info["fields"] = [decoded(str(name), options.encoding) for name in info["fields"]]
    if options.header_row is not None:  # the names are a row below the sheet's title; GDAL counted from row 2
        info["fields"] = sheet_header(path, options.source_layer, options.header_row)
        info["features"] -= options.header_row
    names = [str(c) for c in info["fields"]]
    repeated = next((c for c in names if names.count(c) > 1), None)
    if repeated:  # a file's column is known by its name
        raise ImportFailed(f"the file has more than one column named {repeated!r}: rename them so that each name is used once")
    if info.get("total_bounds") is None and info["features"] and (options.table_geometry or info.get("driver") == "CSV"):
        info["total_bounds"], info["middle"] = table_extent(path, options)
    return info


def table_extent(path: Path, options: ImportOptions) -> tuple[tuple | None, tuple | None]:
    """The extent of a CSV's or a sheet's shapes, which the file keeps nowhere, and the middle of their
    coordinates (a stray row moves an extent, not a median): read from the rows, as they tell metres from
    degrees and find exchanged axes before any row is staged."""
    xs, ys, row = [], [], 1
    for column, batch in arrow_batches(path, options):
        shapes = read_shapes(batch.column(column).to_numpy(zero_copy_only=False), options.file_name or path.name, row)
        row += batch.num_rows
        coords = shapely.get_coordinates(shapes)
        coords = coords[np.isfinite(coords).all(axis=1)]
        xs.append(coords[:, 0])
        ys.append(coords[:, 1])
    x, y = (np.concatenate(xs), np.concatenate(ys)) if xs else (np.empty(0), np.empty(0))
    if not len(x):
        return None, None
    return (x.min(), y.min(), x.max(), y.max()), (float(np.median(x)), float(np.median(y)))


def feature_count(info: dict) -> int | None:
    """The file's number of features, or None where the driver cannot tell without reading it all (-1)."""
    count = info["features"]
    return int(count) if count is not None and count >= 0 else None


def plan(layer: Layer, info: dict, options: ImportOptions) -> tuple[CrsChoice, list[str], Mapping]:
    """The file's CRS (checked against its coordinates), its columns, and how they map to fields."""
    if info["features"] == 0:  # not "required fields not found": a file without rows has no columns either
        raise ImportFailed(f"{options.file_name} holds no features")
    try:
        choice = choose_crs(info.get("crs"), options.crs)
        bounds = info.get("total_bounds")
        if bounds is not None and info["features"] and np.all(np.isfinite(bounds)):  # empty shapes have no bounds
            check_degrees(tuple(bounds), choice.crs)
            middle = info.get("middle") or ((bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2)
            if axes_exchanged(middle, choice.crs, options.working_area):
                choice.exchanged = True
                choice.notes.append(AXES_EXCHANGED)
        coordinates = set((options.table_geometry or {}).values())
        columns = [str(c) for c in info["fields"] if str(c) not in coordinates]
        to_ids = next((c for c, t in options.mapping.items() if t == ID_KEY), None)
        if to_ids is not None and options.key != ID_KEY:  # else the column would be quietly left out
            raise MappingError(f"--map {to_ids}=id names the column of feature ids, which only --key id reads")
        given = {c: t for c, t in options.mapping.items() if t != ID_KEY}  # the id is no field
        mapping = suggest_mapping(layer, columns, given)
        mapping.values = chosen_values(layer, options.values)
        set_constants(layer, mapping, options.constants)
        if options.key == ID_KEY:
            if options.source_layer in REGISTRY and options.source_layer != layer.id:  # ids are each layer's own
                raise MappingError(f"the file's layer is {options.source_layer}, another layer of this map: "
                                   f"its ids name features of {options.source_layer}, not of {layer.id}")
            mapping.id_column = id_column(columns, options.mapping)
        elif options.key:  # an export's id, read only to tell whether a row is a copy of the feature its key names
            mapping.id_column = next((c for c in columns if fold(c) == ID_KEY and c not in mapping.columns), None)
        if mapping.id_column:  # the export's version column, by whatever key it comes back: stale rows refused
            # Among the columns not imported (the page names those it leaves out, mapped to "").
            mapping.version_column = next((c for c in columns if fold(c) == VERSION and c not in mapping.columns), None)
            mapping.unknown = [c for c in mapping.unknown if c not in (mapping.id_column, mapping.version_column)]
        return choice, columns, mapping
    except (CrsError, MappingError) as err:
        raise ImportFailed(str(err)) from None


def set_constants(layer: Layer, mapping: Mapping, given: dict[str, str]) -> None:
    """The user's values for every row (--set FIELD=VALUE), read as a column's would be, into the mapping:
    a KML from a phone has no column for a relic's rank, which every row of it may share."""
    for name, raw in given.items():
        f = next((f for f in layer.writable if f.name == name), None)
        if f is None:
            raise MappingError(f"--set names field {name!r}, which {layer.id} does not have or computes itself")
        if name in mapping.columns.values():
            raise MappingError(f"--set gives {name} a value, which a column of the file fills too: choose one")
        value, problem = convert_value(f, raw, mapping.values.get(name))
        if problem or value is None:
            raise MappingError(f"--set {name}={str(raw)[:40]!r}: {problem or 'is empty'}")
        mapping.constants[name] = value


ID_KEY = "id"  # --key id: rows name their features by id, as an export from this app does
ID_FIELD = Field(ID_KEY, "integer", "Mã đối tượng", "Feature id")
VERSION = "version"  # an export's version column: rows naming features changed since are refused
VERSION_FIELD = Field(VERSION, "integer", "Phiên bản", "Version")


def id_column(columns: list[str], mapping: dict[str, str]) -> str:
    """The file's column of feature ids for --key id: the one mapped to id, else the one called id."""
    chosen = [c for c, target in mapping.items() if target == ID_KEY]
    if len(chosen) > 1:
        raise MappingError(f"--map maps columns {chosen[0]!r} and {chosen[1]!r} to the same field 'id': choose one")
    found = chosen[0] if chosen else next((c for c in columns if fold(c) == ID_KEY), None)
    if found is None:
        raise MappingError("--key id needs the file's column of feature ids, as this app's exports have; "
                           "name it with --map COLUMN=id")
    return found


def run_import(
    conn: Connection, layer: Layer, path: Path, options: ImportOptions,
    progress: Callable[[int], None] | None = None, on_phase: Callable[..., None] | None = None,
) -> ImportReport:
    phase = on_phase or (lambda name, total=None: None)
    options.file_name = options.file_name or path.name
    hint = settle_encoding(path, options)  # before the names are read, which a wrong encoding garbles
    info = file_info(path, options)
    phase("reading", feature_count(info))
    report = ImportReport(dry_run=options.dry_run)
    choice, columns, mapping = plan(layer, info, options)
    report.notes += choice.notes + hint
    report.mapping, report.unknown_columns, report.constants = mapping.columns, mapping.unknown, mapping.constants
    refuse_incomplete(layer, mapping, options.key)

    savepoint = conn.begin_nested()
    try:
        set_actor(conn, options.username)
        create_stage(conn, layer, geometry_rules(layer, WorkingArea(*options.working_area, options.max_vertices)))
        # Only CSV has no cell types: there the exports mark text that is not a formula (exporters.write).
        reading = Reading(choice.crs, mapping.columns, formula_marks=info.get("driver") == "CSV", values=mapping.values,
                          id_column=mapping.id_column, version_column=mapping.version_column, exchanged=choice.exchanged,
                          constants=mapping.constants, ids_named=options.key == ID_KEY)
        stage_file(conn, layer, path, options, reading, report, progress)
        phase("checking")
        written = {*mapping.columns.values(), *mapping.constants}
        fields = [f for f in stage_columns(layer) if f in written]  # what the file writes
        points_for_areas = bool(options.key) and "Point" not in layer.accepted_geometries and gives_points(info, options)
        check_staged(conn, layer, options, report, fields, points_for_areas=points_for_areas)
        if report.rejected and info.get("driver") in ("CSV", "XLSX"):  # opened in a spreadsheet, rows count otherwise
            first = (options.header_row or 0) + 2
            report.notes.append(f"rows are counted from the first under the header: row 1 is the spreadsheet's row {first}")
        if report.rejected and not options.skip_invalid or options.dry_run:
            report.would_update, report.would_insert = would_write(conn, layer, options.key, fields)
            report.unchanged = report.would_load - report.would_update - report.would_insert
            savepoint.rollback()
            return report
        phase("saving")
        save_and_log(conn, layer, options, report, fields)
        savepoint.commit()
        report.committed = True
        return report
    except BaseException:
        if savepoint.is_active:
            savepoint.rollback()
        raise


def refuse_incomplete(layer: Layer, mapping: Mapping, key: str | None) -> None:
    """A mapping that leaves a required field empty, or a key the file does not fill, stops the import."""
    missing = mapping.missing_required(layer)
    if missing:
        raise ImportFailed(f"required field(s) not found in the file: {', '.join(missing)}; use --map COLUMN=FIELD")
    if key and key != ID_KEY and key not in {f.name for f in layer.writable}:
        raise ImportFailed(f"unknown key field {key!r}: a field of {layer.id} the file fills, or id")
    if key and key != ID_KEY and key not in mapping.columns.values():
        raise ImportFailed(f"the key field {key!r} is not mapped from any column")


def save_and_log(conn: Connection, layer: Layer, options: ImportOptions, report: ImportReport, fields: list[str]) -> None:
    """The accepted rows into the layer, and the import into the log; the report says what was done."""
    report.updated, report.inserted, rebuilt = save_staged(conn, layer, options.key, fields)
    report.unchanged = report.would_load - report.inserted - report.updated
    if rebuilt:
        report.notes.append(INDEXES_REBUILT)
    if not (report.inserted or report.updated):
        report.notes.append(NOTHING_WRITTEN)  # nothing to undo either: not in the log
        return
    report.import_id, report.at = record_import(conn, layer, options.username, options.file_name, {
        "rows_read": report.rows_read, "inserted": report.inserted, "updated": report.updated, "rejected": report.rejected_rows})


def open_source(path: Path, options: ImportOptions, workdir: Path) -> Source:
    """Check the file (archives unpacked safely into `workdir`) and set how to read it."""
    try:
        source = prepare_source(path, workdir)
        options.source_layer = open_layer(source, options.source_layer)
    except ImportFileError as err:
        raise ImportFailed(err.message) from None
    # What the user said answers the notes that asked for it.
    answered = {NO_PRJ} if options.crs else set()
    answered |= {NO_CPG} if options.encoding else set()
    source = replace(source, notes=[n for n in source.notes if n not in answered])
    if options.encoding and text_encoding(options.encoding) is None:
        raise ImportFailed(f"unknown text encoding {options.encoding[:40]!r}: for example utf-8, cp1258, tcvn3 or vni")
    if source.format == SHAPEFILE and not options.encoding:
        # Read as the .cpg says, decoded here (decoded_here) rather than by GDAL.
        options.encoding = cpg_encoding(source.cpg)
        options.encoding_from_file = options.encoding is not None
    if options.encoding and is_utf8(options.encoding):
        # However it was spelt; a shapefile's .dbf needs telling, any other format is UTF-8 anyway.
        options.encoding = "utf-8" if source.format == SHAPEFILE else None
    if options.encoding and source.format != SHAPEFILE:
        notes = [n for n in source.notes if n != CSV_NOT_UTF8]  # it is, from here on
        try:  # judged again as converted: its column names may read otherwise in the encoding chosen
            source = replace(prepare_source(utf8_copy(source, options.encoding, workdir), workdir), notes=notes)
            options.source_layer = open_layer(source, options.source_layer)
        except ImportFileError as err:
            raise ImportFailed(err.message) from None
        options.encoding = None
    if source.format == KML:  # with its placemarks' attributes, which GDAL's KML driver leaves out
        placemarks, notes = with_placemark_data(source.path, workdir)
        source = replace(source, path=placemarks, notes=source.notes + notes)
    options.open_options = read_options(source, options.source_layer)
    if source.format == "XLSX":
        options.table_geometry = source.layer_geometry.get(options.source_layer) or source.csv_geometry
        options.header_row = source.header_rows.get(options.source_layer)
    return source


def utf8_copy(source: Source, encoding: str, workdir: Path) -> Path:
    """A CSV in a legacy encoding (Excel on a Vietnamese Windows writes Windows-1258), converted to UTF-8
    beside it; a shapefile's text is decoded as it is read (decoded_here), and the other formats are UTF-8 by
    definition."""
    if source.format != CSV:
        raise ImportFailed(f"an encoding can be chosen only for shapefiles and CSV files; {source.format} files hold UTF-8 text")
    target = copy_with_sidecars(source.path, workdir / "utf-8")
    # Line by line, so memory does not grow with the file: no legacy character spans a line break.
    try:
        with source.path.open("rb") as lines, target.open("w", encoding="utf-8", newline="") as out:
            for line in lines:
                out.write(decode_legacy(line, encoding))
    except (UnicodeDecodeError, LookupError) as err:
        raise ImportFailed(f"cannot read {source.path.name}: {str(err)[:200]}") from None
    return target


HINT_ROWS = 500
LEGACY_NAMES = {"tcvn3": "TCVN3 (ABC)", "vni": "VNI"}


def settle_encoding(path: Path, options: ImportOptions) -> list[str]:
    """The encoding a shapefile's text is read in, settled from its first rows read byte for byte; the notes
    of what was decided. A .cpg naming a code page before UTF-8 text (a tool that wrote its own default)
    gives way to UTF-8. Text that plainly is TCVN3 or VNI stops the import, naming the encoding, unless the
    user chose another one (a note then): old files carry a .cpg naming a Windows code page, UTF-8, or none."""
    if options.encoding in LEGACY_ENCODINGS or not is_shapefile(path):  # TCVN3, VNI: no codec
        return []
    texts = text_as_bytes(path, options)
    kind = byte_text_kind(texts)
    if options.encoding_from_file and not is_utf8(options.encoding):
        if kind == UTF8:
            said = f"the .cpg names {options.encoding}, but the text is UTF-8: read as UTF-8"
            options.encoding = "utf-8"
            return [said]
        if "TEN".encode(options.encoding) != b"TEN":  # UTF-16, EBCDIC: a .dbf, whose header is ASCII, is in neither
            raise ImportFailed(f"the .cpg names {options.encoding}, which no .dbf is written in: choose the text's encoding")
    guess = guess_legacy(texts)
    if guess is None:
        if kind == OTHER and not decoded_here(options.encoding):  # to be read as UTF-8, which it is not
            raise not_utf8(Path(options.file_name or path.name))
        return []
    said = f"the text looks like {LEGACY_NAMES[guess]}, a Vietnamese encoding older than Unicode: choose it (--encoding {guess})"
    if options.encoding_from_file or not decoded_here(options.encoding):  # a .cpg's word, or UTF-8 it cannot be
        raise ImportFailed(said)
    return [said]


def is_shapefile(path: Path) -> bool:
    """A .shp, or a folder of them (sources gathers several shapefiles so): known without opening it, which
    for a GeoJSON would mean parsing it whole."""
    return path.suffix.lower() == ".shp" or path.is_dir() and any(path.glob("*.[sS][hH][pP]"))


def text_as_bytes(path: Path, options: ImportOptions) -> list[str]:
    """The column names and the text of the first HINT_ROWS rows, each byte a character (latin-1)."""
    try:
        _, batch = next(arrow_batches(path, replace(options, encoding="latin1", batch_size=HINT_ROWS)))
    except StopIteration:
        return []
    values = [v for column in batch.columns if pa.types.is_string(column.type) for v in column.to_pylist() if v]
    return [*batch.schema.names, *values]


def cpg_encoding(cpg: str | None) -> str | None:
    """The codec a shapefile's .cpg names ("1258", "CP1258", "ANSI 1258", "8859_1", "UTF-8"), or None."""
    word = (cpg or "").replace("\x00", "").strip().upper().removeprefix("ANSI").strip()
    if not word:
        return None
    return text_encoding(f"cp{word}" if word.isdigit() else re.sub(r"^8859[_-]?", "iso8859_", word))


def text_encoding(name: str) -> str | None:
    """`name` as the importer names the encoding (tcvn3, vni, or Python's codec name), if it is one of text."""
    try:
        encoding = normalize_encoding_name(name)
        if encoding not in LEGACY_ENCODINGS:
            b"text".decode(encoding)  # a codec of text, not rot13 or zlib
    except (LookupError, ValueError, TypeError):
        return None
    return encoding


def is_utf8(encoding: str) -> bool:
    return text_encoding(encoding) == "utf-8"


def import_file(
    conn: Connection, layer: Layer, path: Path, options: ImportOptions, workdir: Path,
    progress: Callable[[int], None] | None = None, on_phase: Callable[..., None] | None = None,
) -> ImportReport:
    """Check an uploaded or given file (archives unpacked safely into `workdir`), then import it."""
    source = open_source(path, options, workdir)
    options.file_name = options.file_name or path.name  # not the .shp inside a zip
    report = run_import(conn, layer, source.path, options, progress, on_phase)
    report.notes = source.notes + report.notes
    return report


def arrow_batches(path: Path, options: ImportOptions):
    """(geometry column, batches) of a file, read by GDAL in bounded batches."""
    if options.table_geometry:
        yield from table_batches(path, options)
        return
    with open_arrow(path, layer=options.source_layer, encoding=read_encoding(options), batch_size=options.batch_size,
                    use_pyarrow=True, **options.open_options) as (meta, reader):
        geometry_column = meta["geometry_name"] or "wkb_geometry"
        row = 1
        for batch in utf8_batches(reader, path):
            check_text(batch, path, row)
            if decoded_here(options.encoding):  # the names file_info gave
                batch = batch.rename_columns([n if n == geometry_column else decoded(n, options.encoding) for n in batch.column_names])
            yield geometry_column, batch
            row += batch.num_rows


def utf8_batches(reader, path: Path):
    """The reader's batches; column names that are not UTF-8 (a shapefile read as such) stop it clearly."""
    try:
        yield from reader
    except UnicodeDecodeError:
        raise not_utf8(path) from None


def not_utf8(path: Path) -> ImportFailed:
    """The refusal of a file whose text, or column names, GDAL hands over in another encoding than UTF-8."""
    return ImportFailed(f"{path.name} holds text that is not UTF-8: choose its encoding")


def check_text(batch: pa.RecordBatch, path: Path, first_row: int) -> None:
    """GDAL hands text over as it found it: bytes that are not UTF-8 would fail later, anywhere."""
    try:
        columns = batch.columns  # their names too
    except UnicodeDecodeError:
        raise not_utf8(path) from None
    for column in columns:
        if pa.types.is_string(column.type):
            try:
                column.validate(full=True)
            except pa.ArrowInvalid:
                raise ImportFailed(
                    f"{path.name} holds text that is not UTF-8 (rows {first_row} to {first_row + batch.num_rows - 1}): "
                    f"choose its encoding"
                ) from None


def table_batches(path: Path, options: ImportOptions):
    """Spreadsheets have no geometry in GDAL: build it from their coordinate columns."""
    frame = read_sheet(path, options.source_layer, options.header_row, **options.open_options)
    table = attach_geometry(frame, options.table_geometry)
    for start in range(0, len(table), options.batch_size):
        part = table.iloc[start:start + options.batch_size]
        columns = {c: sheet_column(part[c].tolist()) for c in part.columns if c != "geometry"}
        columns["wkb_geometry"] = pa.array(shapely.to_wkb(part.geometry.to_numpy()), pa.binary())
        yield "wkb_geometry", pa.RecordBatch.from_pydict(columns)


def sheet_column(values: list) -> pa.Array:
    """A spreadsheet column as Arrow takes it: one type, so a column mixing numbers and text is all text."""
    try:
        return pa.array(values, from_pandas=True)
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        return pa.array([None if v is None or v != v else str(v) for v in values], pa.string())


@dataclass(frozen=True)
class Reading:
    """What turns the file's batches into stage rows, found from the file and the options before reading."""

    crs: CRS
    mapping: dict[str, str]  # file column -> field
    formula_marks: bool  # text may carry the apostrophe that marks it as no formula
    values: dict[str, dict[str, str]] = field(default_factory=dict)  # the user's reading of enum text (Mapping.values)
    id_column: str | None = None  # the file's column of feature ids, when keyed by id
    version_column: str | None = None  # and of the versions they were exported at, where it has one
    exchanged: bool = False  # X and Y to be read the other way round (importers.crs.axes_exchanged)
    constants: dict[str, object] = field(default_factory=dict)  # field -> the value every row gets (Mapping.constants)
    ids_named: bool = True  # the rows name features by id (--key id): an id or version that cannot be read refuses the row


def stage_file(conn, layer, path, options, reading: Reading, report, progress) -> None:
    """Every batch into the stage through one COPY: PostGIS takes in rows while the next batch is read."""
    reader = ChunkReader(staged_chunks(layer, path, options, reading, report, progress))
    copy_rows(conn, layer, reader)
    if reader.error:
        raise reader.error


class ChunkReader:
    """A file-like view of a generator of bytes, for COPY ... FROM STDIN.

    An error of the generator ends the input and is kept for the caller to
    raise as it is: raised inside COPY, the driver would retell it as a
    database error.
    """

    def __init__(self, chunks):
        self.chunks = chunks
        self.error: BaseException | None = None

    def read(self, size: int = -1) -> bytes:
        if self.error:
            return b""
        try:
            return next(self.chunks, b"")
        except BaseException as err:  # re-raised by stage_file once COPY has ended
            self.error = err
            return b""


def staged_chunks(layer, path, options, reading: Reading, report, progress):
    for first_row, geometry_column, batch in readable_batches(path, options):
        yield stage_batch(layer, batch, geometry_column, reading, options, report, first_row)
        if progress:
            progress(batch.num_rows)


def readable_batches(path: Path, options: ImportOptions):
    """(first row number, geometry column, batch) of arrow_batches, with GDAL's and Arrow's reading errors
    told as ImportFailed naming the row.

    Only reading is wrapped: database errors and the caller's own pass through as they are.
    """
    batches = arrow_batches(path, options)
    row = 1
    while True:
        try:
            geometry_column, batch = next(batches)
        except StopIteration:
            return
        except ImportFailed:
            raise
        except Exception as err:  # GDAL and Arrow raise many classes of their own
            raise ImportFailed(f"cannot read row {row} of {path.name}: {str(err).splitlines()[0][:200]}") from None
        yield row, geometry_column, batch
        row += batch.num_rows


def read_shapes(wkb, file_name: str, first_row: int) -> np.ndarray:
    """Flat shapely geometries of a batch's WKB: phones and GPS units write altitudes (Z), survey tools
    measures (M), and the layers are flat. Shapely reads no arcs: a file holding them is refused."""
    wkb = np.asarray(wkb, dtype=object)
    try:
        geometries = shapely.from_wkb(wkb, on_invalid="ignore")
    except NotImplementedError:
        row = first_row + next(i for i, one in enumerate(wkb) if not readable_shape(one))
        raise ImportFailed(
            f"row {row} of {file_name} holds a curved shape (arcs), which cannot be read: convert the curves to straight "
            "segments first (in QGIS, or with ogr2ogr -nlt CONVERT_TO_LINEAR)"
        ) from None
    if (shapely.has_z(geometries) | shapely.has_m(geometries)).any():
        geometries = shapely.force_2d(geometries)
    return geometries


def single_points(geometries: np.ndarray) -> np.ndarray:
    """Multipoints of one point as that point: QGIS makes point layers multipoint, KML wraps points in
    MultiGeometry. A multipoint of several points stays one (and is refused by a point layer)."""
    one = (shapely.get_type_id(geometries) == shapely.GeometryType.MULTIPOINT) & (shapely.get_num_geometries(geometries) == 1)
    if not one.any():
        return geometries
    geometries = geometries.copy()
    geometries[one] = shapely.get_geometry(geometries[one], 0)
    return geometries


def readable_shape(wkb) -> bool:
    try:
        shapely.from_wkb(wkb, on_invalid="ignore")
    except NotImplementedError:
        return False
    return True


def stage_batch(layer, batch, geometry_column, reading: Reading, options, report, first_row) -> bytes:
    """A batch read, mapped and checked in Python, as COPY input; its rejected rows go in the report."""
    crs = reading.crs
    has_shapes = geometry_column in batch.column_names
    wkb = batch.column(geometry_column).to_numpy(zero_copy_only=False) if has_shapes else [None] * batch.num_rows
    geometries = read_shapes(wkb, options.file_name, first_row)
    if len(geometries) and not crs.is_projected:
        bounds = shapely.total_bounds(geometries)
        if np.all(np.isfinite(bounds)):
            try:
                check_degrees(tuple(bounds), crs)
            except CrsError as err:  # metres found in a later batch than the file's bounds said
                raise ImportFailed(str(err)) from None
    geometries = to_wgs84(geometries, crs, reading.exchanged)
    if layer.is_point:
        geometries = single_points(geometries)
    if reading.formula_marks:
        batch = unmark_formulas(batch, reading.mapping)
    values, problems = convert_batch(layer, reading, batch, options.encoding, report.unmatched)
    for offset in sorted(problems):
        report.rejected.append({"row": first_row + offset, "reason": "; ".join(problems[offset])})
    report.rows_read += batch.num_rows
    return batch_csv(layer, first_row, values, geometries, problems)


def gives_points(info: dict, options: ImportOptions) -> bool:
    """Whether the file's shapes are points: a layer of them, or a table's longitude and latitude columns."""
    return info.get("geometry_type") == "Point" or "x" in (options.table_geometry or {})


SHAPES_KEPT = ("the file gives a point for each area (an export with longitude and latitude): the features its rows "
               "name keep their shapes and take its other values; a row naming none has no shape to add")
ROWS_NOTED = 20  # rows a note lists
NOTHING_WRITTEN = "no row changed anything: nothing was written"
INDEXES_REBUILT = "a load this large goes in faster without the layer's indexes: they were built again after it"


def rows_note(rows: list[int], said: str) -> str:
    """A note that rows (their numbers; one more than ROWS_NOTED stands for many) are as `said`."""
    if len(rows) > ROWS_NOTED:
        return f"more than {ROWS_NOTED} rows {said}; the first: rows {', '.join(map(str, rows[:ROWS_NOTED]))}, ..."
    return f"{len(rows)} row(s) {said}: rows {', '.join(map(str, rows))}"


def check_staged(conn, layer: Layer, options: ImportOptions, report: ImportReport, fields: list[str],
                 points_for_areas: bool = False) -> None:
    """Every check of the staged rows, in bulk; the rejected go in the report, with its notes. With
    `points_for_areas` (a file of points keyed to a layer of areas) the features keep their shapes."""
    found = []
    if points_for_areas:
        found += keep_stored_shapes(conn, layer, options.key)
        report.notes.append(SHAPES_KEPT)
    found += judge_shapes(conn, layer, options, report, unjudged_only=points_for_areas)
    if options.key:
        set_aside_keyed(conn, layer, options.key, report, fields)
    found += checks_across_rows(conn, layer, options, report)
    if layer.derive_place:
        rows = rows_in_no_district(conn, ROWS_NOTED + 1)
        if rows:
            report.notes.append(rows_note(rows, "lie in no district of the province (at sea, or beyond its border): "
                                                "they get no district or commune"))
    for problem in found:
        entry = {"row": problem["row_no"], "reason": problem["reason"]}
        if problem.get("location"):
            entry["location"] = json.loads(problem["location"])["coordinates"]
        report.rejected.append(entry)
    report.rejected = one_entry_a_row(report.rejected)


def one_entry_a_row(rejected: list[dict]) -> list[dict]:
    """A row rejected for several reasons (its values, then its shape or key) as one entry, in row order."""
    rows: dict[int, dict] = {}
    for entry in sorted(rejected, key=lambda r: r["row"]):
        kept = rows.setdefault(entry["row"], dict(entry))
        if kept is not entry and kept["reason"] != entry["reason"]:
            kept["reason"] += "; " + entry["reason"]
            if entry.get("location") and not kept.get("location"):
                kept["location"] = entry["location"]
    return list(rows.values())


def judge_shapes(conn, layer: Layer, options: ImportOptions, report: ImportReport, unjudged_only: bool = False) -> list[dict]:
    """Shapes repaired if asked, the bad ones rejected (with `unjudged_only`, of the rows not rejected
    already), the places of the others found."""
    index_stage(conn)
    if options.repair:
        repaired = repair_geometries(conn, layer)
        if repaired:
            report.notes.append(f"{repaired} invalid shape(s) repaired with ST_MakeValid")
    found = reject_bad_geometries(conn, unjudged_only)
    if layer.derive_place:  # the district of each shape, for the districts check, the note and the load
        stage_places(conn)
    return found


def set_aside_keyed(conn, layer: Layer, key: str, report: ImportReport, fields: list[str]) -> None:
    """Rows changing nothing are no writes: no check of a write applies to them (text a shapefile cut is
    taken for the stored text first, also when the file was saved in another format since)."""
    kept = keep_cut_text(conn, layer, key, fields)
    if kept:
        report.notes.append(f"{kept} text value(s) cut at 254 bytes by the shapefile were kept whole, as stored")
    set_aside_unchanged(conn, layer, key, fields)
    rows = rows_without_key(conn, key, ROWS_NOTED + 1)
    if rows:  # sent again, such rows come in again: say so before they do
        report.notes.append(rows_note(rows, f"have no {key}: each is added as a new feature"))


def checks_across_rows(conn, layer: Layer, options: ImportOptions, report: ImportReport) -> list[dict]:
    """Districts first (a row that may not go in claims no key or area), then overlaps, keys and ids."""
    found = []
    if options.districts is not None:
        found += reject_outside_districts(conn, layer, options.districts, options.key)
    if layer.overlap == "reject" and not layer.is_point:
        found += reject_overlaps(conn, layer, options.key)
    if options.key:
        found += reject_repeated_keys(conn, layer, options.key)
    if options.key == ID_KEY:
        found += reject_unknown_ids(conn, layer)
    if options.key:
        found += reject_stale_copies(conn, layer, options.key)
    if layer.overlap == "warn" and not layer.is_point:  # a note of the rows that would go in
        rows = overlapping_rows(conn, layer, options.key, ROWS_NOTED + 1)
        if rows:
            report.notes.append(rows_note(rows, "overlap other zones, which this layer allows"))
    if layer.is_point and not options.key:  # points never overlap: a file sent twice would double silently
        rows = rows_already_there(conn, layer, ROWS_NOTED + 1)
        by = ID_KEY if any(fold(c) == ID_KEY for c in report.unknown_columns) else "name"  # an export: its ids
        if rows:
            report.notes.append(rows_note(rows, "lie where a feature of the same name already is: to update those "
                                                f"instead of adding copies, import with --key {by}"))
    return found


PREVIEW_FEATURES = 500


def inspect_file(layer: Layer, path: Path, options: ImportOptions, workdir: Path) -> dict:
    """What an import would see: columns, suggested mapping, CRS, and a preview in EPSG:4326."""
    source = open_source(path, options, workdir)
    options.file_name = options.file_name or path.name
    hint = settle_encoding(source.path, options)
    info = file_info(source.path, options)
    choice, columns, mapping = plan(layer, info, options)
    choice.notes += hint
    preview = preview_collection(source.path, options, choice)
    suggest_by_values(layer, mapping, [feature["properties"] for feature in preview["features"]])
    return {
        "count": feature_count(info),
        "format": source.format, "layers": source.layers, "source_layer": options.source_layer,
        "columns": columns, "mapping": mapping.columns, "unknown": mapping.unknown,
        "missing_required": mapping.missing_required(layer),
        "crs": choice.label, "notes": source.notes + choice.notes,
        "preview": preview, "unmatched": preview_unmatched(layer, mapping, preview),
    }


def preview_unmatched(layer: Layer, mapping: Mapping, preview: dict) -> dict[str, list[dict]]:
    """Enum text of the previewed rows that no choice matches: the words to read as a value (ImportOptions.values)."""
    unmatched: dict[str, Unmatched] = {}
    for column, name in mapping.columns.items():
        f = layer.field(name)
        if f.kind == "enum":
            raw = [feature["properties"].get(column) for feature in preview["features"]]
            convert_column(f, raw, None, mapping.values.get(name), unmatched.setdefault(name, Unmatched()))
    return unmatched_json(unmatched)


def preview_collection(path: Path, options: ImportOptions, choice: CrsChoice) -> dict:
    """The first features with their raw properties, as GeoJSON in EPSG:4326."""
    features = []
    for geometry_column, batch in arrow_batches(path, replace(options, batch_size=PREVIEW_FEATURES)):
        records = batch.drop_columns([geometry_column]).to_pylist()
        shapes = read_shapes(batch.column(geometry_column).to_pylist(), options.file_name, 1)
        geometries = to_wgs84(shapes, choice.crs, choice.exchanged)
        for number, (record, geom) in enumerate(zip(records, geometries, strict=True), start=1):
            properties = {k: preview_value(v, options) for k, v in record.items()}
            geometry = shapely.geometry.mapping(geom) if geom is not None and not geom.is_empty else None
            features.append({"type": "Feature", "id": number, "geometry": geometry, "properties": properties})
        break
    return {"type": "FeatureCollection", "features": features}


def preview_value(value, options: ImportOptions):
    if isinstance(value, str) and decoded_here(options.encoding):
        return decoded(value, options.encoding)
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)
