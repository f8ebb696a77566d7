"""The importer's report in the reader's language.

The importer and the checks below it write English sentences: they run
from the command line too, and know nothing of requests. The import page
shows them to officers in the language of the request: each sentence shape
the importer writes is listed here once, matched, and its translation from
the catalogue filled with the same values. A sentence not listed stays as
it was written.
"""

from __future__ import annotations

import re
from functools import cache

from flask_babel import gettext

from app.pages import current_lang
from layers.base import Layer


def N_(message: str) -> str:
    """Marks a message for the catalogue; translated when shown."""
    return message


# Written by gis.sql.geometry_verdict, layers.imports, layers.validate and importers.run.
SHAPES = (
    N_("is empty"),
    N_("is missing: no coordinates, or ones that are no numbers"),
    N_("type %(type)s not accepted here; expected %(expected)s"),
    N_("has %(count)s vertices; at most %(most)s"),
    N_("invalid: %(reason)s"),
    N_("longitude and latitude look swapped: longitude comes first"),
    N_("coordinates out of range: longitude first, then latitude, in degrees (EPSG:4326)"),
    N_("lies outside the working area of the province"),
    N_("overlaps feature(s) %(ids)s"),
    N_("overlaps row %(row)s of the file"),
    N_("key %(key)s repeats row %(row)s"),
    N_("key %(key)s matches %(count)s features; it must name one"),
    N_("key %(key)s names a feature outside the districts you may edit"),
    N_("%(key)s %(value)s: the feature was changed since the file was made (version %(file)s in the file, %(now)s now)"),
    N_("unknown key field %(key)s: a field of %(layer)s the file fills, or id"),
    N_("no row changed anything: nothing was written"),
    N_("%(count)s text value(s) cut at 254 bytes by the shapefile were kept whole, as stored"),
    N_(
        "id %(id)s: no feature of %(layer)s has this id (deleted since the file was made?); leave it empty to add the row "
        "as a new feature"
    ),
    N_("the file's layer is %(source)s, another layer of this map: its ids name features of %(source2)s, not of %(layer)s"),
    N_("--key id needs the file's column of feature ids, as this app's exports have; name it with --map COLUMN=id"),
    N_("outside the districts you may edit"),
    N_("outside the districts you may edit (%(district)s)"),
    N_("no %(key)s: a point is no shape to add"),
    N_("%(key)s %(value)s: no feature of %(layer)s has it, and a point is no shape to add"),
    N_("%(key)s %(value)s: its point lies outside that feature (a row of another file?)"),
    N_("must be text"),
    N_("must not contain NUL characters"),
    N_("is not %(encoding)s text"),
    N_("the text looks like %(name)s, a Vietnamese encoding older than Unicode: choose it (--encoding %(encoding)s)"),
    N_("the .cpg names %(encoding)s, but the text is UTF-8: read as UTF-8"),
    N_("the .cpg names %(encoding)s, which no .dbf is written in: choose the text's encoding"),
    N_("must not contain control characters"),
    N_("at most %(count)s characters"),
    N_("unknown value %(value)s; expected one of %(choices)s"),
    N_("unknown value %(value)s"),
    N_("must be an http(s) address"),
    N_("must be a whole number"),
    N_("must be a whole number between -2147483648 and 2147483647"),
    N_("%(value)s has a dot between thousands, so it reads as a thousand times more or less: write it without"),
    N_("must be a number"),
    N_("%(reason)s (the file holds %(value)s)"),
    N_("is a number too large to be read exactly: write it as text (in quotes)"),
    N_("must be a date (YYYY-MM-DD)"),
    N_("must be true or false"),
    N_("is required"),
    # Notes of a run (importers.run, importers.sources, importers.crs).
    N_("%(count)s row(s) overlap other zones, which this layer allows: rows %(rows)s"),
    N_("more than %(count)s rows overlap other zones, which this layer allows; the first: rows %(rows)s"),
    N_(
        "%(count)s row(s) lie in no district of the province (at sea, or beyond its border): they get no "
        "district or commune: rows %(rows)s"
    ),
    N_(
        "more than %(count)s rows lie in no district of the province (at sea, or beyond its border): they get no "
        "district or commune; the first: rows %(rows)s"
    ),
    N_(
        "%(count)s row(s) lie where a feature of the same name already is: to update those instead of adding copies, "
        "import with --key %(key)s: rows %(rows)s"
    ),
    N_(
        "more than %(count)s rows lie where a feature of the same name already is: to update those instead of adding "
        "copies, import with --key %(key)s; the first: rows %(rows)s"
    ),
    N_("%(count)s row(s) have no %(key)s: each is added as a new feature: rows %(rows)s"),
    N_("more than %(count)s rows have no %(key)s: each is added as a new feature; the first: rows %(rows)s"),
    N_(
        "the file gives a point for each area (an export with longitude and latitude): the features its rows name keep "
        "their shapes and take its other values; a row naming none has no shape to add"
    ),
    N_("rows are counted from the first under the header: row 1 is the spreadsheet's row %(row)s"),
    N_("%(count)s invalid shape(s) repaired with ST_MakeValid"),
    N_("a load this large goes in faster without the layer's indexes: they were built again after it"),
    N_("coordinate system given: %(crs)s"),
    N_(
        "X and Y were read the other way round, as Vietnamese survey tables write them (X the northing): only so do "
        "the shapes lie in the province"
    ),
    N_("the file names no coordinate system: assuming WGS 84 longitude/latitude"),
    N_("the file's VN-2000 projection has no datum shift: read as %(code)s (%(name)s)"),
    N_("the file's VN-2000 definition has no EPSG match: its datum shift may be missing"),
    N_("No .prj: the coordinate system must be given (for example EPSG:9209 for VN-2000)."),
    N_("No .cpg: confirm the text encoding (UTF-8, TCVN3, VNI, Windows-1258)."),
    N_("The CSV is not UTF-8 (Excel on a Vietnamese Windows saves Windows-1258): choose its encoding, or save it as UTF-8."),
    N_("Skipped tables without geometry: %(names)s."),
    N_("Skipped sheets without coordinate columns: %(names)s."),
    N_("Sheet %(name)s: its header is row %(row)s; the rows above it were left out."),
    N_("Ignored other files in %(name)s: %(names)s."),
    N_("The workbook was taken from the zip archive as is."),
    N_("%(name)s holds %(count)s KML documents; read %(main)s."),
    N_("Only %(names)s have a %(extension)s."),
    N_("The shapefiles have different %(extension)s files: %(names)s."),
    # Why a whole run stopped (importers.run, importers.crs, importers.mapping, app.imports).
    N_("required field(s) not found in the file: %(fields)s; use --map COLUMN=FIELD"),
    N_("the key field %(key)s is not mapped from any column"),
    N_("--map %(column)s=id names the column of feature ids, which only --key id reads"),
    N_("--map names column %(column)s, which the file does not have (%(columns)s)"),
    N_("--map names field %(field)s, which %(layer)s does not have or computes itself"),
    N_("--value names field %(field)s, which is not a field of %(layer)s with a list of values"),
    N_("--set names field %(field)s, which %(layer)s does not have or computes itself"),
    N_("--set gives %(field)s a value, which a column of the file fills too: choose one"),
    N_("--set %(field)s=%(text)s: %(reason)s"),
    N_("--value gives %(value)s for %(text)s, which is not a value of %(field)s (%(choices)s)"),
    N_("--value gives %(field)s two values for %(text)s written alike: %(first)s and %(second)s"),
    N_("cannot read row %(row)s of %(name)s: %(detail)s"),
    N_("cannot read %(name)s: %(detail)s"),
    N_("%(name)s holds no features"),
    N_("%(name)s holds text that is not UTF-8 (rows %(first)s to %(last)s): choose its encoding"),
    N_("%(name)s holds text that is not UTF-8: choose its encoding"),
    N_("unknown text encoding %(encoding)s: for example utf-8, cp1258, tcvn3 or vni"),
    N_("an encoding can be chosen only for shapefiles and CSV files; %(format)s files hold UTF-8 text"),
    N_("unknown coordinate system %(crs)s: %(detail)s"),
    N_("no such code in the EPSG register"),
    N_("%(crs)s is not a coordinate system of longitude/latitude or of a map projection"),
    N_(
        "the file's projection is that of %(code)s (%(name)s) but on the datum %(datum)s, as files read when their "
        "VN-2000 datum was left out: give --crs %(code2)s if the data are in VN-2000, or --crs '%(proj)s' to read them "
        "as the file says (the two lie about 200 m apart)"
    ),
    N_("%(crs)s cannot be converted to WGS 84: %(detail)s"),
    N_(
        "row %(row)s of %(name)s holds a curved shape (arcs), which cannot be read: convert the curves to straight "
        "segments first (in QGIS, or with ogr2ogr -nlt CONVERT_TO_LINEAR)"
    ),
    N_("the file has more than one column named %(column)s: rename them so that each name is used once"),
    N_("The placemarks' attributes (ExtendedData) could not be matched to them: only name and description are read."),
    N_("--map maps columns %(first)s and %(second)s to the same field %(field)s: choose one"),
    N_(
        "the coordinates look like metres, not degrees: name the file's coordinate system, "
        "e.g. --crs EPSG:9209 (VN-2000 / TM-3 105-30, used in Nam Định)"
    ),
    N_("The import failed on the server; nothing was written."),
    N_("The import cannot be undone: %(reason)s."),
    N_("it has been undone already"),
    N_("%(count)s of its features lie outside the districts you may edit"),
    N_("restoring would make features overlap: %(pairs)s"),
    N_("The import was interrupted (the server restarted); nothing was written. Run it again."),
    N_("The undo failed on the server; nothing was changed."),
    N_("The undo was interrupted (the server restarted); nothing was changed. Run it again."),
    N_("No such import of yours."),
    N_("its layer %(layer)s is no longer editable"),
    # What is wrong with an uploaded file (importers.sources.ImportFileError).
    # A shape must come before any other that would also match its sentences:
    # "it would expand" before "%(member)s would expand".
    N_(
        "%(name)s has a layer declared as any geometry with heights or measures, which cannot be read (%(detail)s): "
        "save it with a plain type (Point, Polygon, MultiPolygon...), e.g. with ogr2ogr -nlt PROMOTE_TO_MULTI -dim XY"
    ),
    N_("The file has %(count)s layers; choose one of: %(names)s."),
    N_("There is no layer %(layer)s in the file; available: %(names)s."),
    N_(
        "%(name)s is only one part of a shapefile: upload a .zip with the .shp, .shx and .dbf "
        "(and .prj, .cpg when you have them)."
    ),
    N_("%(name)s needs %(parts)s beside it: upload a .zip with the .shp, .shx and .dbf."),
    N_("%(name)s: old Excel .xls files are not read; save it as .xlsx."),
    N_("%(name)s has no file extension; accepted: %(accepted)s."),
    N_("%(name)s (%(extension)s) is not a supported file; accepted: %(accepted)s."),
    N_("%(name)s is empty."),
    N_("%(name)s holds only blank space."),
    N_("%(name)s is not %(expected_kind)s: it looks like %(actual_kind)s."),
    N_("%(name)s is not %(kind)s: GDAL reads it as %(driver)s."),
    N_("%(name)s starts as UTF-16 text but is not: %(detail)s."),
    N_("%(name)s is a damaged zip archive (%(detail)s)."),
    N_("%(name)s is a damaged zip archive."),
    N_("%(name)s is an empty archive."),
    N_("%(name)s holds %(count)s files; at most %(most)s are accepted."),
    N_("%(name)s holds %(member)s twice."),
    N_(
        "%(name)s holds NUL characters (\\u0000) in its text, which GDAL would cut the text off at: remove them, "
        "then upload it again."
    ),
    N_("%(name)s holds %(member)s both as a file and as a folder."),
    N_("%(name)s holds a file name longer than %(most)s bytes; rename it (%(member)s…)."),
    N_("%(name)s contains an absolute path (%(member)s); refused."),
    N_("%(name)s contains a path leading out of the archive (%(member)s); refused."),
    N_("%(name)s contains a path leading out of the archive; refused."),
    N_("%(name)s contains a file name with control characters; refused."),
    N_("%(name)s contains a symbolic link (%(member)s); refused."),
    N_("%(name)s is password-protected; upload it without a password."),
    N_("%(name)s uses an unsupported compression method for %(member)s."),
    N_("%(name)s looks like a zip bomb: it would expand %(ratio)s times (at most %(most)s)."),
    N_("%(name)s looks like a zip bomb: %(member)s would expand %(ratio)s times (at most %(most)s)."),
    N_("%(name)s: %(member)s holds more than its declared size."),
    N_("%(name)s unpacks to %(size)s; at most %(most)s are accepted."),
    N_("%(name)s unpacks to more than %(size)s."),
    N_("%(name)s: %(member)s is damaged (%(detail)s)."),
    N_("%(name)s holds several data files (%(names)s); upload one at a time."),
    N_("%(name)s holds another archive (%(member)s); unzip it first."),
    N_("%(name)s holds no shapefile or other supported data file (found: %(found)s)."),
    N_("%(name)s holds no shapefile or other supported data file."),
    N_("%(name)s holds no .kml document."),
    N_("%(name)s: the shapefile %(stem)s lacks %(parts)s."),
    N_("%(name)s holds several shapefiles named %(names)s in different folders."),
    N_("%(name)s could not be read as %(kind)s: %(detail)s"),
    N_("%(name)s could not be read: %(detail)s"),
    N_("%(name)s holds no layers."),
    N_("%(name)s holds only tables without geometry (%(names)s)."),
    N_(
        "%(name)s has no longitude/latitude or WKT column (columns found — %(columns)s). "
        "Name them lon/lat (kinh_do/vi_do) or wkt."
    ),
)
# PostGIS's reasons for an invalid shape (ST_IsValidDetail), after "invalid: ".
POSTGIS_REASONS = (
    N_("Self-intersection"),
    N_("Ring Self-intersection"),
    N_("Too few points in geometry component"),
    N_("Hole lies outside shell"),
    N_("Interior is disconnected"),
    N_("Nested shells"),
    N_("Nested holes"),
    N_("Duplicate Rings"),
    N_("Invalid Coordinate"),
)
# Kinds of file in "%(name)s is not %(expected_kind)s: it looks like %(actual_kind)s."
# (importers.sources._check_content and its SIGNATURES).
FILE_KINDS = (
    N_("a GeoPackage"),
    N_("a shapefile"),
    N_("an Excel .xlsx workbook"),
    N_("GeoJSON"),
    N_("KML"),
    N_("a CSV text file"),
    N_("a zip archive"),
    N_("an empty zip archive"),
    N_("a PNG image"),
    N_("a JPEG image"),
    N_("a GIF image"),
    N_("a PDF document"),
    N_("an SQLite database"),
    N_("an old Microsoft Office file (.xls/.doc)"),
    N_("a gzip archive"),
    N_("a 7-Zip archive"),
    N_("a RAR archive"),
    N_("a shapefile part (.shp/.shx)"),
    N_("an HTML page"),
    N_("an XML document"),
    N_("a JSON document"),
    N_("binary data"),
    N_("plain text"),
)
# Placeholders whose values are themselves listed phrases, translated in turn.
PHRASE_VALUES = {"reason", "expected_kind", "actual_kind", "detail"}
# Placeholders holding a list "A or B" (geometry types, layers.edit.geometry_rules): only the word is translated.
ALTERNATIVES = {"expected"}
OR = N_("or")
# What is wrong with an uploaded file, by importers.sources.ImportFileError's code:
# said in the reader's language before a detailed sentence not listed above
# (yet), which then stays in English.
FILE_ERRORS = {
    "UnsupportedFormat": N_("This kind of file cannot be imported."),
    "FormatMismatch": N_("The file is not what its name says."),
    "EmptyFile": N_("The file is empty."),
    "NotGeodata": N_("The archive holds no map data the importer can read."),
    "MissingPart": N_("A part of the shapefile is missing: upload a .zip with its .shp, .shx and .dbf."),
    "UnsafePath": N_("The archive was refused: it holds paths that are not safe to unpack."),
    "ZipBomb": N_("The archive was refused: it would unpack to far more than it weighs (a zip bomb)."),
    "TooLarge": N_("The file is too large once unpacked."),
    "BadArchive": N_("The archive is damaged or cannot be opened."),
    "CutText": N_("The file holds characters that would cut its text off."),
    "LayerRequired": N_("The file holds several layers: choose one."),
    "UnknownLayer": N_("The file has no layer of that name."),
}
# Several problems of one row are joined by "; ", each naming its field first.
FIELD_PROBLEM = re.compile(r"([a-z_]+): (.*)", re.S)
NEXT_PROBLEM = re.compile(r"; (?=[a-z_]+: )")


