"""What the import page says about a refused file, wholly in the reader's language.

importers.sources writes English sentences; app.messages lists each of their
shapes. The first tests read sources.py itself, so a sentence added or reworded
there fails here until its shape (and translation) follows; the others post
real bad files to the real upload endpoint.
"""

from __future__ import annotations

import ast
import inspect
import io
import re
import zipfile

import pytest
from flask_babel import gettext

import importers.sources as sources
from app.messages import (
    FILE_ERRORS,
    FILE_KINDS,
    LONGEST_TRANSLATED,
    PHRASE_VALUES,
    localize_file_error,
    match_shape,
    translate_sentence,
)
from tests.conftest import signed_in
from tests.importing import upload

# Names kept as they are in Vietnamese too.
TECHNICAL_WORDS = {"zip", "shapefile", "geopackage", "png", "shp", "shx", "dbf", "gdal", "kml", "wkt", "xlsx"}


# --- every sentence sources.py can write has a listed shape ------------------------------


def source_tree() -> ast.Module:
    return ast.parse(inspect.getsource(sources))


def called(node: ast.AST, name: str) -> bool:
    """A call of `name(...)` or of `something.name(...)`."""
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    return (isinstance(func, ast.Name) and func.id == name) or (isinstance(func, ast.Attribute) and func.attr == name)


def sample_of(text: ast.expr) -> tuple[str, list[str]]:
    """The sentence an f-string writes, each {value} replaced by a distinct made-up value, and those values."""
    if isinstance(text, ast.Constant):
        return text.value, []
    if isinstance(text, ast.Name):  # a sentence the module names once (importers.run compares with it)
        return getattr(sources, text.id), []
    assert isinstance(text, ast.JoinedStr), ast.dump(text)
    out, values = [], []
    for part in text.values:
        if isinstance(part, ast.Constant):
            out.append(part.value)
        else:
            values.append(f"<value-{len(values)}>")
            out.append(values[-1])
    return "".join(out), values


def written_sentences() -> list[tuple[int, str, list[str]]]:
    """(line, sample sentence, its values) for each ImportFileError message and each note sources.py writes."""
    found = []
    for node in ast.walk(source_tree()):
        if called(node, "ImportFileError") and len(node.args) == 2:
            found.append((node.lineno, *sample_of(node.args[1])))
        elif called(node, "append") and ast.unparse(node.func).endswith("notes.append"):
            found.append((node.lineno, *sample_of(node.args[0])))
    return found


SENTENCES = written_sentences()


def test_the_source_is_read_whole():
    # 40 ImportFileError messages and 7 notes today: a collector finding nothing would prove nothing.
    assert len(SENTENCES) >= 45


@pytest.mark.parametrize(("line", "english", "values"), SENTENCES, ids=[f"line{line}" for line, _, _ in SENTENCES])
def test_every_sentence_of_sources_has_its_shape(app, line, english, values):
    found = match_shape(english)
    assert found, f"importers/sources.py:{line} writes a sentence no shape in app/messages.py matches: {english!r}"
    shape, matched = found
    assert sorted(matched.values()) == sorted(values), f"{english!r} matched the wrong shape {shape!r}"
    with app.test_request_context("/?lang=vi"):
        vietnamese = translate_sentence(english)
    assert vietnamese != english
    assert all(value in vietnamese for value in values)
    with app.test_request_context("/?lang=en"):
        assert translate_sentence(english) == english


def strings_returned(value: ast.expr | None) -> set[str]:
    """The text constants `return value` can give: itself, or either branch of `a if test else b`."""
    if isinstance(value, ast.Constant) and isinstance(value.value, str):
        return {value.value}
    if isinstance(value, ast.IfExp):
        return strings_returned(value.body) | strings_returned(value.orelse)
    return set()


def kinds_of_file() -> set[str]:
    """What _check_content expects a file to be, and every way _describe can say what it is instead."""
    kinds = {description for _, description in sources.SIGNATURES}
    for node in ast.walk(source_tree()):
        if called(node, "_mismatch"):
            kinds.add(node.args[1].value)
        if isinstance(node, ast.FunctionDef) and node.name == "_describe":
            kinds |= {s for n in ast.walk(node) if isinstance(n, ast.Return) for s in strings_returned(n.value)}
    return kinds


def test_every_kind_of_file_is_listed_and_translated(app):
    kinds = kinds_of_file()
    assert {"a GeoPackage", "a PNG image", "plain text", "an HTML page"} <= kinds
    assert kinds <= set(FILE_KINDS), kinds - set(FILE_KINDS)
    with app.test_request_context("/?lang=vi"):
        assert all(translate_sentence(kind) != kind for kind in kinds)
        said = translate_sentence("map.gpkg is not a GeoPackage: it looks like a PNG image.")
    assert said == "Tệp map.gpkg không phải là tệp GeoPackage: nội dung có vẻ là ảnh PNG."


