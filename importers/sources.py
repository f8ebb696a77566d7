"""Checks and opens files uploaded for import, before GDAL reads a single feature.

Uploads come from strangers' machines and phones, so nothing is trusted: the
extension picks the one format we expect (never a guess), the first bytes
must agree with it, archives are inspected member by member before anything
is unpacked and then unpacked with a byte budget, and whatever GDAL says when
it cannot open a file is turned into a short message. Every failure is an
``ImportFileError`` with a stable ``code`` the web and CLI front ends can show.

No Flask and no database here: the result is a ``Source`` describing what to
hand to pyogrio (path, layers, open options) plus facts the importer needs
later (.prj and .cpg text, coordinate columns of tables, notes).
"""

from __future__ import annotations

import mmap
import re
import shutil
import stat
import tempfile
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import pyogrio
import pyogrio.errors

from importers.encodings import fix_text

# --- formats -----------------------------------------------------------------

GEOJSON, SHAPEFILE, GPKG, KML, CSV, XLSX = "GeoJSON", "ESRI Shapefile", "GPKG", "KML", "CSV", "XLSX"
CSV_NOT_UTF8 = "The CSV is not UTF-8 (Excel on a Vietnamese Windows saves Windows-1258): choose its encoding, or save it as UTF-8."
NO_PRJ = "No .prj: the coordinate system must be given (for example EPSG:9209 for VN-2000)."
NO_CPG = "No .cpg: confirm the text encoding (UTF-8, TCVN3, VNI, Windows-1258)."
ZIP, KMZ = "zip", "kmz"  # archives: unpacked, then one of the formats above

EXTENSIONS = {
    ".geojson": GEOJSON,
    ".json": GEOJSON,
    ".zip": ZIP,
    ".shp": SHAPEFILE,
    ".gpkg": GPKG,
    ".kml": KML,
    ".kmz": KMZ,
    ".csv": CSV,
    ".xlsx": XLSX,
}
ACCEPTED = ", ".join(EXTENSIONS)

# The GDAL drivers allowed to open each format. GeoJSON-like JSON dialects are
# accepted under .json/.geojson because ArcGIS and TopoJSON exports are real
# uploads; ``Source.format`` then names the driver GDAL actually used.
DRIVERS = {
    GEOJSON: ("GeoJSON", "GeoJSONSeq", "ESRIJSON", "TopoJSON"),
    SHAPEFILE: ("ESRI Shapefile",),
    GPKG: ("GPKG",),
    KML: ("LIBKML", "KML"),
    CSV: ("CSV",),
    XLSX: ("XLSX",),
}

SHAPEFILE_PARTS = (".shp", ".shx", ".dbf")
# Files that travel with data in archives and are not data themselves.
SIDECARS = {".prj", ".cpg", ".qpj", ".qmd", ".qml", ".sbn", ".sbx", ".xml", ".txt", ".pdf", ".md", ".html",
            ".htm", ".png", ".jpg", ".jpeg", ".gif", ".lyr", ".sld", ".aux", ".fix", ".atx", ".ain", ".aih"}
JUNK_NAMES = {".ds_store", "thumbs.db", "desktop.ini"}
ARCHIVES = {".zip", ".kmz"}

# Below this size a member cannot hurt even at an absurd ratio (the total
# budget still applies), and small shapefile parts full of blank DBF padding
# legitimately compress several hundred times.
RATIO_FLOOR = 2**20
CHUNK = 2**20
SNIFF = 64 * 2**10
ALLOWED_COMPRESSION = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}

# Coordinate column names, compared after ``_fold`` (no case, no diacritics,
# separators as "_"). Earlier names win when a table has several.
# Survey tables head projected coordinates "Tọa độ X" (the northing, in Vietnamese practice: such
# columns are read the other way round when only that puts them in the province, importers.crs).
X_NAMES = ("longitude", "lon", "lng", "long", "kinh_do", "kinhdo", "point_x", "x", "toa_do_x", "toado_x", "easting")
Y_NAMES = ("latitude", "lat", "vi_do", "vido", "point_y", "y", "toa_do_y", "toado_y", "northing")
WKT_NAMES = ("wkt", "geometry", "geom", "the_geom")

# First bytes of things people upload by mistake, to say what a file really is.
SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a zip archive"),
    (b"PK\x05\x06", "an empty zip archive"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Microsoft Office file (.xls/.doc)"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!", "a RAR archive"),
    (b"\x00\x00\x27\x0a", "a shapefile part (.shp/.shx)"),
)


class ImportFileError(ValueError):
    """A file that cannot be imported; ``message`` is meant for the user as is.

    Codes: UnsupportedFormat, FormatMismatch, EmptyFile, NotGeodata, MissingPart,
    UnsafePath, ZipBomb, TooLarge, BadArchive, LayerRequired, UnknownLayer.
    """

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


