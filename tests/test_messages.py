"""The import report in the reader's language: every sentence the importer writes has a translation."""

from __future__ import annotations

import re

import pytest
from shapely.geometry import Polygon, box

from app.messages import (
    FILE_KINDS,
    POSTGIS_REASONS,
    SHAPES,
    localize_report,
    match_shape,
    translate_problems,
    translate_sentence,
)
from importers.run import INDEXES_REBUILT, rows_note
from layers import REGISTRY
from tests.importing import do_import, square, write, zones


def sample(shape: str) -> tuple[str, dict]:
    """The English sentence with made-up values, and the values."""
    values = {name: f"<{name}-{i}>" for i, name in enumerate(re.findall(r"%\((\w+)\)s", shape))}
    return shape % values if values else shape, values


@pytest.mark.parametrize("shape", SHAPES + POSTGIS_REASONS + FILE_KINDS)
def test_every_shape_is_translated_and_keeps_its_values(app, shape):
    english, values = sample(shape)
    with app.test_request_context("/?lang=vi"):
        vietnamese = translate_sentence(english)
    assert vietnamese != english
    for value in values.values():
        assert value in vietnamese
    with app.test_request_context("/?lang=en"):
        assert translate_sentence(english) == english


@pytest.mark.parametrize("shape", SHAPES + POSTGIS_REASONS + FILE_KINDS)
def test_no_shape_is_hidden_behind_an_earlier_one(shape):
    """Shapes are tried in order: one listed earlier must not also match this one's sentences."""
    english, values = sample(shape)
    assert match_shape(english) == (shape, values)


def test_unknown_sentences_stay_as_written(app):
    with app.test_request_context("/?lang=vi"):
        assert translate_sentence("something new went wrong") == "something new went wrong"
        assert translate_problems("crop: something new") == "crop: something new"


def test_several_problems_of_a_row_are_each_translated(app):
    with app.test_request_context("/?lang=vi"):
        text = translate_problems("crop: unknown value 'ngô'; name: is required; geometry: invalid: Self-intersection")
    assert text == "crop: giá trị không hợp lệ 'ngô'; name: bắt buộc phải có; geometry: không hợp lệ: tự cắt nhau"


def test_a_second_reason_naming_no_field_is_translated_too(app):
    """A row outside the editor's districts and keyed to a feature outside them: both reasons, in one entry."""
    with app.test_request_context("/?lang=vi"):
        text = translate_problems("district: outside the districts you may edit; "
                                  "key 4 names a feature outside the districts you may edit")
    assert text == ("district: nằm ngoài các huyện bạn được sửa; "
                    "khoá 4 chỉ một đối tượng nằm ngoài các huyện bạn được sửa")


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("vi", "Cây trồng (crop): giá trị không hợp lệ 'ngô'; Hình dạng: không hợp lệ: tự cắt nhau"),
        ("en", "Crop (crop): unknown value 'ngô'; Shape: invalid: Self-intersection"),
    ],
)
def test_with_the_layer_fields_are_named_as_the_mapping_table_names_them(app, lang, expected):
    with app.test_request_context(f"/?lang={lang}"):
        text = translate_problems("crop: unknown value 'ngô'; geometry: invalid: Self-intersection", REGISTRY["farming_zones"])
    assert text == expected


def test_what_the_importer_writes_is_all_known(app, conn, tmp_path):
    """A real run's reasons and notes: if a producer's sentence changes, its shape here must follow."""
    frame = zones(["Ô một", "Ô hai", "", "Ô bốn", "Ô năm", "Ô sáu"], ["Lúa", "Lúa", "Lúa", "ngô lai", "Lúa", "Lúa"])
    frame.loc[1, "geometry"] = square(0).buffer(-0.00001)  # overlaps row 1
    frame.loc[4, "geometry"] = Polygon([(106.2, 20.3), (106.21, 20.31), (106.21, 20.3), (106.2, 20.31)])  # a bow tie
    frame.loc[5, "geometry"] = box(105.0, 19.0, 105.01, 19.01)  # outside the province
    report = do_import(conn, "farming_zones", write(frame, tmp_path / "bad.geojson"), dry_run=True)
    reasons = [r["reason"] for r in report.rejected]
    assert len(reasons) >= 3 and report.notes
    with app.test_request_context("/?lang=vi"):
        shown = localize_report({"rejected": report.rejected, "notes": report.notes})
        for english in reasons:
            for problem in re.split(r"; (?=[a-z_]+: )", english):
                assert translate_problems(problem) != problem, problem
    assert all(entry["reason"] != english for entry, english in zip(shown["rejected"], reasons, strict=True))
    assert all(note != english for note, english in zip(shown["notes"], report.notes, strict=True))


OVERLAPS = "overlap other zones, which this layer allows"
NO_DISTRICT = "lie in no district of the province (at sea, or beyond its border): they get no district or commune"


@pytest.mark.parametrize("note", [INDEXES_REBUILT, rows_note([3, 4], OVERLAPS), rows_note(list(range(2, 40)), OVERLAPS),
                                  rows_note([7], NO_DISTRICT), rows_note(list(range(2, 40)), NO_DISTRICT)])
def test_the_importers_own_notes_are_known_shapes(app, note):
    """Notes written from constants and helpers of importers.run: a change there must reach app/messages.py."""
    with app.test_request_context("/?lang=vi"):
        assert translate_sentence(note) != note


def test_a_list_of_accepted_types_is_joined_in_the_readers_language(app):
    english = "geometry: type LineString not accepted here; expected Polygon or MultiPolygon"
    with app.test_request_context("/?lang=vi"):
        assert translate_problems(english).endswith("cần Polygon hoặc MultiPolygon")
    with app.test_request_context("/?lang=en"):
        assert translate_problems(english) == english