@cache
def shape_patterns() -> tuple[tuple[re.Pattern, str], ...]:
    """Each shape as a pattern matching the English sentence, its placeholders captured."""
    out = []
    for shape in SHAPES + POSTGIS_REASONS + FILE_KINDS:
        pieces = re.split(r"%\((\w+)\)s", shape)
        regex = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>.+?)" for i, p in enumerate(pieces))
        out.append((re.compile(regex + r"\Z", re.S), shape))
    return tuple(out)


# Longer sentences stay as written: a shape's pattern can take time growing
# steeply with the length when it nearly fits, and a file's own text (its
# columns, its members' names) can make a sentence as long as it likes.
LONGEST_TRANSLATED = 1000


def match_shape(text: str) -> tuple[str, dict[str, str]] | None:
    """The first listed shape the sentence fits, with the values it was filled with."""
    if len(text) > LONGEST_TRANSLATED:
        return None
    for pattern, shape in shape_patterns():
        match = pattern.match(text)
        if match:
            return shape, match.groupdict()
    return None


def translate_sentence(text: str) -> str:
    found = match_shape(text)
    if found is None:
        # Reasons of one row joined (importers.run.one_entry_a_row), when the second names no field.
        pieces = text.split("; ")
        if len(pieces) > 1 and all(match_shape(piece) for piece in pieces):
            return "; ".join(map(translate_sentence, pieces))
        return text
    shape, values = found
    return gettext(shape, **{k: translate_value(k, v) for k, v in values.items()})