@dataclass
class Source:
    """An upload checked and ready for pyogrio.

    ``path`` is what to pass to pyogrio (a file, or a folder of shapefiles);
    ``format`` is the GDAL driver name that opened it; ``layers`` the layers a
    user may pick (tables without geometry are left out, see ``notes``).
    For CSV/XLSX, ``csv_geometry`` names the coordinate columns of the first
    layer (``{"x": ..., "y": ...}`` or ``{"wkt": ...}``) and
    ``layer_geometry`` those of every layer.
    """

    path: Path
    format: str
    layers: list[str]
    prj: str | None = None
    cpg: str | None = None
    notes: list[str] = field(default_factory=list)
    csv_geometry: dict[str, str] | None = None
    layer_geometry: dict[str, dict[str, str]] = field(default_factory=dict)
    header_rows: dict[str, int] = field(default_factory=dict)  # sheets whose header is below a title: its row, from 0


# --- entry points --------------------------------------------------------------


def prepare_source(
    path: Path,
    workdir: Path,
    *,
    max_unpacked: int = 500 * 2**20,
    max_ratio: int = 200,
    max_members: int = 10_000,
) -> Source:
    """Check ``path`` and, for archives, unpack it safely into ``workdir``.

    Raises ``ImportFileError`` for anything that is not a readable, supported
    geodata file. Nothing is ever written outside ``workdir``.
    """
    path = Path(path)
    limits = _Limits(max_unpacked, max_ratio, max_members)
    kind = _format_of(path)
    _check_not_empty(path, path.name)
    if kind in (ZIP, KMZ):
        workdir = Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        root = Path(tempfile.mkdtemp(prefix="unpacked-", dir=workdir))
        try:
            _unpack(path, root, limits)
            return _prepare_unpacked(root, kind, path.name)
        except BaseException:
            # A rejected archive leaves nothing behind, not even a partial unpack.
            shutil.rmtree(root, ignore_errors=True)
            raise
    if kind == XLSX:
        # An .xlsx is a zip that GDAL decompresses itself: same limits, no unpacking.
        _check_content(path, XLSX, path.name)
        _inspect_archive(path, limits, path.name)
    return _prepare_file(path, kind, path.name, Path(workdir))


UTF16_MARKS = (b"\xff\xfe", b"\xfe\xff")  # Excel's "Unicode text" is UTF-16, which GDAL's CSV reader is not


def copy_with_sidecars(path: Path, folder: Path) -> Path:
    """Where a converted copy of `path` goes in `folder`, under the same name (GDAL names the layer after
    it), with the files beside it (.prj, .csvt) copied there too."""
    folder.mkdir(parents=True, exist_ok=True)
    for sibling in path.parent.glob(f"{glob_escape(path.stem)}.*"):
        if sibling != path and sibling.is_file():
            shutil.copy(sibling, folder / sibling.name)
    return folder / path.name


def _utf8_copy_of_utf16(path: Path, workdir: Path, name: str) -> Path:
    """A UTF-16 CSV as UTF-8, with its sidecars, in a folder of its own in `workdir`."""
    workdir.mkdir(parents=True, exist_ok=True)
    target = copy_with_sidecars(path, Path(tempfile.mkdtemp(prefix="utf8-", dir=workdir)))
    try:
        with path.open(encoding="utf-16", newline="") as source, target.open("w", encoding="utf-8", newline="") as out:
            shutil.copyfileobj(source, out, CHUNK)
    except UnicodeError as exc:
        raise ImportFileError("FormatMismatch", f"{name} starts as UTF-16 text but is not: {_short(exc, path)}.") from exc
    return target


def open_layer(source: Source, layer: str | None) -> str:
    """The layer name to read, checked against ``source.layers``.

    ``None`` is allowed only when there is a single layer.
    """
    available = ", ".join(repr(name) for name in source.layers)
    if layer is None:
        if len(source.layers) == 1:
            return source.layers[0]
        raise ImportFileError("LayerRequired", f"The file has {len(source.layers)} layers; choose one of: {available}.")
    if layer not in source.layers:
        raise ImportFileError("UnknownLayer", f"There is no layer {layer!r} in the file; available: {available}.")
    return layer


def read_options(source: Source, layer: str | None = None) -> dict[str, str]:
    """Dataset open options for ``pyogrio.read_dataframe(source.path, layer=..., **options)``.

    CSV: GDAL builds the geometry from the detected columns and drops them
    from the attributes. XLSX: GDAL's XLSX driver has no geometry support, so
    the options only force a header row and typed columns; the frame comes
    back without geometry and the caller builds it with ``attach_geometry``
    from ``source.layer_geometry[layer]``. GeoJSON: lists read as text. Other formats need no options.
    """
    if source.format == CSV:
        columns = source.layer_geometry.get(layer or "", source.csv_geometry) or {}
        options = {"KEEP_GEOM_COLUMNS": "NO", "AUTODETECT_TYPE": "YES"}
        if "wkt" in columns:
            options["GEOM_POSSIBLE_NAMES"] = columns["wkt"]
        else:
            options["X_POSSIBLE_NAMES"] = columns["x"]
            options["Y_POSSIBLE_NAMES"] = columns["y"]
            # Without this GDAL would also turn a column named WKT into a geometry.
            options["GEOM_POSSIBLE_NAMES"] = ""
        return options
    if source.format == XLSX:
        return {"HEADERS": "FORCE", "FIELD_TYPES": "AUTO"}
    if source.format == GEOJSON:
        # A list value as its JSON text: GDAL's list types would drop the whole column from the file's columns.
        return {"ARRAY_AS_STRING": "YES"}
    return {}