def test_a_sentence_not_listed_keeps_the_lead_by_its_code(app):
    with app.test_request_context("/?lang=vi"):
        assert localize_file_error("EmptyFile", "x is empty in a new way") == "Tệp trống. (x is empty in a new way)"
        assert localize_file_error("NoSuchCode", "x is odd") == "x is odd"
        assert localize_file_error("EmptyFile", "x.csv is empty.") == "Tệp x.csv trống."
    with app.test_request_context("/?lang=en"):
        assert localize_file_error("EmptyFile", "x is empty in a new way") == "x is empty in a new way"
        assert localize_file_error("EmptyFile", "x.csv is empty.") == "x.csv is empty."


def test_a_sentence_a_file_made_very_long_is_not_matched_but_led(app):
    """Its columns are the file's own: matched against the shapes, such text could keep a worker busy for minutes."""
    columns = " looks like a zip bomb: it would expand x" * 30
    sentence = f"a.csv has no longitude/latitude or WKT column (columns found — {columns}). Name them lon/lat (kinh_do/vi_do) or wkt."
    assert len(sentence) > LONGEST_TRANSLATED
    with app.test_request_context("/?lang=vi"):
        assert translate_sentence(sentence) == sentence
        assert localize_file_error("NotGeodata", sentence) == f"{gettext(FILE_ERRORS['NotGeodata'])} ({sentence})"
        short = sentence.replace(columns, " a, b")
        assert translate_sentence(short) != short  # the same sentence, short, is translated


# --- real bad uploads through the import page -----------------------------------------------


def zipped(*members: tuple[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            archive.writestr(zipfile.ZipInfo(name), data, compress_type=zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


BAD_UPLOADS = [
    pytest.param(
        "ra_ngoai.zip", zipped(("zones.geojson", b'{"type": "FeatureCollection", "features": []}'), ("../evil.txt", b"x")),
        "UnsafePath", "ra_ngoai.zip contains a path leading out of the archive ('../evil.txt'); refused.", id="escaping-path",
    ),
    pytest.param(
        # 16 MiB of zeros in about 16 KB: far over the 200 times a member may expand.
        "bom.zip", zipped(("zones.geojson", bytes(16 * 2**20))),
        "ZipBomb", "bom.zip looks like a zip bomb: 'zones.geojson' would expand", id="zip-bomb",
    ),
    pytest.param("rong.geojson", b"", "EmptyFile", "rong.geojson is empty.", id="empty"),
    pytest.param(
        "ghi_chu.zip", zipped(("notes.txt", "Không có dữ liệu".encode()), ("photo.jpg", b"\xff\xd8\xff" + bytes(10))),
        "NotGeodata", "ghi_chu.zip holds no shapefile or other supported data file (found: notes.txt, photo.jpg).",
        id="not-geodata",
    ),
    pytest.param(
        "ban_do.gpkg", b"\x89PNG\r\n\x1a\n" + bytes(200),
        "FormatMismatch", "ban_do.gpkg is not a GeoPackage: it looks like a PNG image.", id="png-named-gpkg",
    ),
    pytest.param(
        "ruong.shp", b"\x00\x00\x27\x0a" + bytes(96),
        "MissingPart", "ruong.shp needs ruong.shx, ruong.dbf beside it: upload a .zip with the .shp, .shx and .dbf.",
        id="shp-without-zip",
    ),
]


@pytest.fixture()
def importer(app, make_user):
    return signed_in(app, make_user("file_errors_editor", "editor", layers=["farming_zones"]))




def words(text: str) -> set[str]:
    return {w.lower() for w in re.findall(r"[A-Za-z]{3,}", text)}


def words_to_translate(shape: str, values: dict[str, str]) -> set[str]:
    """The English of the sentence's shape, and of values that are listed phrases ("a PNG image")."""
    template = re.sub(r"%\(\w+\)s", " ", shape)
    phrases = " ".join(v for k, v in values.items() if k in PHRASE_VALUES)
    return words(template + " " + phrases) - TECHNICAL_WORDS


@pytest.mark.parametrize(("name", "data", "code", "english_start"), BAD_UPLOADS)
def test_a_refused_upload_is_said_wholly_in_vietnamese(importer, name, data, code, english_start):
    english = upload(importer, data, name, "en")
    vietnamese = upload(importer, data, name, "vi")
    assert (english.status_code, english.json["code"]) == (422, code)
    assert (vietnamese.status_code, vietnamese.json["code"]) == (422, code)
    said_en, said_vi = english.json["description"], vietnamese.json["description"]
    assert said_en.startswith(english_start)  # English readers keep the importer's sentence as it is
    shape, values = match_shape(said_en)
    carried = [v for k, v in values.items() if k not in PHRASE_VALUES]
    assert name in carried and all(value in said_vi for value in carried), said_vi
    rest = said_vi
    for value in carried:
        rest = rest.replace(value, " ")
    assert not words(rest) & words_to_translate(shape, values), said_vi