def translate_value(key: str, value: str) -> str:
    if key in PHRASE_VALUES:
        return translate_sentence(value)
    if key in ALTERNATIVES:
        return f" {gettext(OR)} ".join(value.split(" or "))
    return value


def translate_problems(text: str, layer: Layer | None = None) -> str:
    """`field: problem; field: problem` with each problem in the reader's language.

    With the layer, each field is named as the mapping table names it, "label (name)".
    """
    parts = []
    for part in NEXT_PROBLEM.split(text):
        match = FIELD_PROBLEM.match(part)
        parts.append(f"{field_name(match[1], layer)}: {translate_sentence(match[2])}" if match else translate_sentence(part))
    return "; ".join(parts)


def field_name(name: str, layer: Layer | None) -> str:
    if layer is None:
        return name
    if name == "geometry":
        return gettext("Shape")
    found = layer.field(name)
    return f"{found.label(current_lang())} ({name})" if found else name


def localize_report(report: dict, layer: Layer | None = None) -> dict:
    """A run's report (app.imports.report_json) with its reasons and notes translated, fields named by `layer`."""
    out = dict(report)
    out["rejected"] = [{**r, "reason": translate_problems(r["reason"], layer)} for r in report.get("rejected") or []]
    out["notes"] = [translate_sentence(n) for n in report.get("notes") or []]
    return out


def localize_file_error(code: str, message: str) -> str:
    """The importer's sentence about a file in the reader's language.

    A listed sentence says it all once translated. One not listed (or not
    translated yet) is led by what its code means, the English kept after it.
    """
    translated = translate_sentence(message)
    if translated != message:
        return translated
    lead = FILE_ERRORS.get(code)
    if lead is None:
        return message
    said = gettext(lead)
    return message if said == lead else f"{said} ({message})"