def attach_geometry(frame, columns: dict[str, str], crs=None):
    """A GeoDataFrame from a table read without geometry (XLSX), using ``columns``.

    Coordinate columns are dropped, as GDAL's CSV driver does with
    KEEP_GEOM_COLUMNS=NO. Rows whose coordinates or WKT cannot be read get a
    null geometry, so the caller can report them by row number.
    """
    import geopandas
    import pandas
    import shapely

    if "wkt" in columns:
        text = frame[columns["wkt"]].astype("string").fillna("")
        geometry = shapely.from_wkt(text.to_numpy(dtype=object), on_invalid="ignore")
        used = [columns["wkt"]]
    else:
        x = pandas.to_numeric(_degrees(frame[columns["x"]]), errors="coerce")
        y = pandas.to_numeric(_degrees(frame[columns["y"]]), errors="coerce")
        geometry = shapely.points(x.to_numpy(dtype=float), y.to_numpy(dtype=float))
        geometry[(x.isna() | y.isna()).to_numpy()] = None
        used = [columns["x"], columns["y"]]
    return geopandas.GeoDataFrame(frame.drop(columns=used), geometry=geometry, crs=crs)


# 106°10'56.5"E, 20° 26′ 12″ N, -106°10.5', 106°12'36" Đ (Đông, Bắc, Tây; N is north as in English, the
# only hemisphere a Vietnamese latitude has), 106 10 56: degrees, minutes and seconds as surveys write them.
NUMBER = r"\d+(?:[.,]\d+)?"
DMS = re.compile(rf"""\s*(?P<sign>[-−]?)(?P<d>{NUMBER})\s*[°º˚]\s*(?:(?P<m>{NUMBER})\s*['′’]\s*)?"""
                 rf"""(?:(?P<s>{NUMBER})\s*(?:"|″|”|''|′′)\s*)?(?P<h>[NSEWnsewĐBTđbt]?)\s*""")
DMS_SPACED = re.compile(rf"\s*(?P<sign>[-−]?)(?P<d>\d+) (?P<m>\d+) (?P<s>{NUMBER})(?P<h>)\s*")
SOUTH_OR_WEST = ("S", "W", "T")


def _degrees(series):
    """Coordinates as numbers: Vietnamese spreadsheets often hold "105,83" as text (the comma a decimal
    point), or degrees, minutes and seconds; what is neither stays text, which reads as no number."""
    from pandas.api.types import is_numeric_dtype

    if is_numeric_dtype(series.dtype):
        return series
    text = series.astype("string").str.strip().str.replace(r"^(-?\d+),(\d+)$", r"\1.\2", regex=True)
    return text.map(_dms_value, na_action="ignore")


def _dms_value(text: str):
    match = DMS.fullmatch(text) or DMS_SPACED.fullmatch(text)
    if not match:
        return text
    sign, hemisphere = match["sign"], match["h"]
    degrees, minutes, seconds = (float((part or "0").replace(",", ".")) for part in match.group("d", "m", "s"))
    if minutes >= 60 or seconds >= 60:
        return text
    value = degrees + minutes / 60 + seconds / 3600
    return -value if sign or hemisphere.upper() in SOUTH_OR_WEST else value


# --- format and content checks ------------------------------------------------------


@dataclass(frozen=True)
class _Limits:
    max_unpacked: int
    max_ratio: int
    max_members: int


def _format_of(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in EXTENSIONS:
        return EXTENSIONS[suffix]
    if suffix in (".shx", ".dbf", ".prj", ".cpg"):
        raise ImportFileError(
            "MissingPart",
            f"{path.name} is only one part of a shapefile: upload a .zip with the .shp, .shx and .dbf "
            "(and .prj, .cpg when you have them).",
        )
    if suffix == ".xls":
        raise ImportFileError("UnsupportedFormat", f"{path.name}: old Excel .xls files are not read; save it as .xlsx.")
    if not suffix:
        raise ImportFileError("UnsupportedFormat", f"{path.name} has no file extension; accepted: {ACCEPTED}.")
    raise ImportFileError("UnsupportedFormat", f"{path.name} ({suffix}) is not a supported file; accepted: {ACCEPTED}.")


def _check_not_empty(path: Path, name: str) -> None:
    if path.stat().st_size == 0:
        raise ImportFileError("EmptyFile", f"{name} is empty.")


def _head(path: Path) -> bytes:
    with path.open("rb") as f:
        return f.read(SNIFF)


def _describe(head: bytes) -> str:
    """What a file looks like, for messages such as "x.gpkg is a PNG image"."""
    for magic, what in SIGNATURES:
        if head.startswith(magic):
            return what
    text = _text_start(head)
    if text.startswith("<"):
        lower = text[:1024].lower()
        return "an HTML page" if ("<html" in lower or "<!doctype html" in lower) else "an XML document"
    if text.startswith(("{", "[")):
        return "a JSON document"
    if b"\x00" in head:
        return "binary data"
    return "plain text"


def _text_start(head: bytes) -> str:
    """The start of a text file without BOM and leading whitespace."""
    for bom, codec in ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")):
        if head.startswith(bom):
            return head[len(bom):].decode(codec, errors="replace").lstrip()
    return head.decode("utf-8", errors="replace").lstrip()


def _mismatch(name: str, expected: str, head: bytes) -> ImportFileError:
    return ImportFileError("FormatMismatch", f"{name} is not {expected}: it looks like {_describe(head)}.")


def _check_content(path: Path, kind: str, name: str) -> None:
    """The first bytes must agree with the extension, so GDAL never guesses."""
    head = _head(path)
    text = _text_start(head)
    if kind in (GEOJSON, KML, CSV) and not text:
        raise ImportFileError("EmptyFile", f"{name} holds only blank space.")
    if kind == GPKG and not head.startswith(b"SQLite format 3\x00"):
        raise _mismatch(name, "a GeoPackage", head)
    if kind == SHAPEFILE and not head.startswith(b"\x00\x00\x27\x0a"):
        raise _mismatch(name, "a shapefile", head)
    if kind == XLSX and not head.startswith(b"PK\x03\x04"):
        raise _mismatch(name, "an Excel .xlsx workbook", head)
    if kind == GEOJSON and not text.startswith(("{", "\x1e")):
        raise _mismatch(name, "GeoJSON", head)
    if kind == GEOJSON and _has_nul_escape(path):
        raise ImportFileError("CutText", f"{name} holds NUL characters (\\u0000) in its text, which GDAL would cut "
                                         "the text off at: remove them, then upload it again.")
    if kind == KML and not (text.startswith("<") and "<kml" in text.lower()):
        raise _mismatch(name, "KML", head)
    if kind == CSV:
        _check_csv_text(head, name)


NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")  # JSON's NUL, after any escaped backslashes ("\\\\" is one)


def _has_nul_escape(path: Path) -> bool:
    if path.stat().st_size == 0:
        return False
    with path.open("rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as data:
        return NUL_ESCAPE.search(data) is not None


def _check_csv_text(head: bytes, name: str) -> None:
    if b"\x00" in head and not head.startswith(UTF16_MARKS):
        raise _mismatch(name, "a CSV text file", head)
    if _text_start(head).startswith("<") or any(head.startswith(magic) for magic, _ in SIGNATURES):
        raise _mismatch(name, "a CSV text file", head)


# --- archives ----------------------------------------------------------------------


def _open_zip(path: Path, name: str) -> zipfile.ZipFile:
    head = _head(path)
    if not head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        raise _mismatch(name, "a zip archive", head)
    try:
        return zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:  # Python's own words add nothing to it
        raise ImportFileError("BadArchive", f"{name} is a damaged zip archive.") from exc
    except (zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise ImportFileError("BadArchive", f"{name} is a damaged zip archive ({_short(exc, path)}).") from exc


def _inspect_archive(path: Path, limits: _Limits, name: str) -> list[tuple[zipfile.ZipInfo, PurePosixPath]]:
    """Every check that can be made from the central directory, before extracting a byte."""
    with _open_zip(path, name) as archive:
        infos = archive.infolist()
    if not infos:
        raise ImportFileError("EmptyFile", f"{name} is an empty archive.")
    if len(infos) > limits.max_members:
        raise ImportFileError("TooLarge", f"{name} holds {len(infos)} files; at most {limits.max_members} are accepted.")
    members, seen = [], set()
    for info in infos:
        relative = _safe_member_path(info.filename, name)
        _check_member(info, limits, name)
        if relative is None:  # a folder entry
            continue
        if relative in seen:
            raise ImportFileError("BadArchive", f"{name} holds {info.filename!r} twice.")
        seen.add(relative)
        members.append((info, relative))
    _check_layout(seen, name)
    _check_totals([info for info, _ in members], path, limits, name)
    return members


NAME_BYTES = 255  # the longest file name most file systems hold


def _check_layout(paths: set[PurePosixPath], name: str) -> None:
    """Paths no folder can hold: a name too long for a file system, or one both a file and a folder."""
    for relative in paths:
        if any(len(part.encode()) > NAME_BYTES for part in relative.parts):
            raise ImportFileError("BadArchive", f"{name} holds a file name longer than {NAME_BYTES} bytes; "
                                                f"rename it ({str(relative)[:60]}…).")
        clash = next((parent for parent in relative.parents if parent in paths), None)
        if clash is not None:
            raise ImportFileError("BadArchive", f"{name} holds {str(clash)!r} both as a file and as a folder.")


def _safe_member_path(member: str, name: str) -> PurePosixPath | None:
    """The member's path relative to the unpack folder, or UnsafePath if it could leave it."""
    clean = member.replace("\\", "/")  # Windows tools write backslashes; unzip tools honour them
    if clean.startswith("/") or re.match(r"^[A-Za-z]:", clean):
        raise ImportFileError("UnsafePath", f"{name} contains an absolute path ({member!r}); refused.")
    parts = [part for part in clean.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise ImportFileError("UnsafePath", f"{name} contains a path leading out of the archive ({member!r}); refused.")
    if any(ord(char) < 32 for char in clean):
        raise ImportFileError("UnsafePath", f"{name} contains a file name with control characters; refused.")
    return PurePosixPath(*parts) if parts and not clean.endswith("/") else None


def _check_member(info: zipfile.ZipInfo, limits: _Limits, name: str) -> None:
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise ImportFileError("UnsafePath", f"{name} contains a symbolic link ({info.filename!r}); refused.")
    if info.flag_bits & 0x1:
        raise ImportFileError("BadArchive", f"{name} is password-protected; upload it without a password.")
    if info.compress_type not in ALLOWED_COMPRESSION:
        raise ImportFileError("BadArchive", f"{name} uses an unsupported compression method for {info.filename!r}.")
    if info.file_size > RATIO_FLOOR and info.file_size > limits.max_ratio * max(info.compress_size, 1):
        raise ImportFileError(
            "ZipBomb",
            f"{name} looks like a zip bomb: {info.filename!r} would expand {info.file_size // max(info.compress_size, 1)}"
            f" times (at most {limits.max_ratio}).",
        )


def _check_totals(infos: list[zipfile.ZipInfo], path: Path, limits: _Limits, name: str) -> None:
    total = sum(info.file_size for info in infos)
    # Measured against the archive's real size, which also catches members
    # that overlap and reuse the same compressed bytes.
    packed = max(path.stat().st_size, 1)
    if total > RATIO_FLOOR and total > limits.max_ratio * packed:
        raise ImportFileError(
            "ZipBomb", f"{name} looks like a zip bomb: it would expand {total // packed} times (at most {limits.max_ratio})."
        )
    if total > limits.max_unpacked:
        raise ImportFileError(
            "TooLarge", f"{name} unpacks to {_mib(total)}; at most {_mib(limits.max_unpacked)} are accepted."
        )


def _unpack(path: Path, root: Path, limits: _Limits) -> None:
    name = path.name
    members = _inspect_archive(path, limits, name)
    budget = limits.max_unpacked
    with _open_zip(path, name) as archive:
        for info, relative in members:
            if _is_junk(relative):
                continue
            target = root.joinpath(*relative.parts)
            if not target.resolve().is_relative_to(root.resolve()):
                raise ImportFileError("UnsafePath", f"{name} contains a path leading out of the archive; refused.")
            target.parent.mkdir(parents=True, exist_ok=True)
            budget -= _extract_member(archive, info, target, budget, name)


def _extract_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, budget: int, name: str) -> int:
    """Copy one member, counting real bytes: declared sizes are written by the sender and can lie."""
    written = 0
    try:
        with archive.open(info) as source, target.open("xb") as out:
            while chunk := source.read(CHUNK):
                written += len(chunk)
                if written > info.file_size:
                    raise ImportFileError("ZipBomb", f"{name}: {info.filename!r} holds more than its declared size.")
                if written > budget:
                    raise ImportFileError("TooLarge", f"{name} unpacks to more than {_mib(budget)}.")
                out.write(chunk)
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError, ValueError) as exc:
        if isinstance(exc, ImportFileError):
            raise
        raise ImportFileError("BadArchive", f"{name}: {info.filename!r} is damaged ({_short(exc, target)}).") from exc
    return written


def _is_junk(relative: PurePosixPath) -> bool:
    """Finder and Explorer droppings that ride along in zips made on desktops."""
    first = relative.parts[0].lower()
    return first == "__macosx" or relative.name.lower() in JUNK_NAMES or relative.name.startswith("._")


def _mib(size: int) -> str:
    return f"{size / 2**20:.0f} MiB"


# --- what is inside an archive ---------------------------------------------------


def _prepare_unpacked(root: Path, kind: str, name: str) -> Source:
    files = sorted(p for p in root.rglob("*") if p.is_file())
    if kind == KMZ:
        return _prepare_kmz(root, files, name)
    shapefiles = _shapefile_sets(files, root, name)
    if shapefiles:
        return _prepare_shapefiles(shapefiles, root, files, name)
    data = [p for p in files if p.suffix.lower() not in SIDECARS]
    nested = [p for p in data if p.suffix.lower() in ARCHIVES]
    usable = [p for p in data if EXTENSIONS.get(p.suffix.lower()) in DRIVERS and p.suffix.lower() != ".shp"]
    if len(usable) == 1:
        source = _prepare_file(usable[0], EXTENSIONS[usable[0].suffix.lower()], _inner(name, usable[0], root), root)
        if usable[0].suffix.lower() == ".xlsx":
            source.notes.append("The workbook was taken from the zip archive as is.")
        return source
    if len(usable) > 1:
        raise ImportFileError(
            "UnsupportedFormat",
            f"{name} holds several data files ({', '.join(_rel(p, root) for p in usable[:20])}); upload one at a time.",
        )
    if nested:
        raise ImportFileError("UnsupportedFormat", f"{name} holds another archive ({_rel(nested[0], root)}); unzip it first.")
    if not files:
        raise ImportFileError("NotGeodata", f"{name} holds no shapefile or other supported data file.")
    found = ", ".join(_rel(p, root) for p in files[:20])
    raise ImportFileError("NotGeodata", f"{name} holds no shapefile or other supported data file (found: {found}).")


def _prepare_kmz(root: Path, files: list[Path], name: str) -> Source:
    kmls = [p for p in files if p.suffix.lower() == ".kml"]
    if not kmls:
        raise ImportFileError("MissingPart", f"{name} holds no .kml document.")
    # KMZ convention: the main document is doc.kml, else the first .kml at the top level.
    top = [p for p in kmls if p.parent == root]
    main = next((p for p in top if p.name.lower() == "doc.kml"), (top or kmls)[0])
    source = _prepare_file(main, KML, _inner(name, main, root), root)
    if len(kmls) > 1:
        source.notes.append(f"{name} holds {len(kmls)} KML documents; read {_rel(main, root)}.")
    return source


def _shapefile_sets(files: list[Path], root: Path, name: str) -> dict[Path, dict[str, Path]]:
    """Shapefile parts grouped by path without extension; MissingPart if one lacks .shp/.shx/.dbf."""
    sets: dict[Path, dict[str, Path]] = {}
    for path in files:
        suffix = path.suffix.lower()
        if suffix in SHAPEFILE_PARTS or suffix in (".prj", ".cpg"):
            sets.setdefault(path.with_suffix(""), {})[suffix] = path
    sets = {stem: parts for stem, parts in sets.items() if set(parts) & set(SHAPEFILE_PARTS)}
    # A lone .dbf is a table, not a broken shapefile, when real shapefiles sit beside it.
    if any(".shp" in parts for parts in sets.values()):
        sets = {stem: parts for stem, parts in sets.items() if ".shp" in parts}
    for stem, parts in sets.items():
        missing = [suffix for suffix in SHAPEFILE_PARTS if suffix not in parts]
        if missing:
            names = ", ".join(_rel(stem, root) + suffix for suffix in missing)
            raise ImportFileError("MissingPart", f"{name}: the shapefile {_rel(stem, root)} lacks {names}.")
    return sets


def _prepare_shapefiles(sets: dict[Path, dict[str, Path]], root: Path, files: list[Path], name: str) -> Source:
    for parts in sets.values():
        for suffix in (".shp", ".shx"):
            _check_content(parts[suffix], SHAPEFILE, _inner(name, parts[suffix], root))
    used = {path for parts in sets.values() for path in parts.values()}  # before _gather moves them
    folders = {stem.parent for stem in sets}
    if len(sets) == 1:
        target = next(iter(sets.values()))[".shp"]
    elif len(folders) == 1:
        target = folders.pop()  # GDAL opens a folder of shapefiles as one dataset, a layer per file
    else:
        target = _gather(sets, root, name)
    source = _open_with_gdal(target, SHAPEFILE, name)
    _describe_sidecars(source, sets)
    ignored = [_rel(p, root) for p in files if p not in used and p.suffix.lower() not in SIDECARS]
    if ignored:
        source.notes.append(f"Ignored other files in {name}: {', '.join(ignored[:20])}.")
    return source


def _gather(sets: dict[Path, dict[str, Path]], root: Path, name: str) -> Path:
    """Shapefiles spread over folders, moved into one folder so GDAL sees them as one dataset."""
    stems = [stem.name for stem in sets]
    clashes = sorted({stem for stem in stems if stems.count(stem) > 1})
    if clashes:
        raise ImportFileError(
            "UnsupportedFormat", f"{name} holds several shapefiles named {', '.join(clashes)} in different folders."
        )
    folder = Path(tempfile.mkdtemp(prefix="shapefiles-", dir=root))
    for parts in sets.values():
        for suffix, path in list(parts.items()):
            parts[suffix] = path.rename(folder / path.name)
    return folder


def _describe_sidecars(source: Source, sets: dict[Path, dict[str, Path]]) -> None:
    """Report .prj/.cpg text, which the importer needs for CRS and text encoding."""
    prjs = {stem.name: _read_text(parts[".prj"]) for stem, parts in sets.items() if ".prj" in parts}
    cpgs = {stem.name: _read_text(parts[".cpg"]) for stem, parts in sets.items() if ".cpg" in parts}
    source.prj = _common(prjs, len(sets), ".prj", source.notes)
    source.cpg = _common(cpgs, len(sets), ".cpg", source.notes)
    if not prjs:
        source.notes.append(NO_PRJ)
    if not cpgs:
        source.notes.append(NO_CPG)


def _common(texts: dict[str, str], count: int, extension: str, notes: list[str]) -> str | None:
    """The shared text when every layer has the same; otherwise None and a note naming the odd ones."""
    values = set(texts.values())
    if len(values) == 1 and len(texts) == count:
        return values.pop()
    if len(values) == 1:
        notes.append(f"Only {', '.join(sorted(texts))} have a {extension}.")
        return values.pop()
    if len(values) > 1:
        notes.append(f"The shapefiles have different {extension} files: {', '.join(sorted(texts))}.")
    return None


def _read_text(path: Path) -> str:
    return path.read_bytes()[:SNIFF].decode("utf-8", errors="replace").strip()


def _rel(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def _inner(name: str, path: Path, root: Path) -> str:
    """A member's name as the user knows it, never a server path."""
    return f"{name}/{_rel(path, root)}"


# --- plain files and GDAL -------------------------------------------------------


def _prepare_file(path: Path, kind: str, name: str, workdir: Path) -> Source:
    """A file of one format; `workdir` takes what reading it needs written (a UTF-16 CSV's UTF-8 copy)."""
    _check_not_empty(path, name)
    if kind == CSV and _head(path).startswith(UTF16_MARKS):
        path = _utf8_copy_of_utf16(path, workdir, name)
    if kind == SHAPEFILE:
        return _prepare_loose_shapefile(path, name)
    _check_content(path, kind, name)
    if kind in (CSV, XLSX):
        return _prepare_table(path, kind, name)
    return _open_with_gdal(path, kind, name)


def _prepare_loose_shapefile(path: Path, name: str) -> Source:
    """A .shp given on disk (CLI): its parts must sit beside it."""
    siblings = {p.suffix.lower(): p for p in path.parent.glob(f"{glob_escape(path.stem)}.*") if p.is_file()}
    missing = [path.stem + suffix for suffix in SHAPEFILE_PARTS if suffix not in siblings]
    if missing:
        raise ImportFileError(
            "MissingPart", f"{name} needs {', '.join(missing)} beside it: upload a .zip with the .shp, .shx and .dbf."
        )
    for suffix in (".shp", ".shx"):
        _check_content(siblings[suffix], SHAPEFILE, siblings[suffix].name)
    source = _open_with_gdal(path, SHAPEFILE, name)
    _describe_sidecars(source, {path.with_suffix(""): siblings})
    return source


def glob_escape(text: str) -> str:
    """Escape glob metacharacters, since file stems are user-chosen."""
    return re.sub(r"([*?\[])", r"[\1]", text)


def _open_with_gdal(path: Path, kind: str, name: str, options: dict | None = None, spatial: bool = True) -> Source:
    """Open with GDAL and insist the driver is the one the extension promised."""
    options = options or {}
    try:
        listed = pyogrio.list_layers(path)
        driver = pyogrio.read_info(path, layer=0, **options)["driver"] if len(listed) else None
    except pyogrio.errors.GeometryError as exc:  # a layer declared "any geometry, with heights or measures"
        raise ImportFileError(
            "NotGeodata",
            f"{name} has a layer declared as any geometry with heights or measures, which cannot be read ({_short(exc, path)}): "
            "save it with a plain type (Point, Polygon, MultiPolygon...), e.g. with ogr2ogr -nlt PROMOTE_TO_MULTI -dim XY",
        ) from exc
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, pyogrio.errors.FieldError,
            pyogrio.errors.CRSError, RuntimeError, OSError, ValueError) as exc:
        raise ImportFileError("NotGeodata", f"{name} could not be read as {kind}: {_short(exc, path)}") from exc
    if not len(listed):
        raise ImportFileError("NotGeodata", f"{name} holds no layers.")
    if driver not in DRIVERS[kind]:
        raise ImportFileError("FormatMismatch", f"{name} is not {kind}: GDAL reads it as {driver}.")
    source = Source(path=path, format=driver, layers=[str(layer) for layer, _ in listed])
    if spatial:
        _keep_spatial(source, listed, name)
    return source


def _keep_spatial(source: Source, listed, name: str) -> None:
    tables = [str(layer) for layer, geometry in listed if geometry is None]
    source.layers = [str(layer) for layer, geometry in listed if geometry is not None]
    if not source.layers:
        raise ImportFileError("NotGeodata", f"{name} holds only tables without geometry ({', '.join(tables[:20])}).")
    if tables:
        source.notes.append(f"Skipped tables without geometry: {', '.join(tables[:20])}.")


def _short(exc: BaseException, path: Path) -> str:
    """GDAL's reason in one line, without server paths."""
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    text = text.replace(str(path), path.name)
    text = re.sub(r"/(?:[^/\s'\"]+/)+", "", text).strip()  # folders of any other absolute path
    return text[:200] + ("…" if len(text) > 200 else "")


# --- tables: CSV and XLSX -------------------------------------------------------------


def _prepare_table(path: Path, kind: str, name: str) -> Source:
    # A CSV from Excel on a Vietnamese Windows is in a legacy encoding, chosen by the user only later:
    # its header is read byte for byte and decoded in each likely one until coordinate columns appear.
    legacy = kind == CSV and not _is_utf8(path)
    options = read_options(Source(path, kind, [])) if kind == XLSX else {"encoding": "latin1"} if legacy else {}
    source = _open_with_gdal(path, kind, name, options, spatial=False)
    found: dict[str, list[str]] = {}
    for layer in source.layers:
        columns = _fields(path, layer, options, name)
        columns, detected = _legacy_header(columns) if legacy else (columns, detect_geometry_columns(columns))
        below = _header_below(path, layer) if kind == XLSX and not detected else None
        if below:
            source.header_rows[layer], columns, detected = below
            source.notes.append(f"Sheet {layer}: its header is row {below[0] + 1}; the rows above it were left out.")
        found[layer] = columns
        if detected:
            source.layer_geometry[layer] = detected
    if not source.layer_geometry:
        # "-" for a sheet without columns: a word here would stay untranslated inside the listing.
        listing = "; ".join(f"{layer}: {', '.join(cols) or '-'}" for layer, cols in found.items())
        raise ImportFileError(
            "NotGeodata",
            f"{name} has no longitude/latitude or WKT column (columns found — {listing}). "
            "Name them lon/lat (kinh_do/vi_do) or wkt.",
        )
    skipped = [layer for layer in source.layers if layer not in source.layer_geometry]
    if skipped:
        source.notes.append(f"Skipped sheets without coordinate columns: {', '.join(skipped)}.")
    source.layers = [layer for layer in source.layers if layer in source.layer_geometry]
    source.csv_geometry = source.layer_geometry[source.layers[0]]
    if kind == CSV and not _is_utf8(path):
        source.notes.append(CSV_NOT_UTF8)
    return source


HEADER_SEARCH_ROWS = 20  # a sheet's title and notes above its header take a few rows at most


def _header_below(path: Path, layer: str) -> tuple[int, list[str], dict[str, str]] | None:
    """A sheet whose first row is a title (as most official tables have): the row below that names
    coordinate columns, as (its index from 0, its names, the coordinate columns)."""
    try:
        top = pyogrio.read_dataframe(path, layer=layer, read_geometry=False, max_features=HEADER_SEARCH_ROWS,
                                     HEADERS="DISABLE", FIELD_TYPES="STRING")
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, RuntimeError, ValueError):
        return None
    for index in range(len(top)):
        names = header_names(top.iloc[index].tolist())
        detected = detect_geometry_columns(names)
        if detected:
            return index, names, detected
    return None


def header_names(values: list) -> list[str]:
    """A sheet's header row as column names; an empty cell named as GDAL would name it."""
    return [str(v).strip() if isinstance(v, str) and v.strip() else f"Field{i + 1}" for i, v in enumerate(values)]


def sheet_header(path: Path, layer: str | None, header_row: int) -> list[str]:
    """The column names a sheet gives in its row `header_row` (from 0), read up to it only."""
    top = pyogrio.read_dataframe(path, layer=layer, read_geometry=False, max_features=header_row + 1,
                                 HEADERS="DISABLE", FIELD_TYPES="STRING")
    return header_names(top.iloc[header_row].tolist())


def read_sheet(path: Path, layer: str | None, header_row: int | None, **options):
    """A sheet's rows below its header: the first row, or `header_row` (from 0) under a title."""
    if header_row is None:
        return pyogrio.read_dataframe(path, layer=layer, read_geometry=False, **options)
    frame = pyogrio.read_dataframe(path, layer=layer, read_geometry=False, HEADERS="DISABLE", FIELD_TYPES="AUTO")
    frame.columns = header_names(frame.iloc[header_row].tolist())
    return frame.iloc[header_row + 1:].reset_index(drop=True)


def _fields(path: Path, layer: str, options: dict, name: str) -> list[str]:
    try:
        return [str(column) for column in pyogrio.read_info(path, layer=layer, **options)["fields"]]
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, RuntimeError, ValueError) as exc:
        raise ImportFileError("NotGeodata", f"{name} could not be read: {_short(exc, path)}") from exc


HEADER_ENCODINGS = ("cp1258", "tcvn3", "vni")


def _legacy_header(raw: list[str]) -> tuple[list[str], dict[str, str] | None]:
    """Column names read byte for byte, as the first likely encoding that shows coordinate columns
    decodes them, and those columns; the names as read (latin-1) and None if none does."""
    for encoding in HEADER_ENCODINGS:
        try:
            columns = [fix_text(column, encoding) for column in raw]
        except (UnicodeDecodeError, ValueError):
            continue
        detected = detect_geometry_columns(columns)
        if detected:
            return columns, detected
    return raw, None


def detect_geometry_columns(columns: list[str]) -> dict[str, str] | None:
    """``{"wkt": col}`` or ``{"x": col, "y": col}`` from column names, else None.

    A WKT column wins over coordinates because it can hold lines and polygons.
    """
    folded = {}
    for column in columns:
        folded.setdefault(_fold(column), column)
    wkt = next((folded[n] for n in WKT_NAMES if n in folded), None)
    if wkt:
        return {"wkt": wkt}
    for column in columns:  # "Kinh độ (E)", "Longitude [WGS84]", "X (m)": a unit or a system after the name
        folded.setdefault(re.sub(r"_?[(\[][^()\[\]]*[)\]]$", "", _fold(column)), column)
    x = next((folded[n] for n in X_NAMES if n in folded), None)
    y = next((folded[n] for n in Y_NAMES if n in folded), None)
    return {"x": x, "y": y} if x and y else None


def _fold(name: str) -> str:
    """Lower case, no Vietnamese diacritics, runs of spaces/hyphens/dots as "_"."""
    text = unicodedata.normalize("NFD", name.replace("đ", "d").replace("Đ", "D"))
    text = "".join(char for char in text if not unicodedata.combining(char)).lower().strip()
    return re.sub(r"[\s\-.]+", "_", text)


def _is_utf8(path: Path) -> bool:
    head = _head(path)
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut by the sniff window is not an error.
        return exc.start >= len(head) - 3
    return True
