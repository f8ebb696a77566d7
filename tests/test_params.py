"""Unit tests of the OGC query parameter parsers (no database, no app)."""

from __future__ import annotations

from datetime import date

import pytest

from gis.params import (
    Bbox,
    Interval,
    ParameterError,
    parse_bbox,
    parse_bool,
    parse_datetime,
    parse_instant,
    parse_int,
)

# --- bbox ------------------------------------------------------------------


def test_bbox_four_values():
    box = parse_bbox("105.9,20.1,106.5,20.5")
    assert box == Bbox(105.9, 20.1, 106.5, 20.5)
    assert box.as_params() == {"bbox_minx": 105.9, "bbox_miny": 20.1, "bbox_maxx": 106.5, "bbox_maxy": 20.5}


def test_bbox_integers_and_negative_values():
    assert parse_bbox("-10,-5,10,5") == Bbox(-10.0, -5.0, 10.0, 5.0)
    assert all(isinstance(v, float) for v in parse_bbox("1,2,3,4").as_params().values())


def test_bbox_six_values_keeps_the_horizontal_extent():
    assert parse_bbox("105.9,20.1,-100,106.5,20.5,3000") == Bbox(105.9, 20.1, 106.5, 20.5)


def test_bbox_whole_world_and_degenerate_box():
    assert parse_bbox("-180,-90,180,90") == Bbox(-180, -90, 180, 90)
    assert parse_bbox("106,20,106,20") == Bbox(106, 20, 106, 20)


@pytest.mark.parametrize(
    "raw",
    ["", "1", "1,2", "1,2,3", "1,2,3,4,5", "1,2,3,4,5,6,7", ",,,", "1,,3,4", "a,b,c,d", "1,2,3,x",
     "1;2;3;4", "0x10,2,3,4", "1,2,3,4,"],
)
def test_bbox_malformed(raw):
    with pytest.raises(ParameterError) as err:
        parse_bbox(raw)
    assert err.value.name == "bbox"
    assert str(err.value).startswith("bbox: ")


@pytest.mark.parametrize(
    "raw",
    ["-181,0,0,1", "0,0,181,1", "0,-91,1,0", "0,0,1,91", "-180.0001,0,0,1", "0,0,1,90.5", "1e3,0,2e3,1"],
)
def test_bbox_out_of_range(raw):
    with pytest.raises(ParameterError, match="bbox"):
        parse_bbox(raw)


def test_bbox_inverted_latitudes():
    with pytest.raises(ParameterError, match="latitude"):
        parse_bbox("105,21,106,20")


def test_bbox_crossing_the_antimeridian_is_refused_clearly():
    with pytest.raises(ParameterError, match="antimeridian"):
        parse_bbox("170,-10,-170,10")


@pytest.mark.parametrize(
    "raw",
    ["nan,0,1,1", "0,NaN,1,1", "0,0,inf,1", "-inf,0,1,1", "0,0,1,Infinity", "1e400,0,2,1", "0,0,1,-1e400"],
)
def test_bbox_not_finite(raw):
    with pytest.raises(ParameterError) as err:
        parse_bbox(raw)
    assert err.value.name == "bbox"


def test_parameter_error_carries_name_and_message():
    err = ParameterError("limit", "too big")
    assert isinstance(err, ValueError)
    assert err.name == "limit" and err.message == "too big" and str(err) == "limit: too big"


# --- integers --------------------------------------------------------------


@pytest.mark.parametrize(("raw", "value"), [("1", 1), ("10000", 10000), ("5000", 5000), ("0010", 10)])
def test_parse_int_within_bounds(raw, value):
    assert parse_int("limit", raw, 1, 10000) == value


def test_parse_int_bounds_are_inclusive():
    assert parse_int("offset", "0", 0, 0) == 0
    assert parse_int("x", "-5", -5, 5) == -5
    assert parse_int("x", "5", -5, 5) == 5


@pytest.mark.parametrize("raw", ["0", "10001", "-1", "99999999999"])
def test_parse_int_out_of_bounds(raw):
    with pytest.raises(ParameterError, match="between 1 and 10000") as err:
        parse_int("limit", raw, 1, 10000)
    assert err.value.name == "limit"


@pytest.mark.parametrize(
    "raw",
    ["", "abc", "1.5", "1e3", "10 ", " 10", "1_000", "0x10", "+-1", "١٢", "１２", "²", "9" * 5000, "NaN", "inf"],
)
def test_parse_int_not_a_whole_number(raw):
    with pytest.raises(ParameterError, match="whole number") as err:
        parse_int("offset", raw, 0, 10_000_000)
    assert err.value.name == "offset"
    # The echoed value is truncated, so a huge parameter cannot bloat the error.
    assert len(str(err.value)) < 120


# --- datetime --------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "day"),
    [
        ("2020-01-31", date(2020, 1, 31)),
        ("2020-01-31T10:20:30Z", date(2020, 1, 31)),
        ("2020-01-31T10:20:30+07:00", date(2020, 1, 31)),
        ("2020-01-31T10:20:30.123Z", date(2020, 1, 31)),
    ],
)
def test_datetime_instant(raw, day):
    assert parse_datetime(raw) == Interval(day, day)


def test_datetime_closed_interval():
    assert parse_datetime("2019-01-01/2020-12-31") == Interval(date(2019, 1, 1), date(2020, 12, 31))
    assert parse_datetime("2019-01-01T00:00:00Z/2019-01-01T23:59:59Z") == Interval(date(2019, 1, 1), date(2019, 1, 1))


@pytest.mark.parametrize(
    ("raw", "interval"),
    [
        ("../2020-12-31", Interval(None, date(2020, 12, 31))),
        ("/2020-12-31", Interval(None, date(2020, 12, 31))),
        ("2019-01-01/..", Interval(date(2019, 1, 1), None)),
        ("2019-01-01/", Interval(date(2019, 1, 1), None)),
        ("../..", Interval(None, None)),
    ],
)
def test_datetime_open_ends(raw, interval):
    assert parse_datetime(raw) == interval


@pytest.mark.parametrize(
    "raw",
    ["..", "", "yesterday", "2020-13-01", "2020-02-30", "2020-01-01T25:00:00Z", "2020-01-01T10:00:00+25:00",
     "2020/2021/2022", "2020-01-01/abc", "x/2020-01-01", "2020-01-0a", "１９９９-01-01"],
)
def test_datetime_bad(raw):
    with pytest.raises(ParameterError) as err:
        parse_datetime(raw)
    assert err.value.name == "datetime"


def test_datetime_interval_ending_before_it_starts():
    with pytest.raises(ParameterError, match="ends before it starts"):
        parse_datetime("2021-01-01/2020-01-01")


def test_parse_instant_open_end_is_none():
    assert parse_instant("datetime", "..") is None
    assert parse_instant("datetime", "") is None
    assert parse_instant("datetime", "2024-02-29") == date(2024, 2, 29)


# --- booleans --------------------------------------------------------------


@pytest.mark.parametrize("raw", ["true", "TRUE", "True", "1", "yes", "YES", "có", "Có"])
def test_bool_true(raw):
    assert parse_bool("approximate", raw) is True


@pytest.mark.parametrize("raw", ["false", "FALSE", "False", "0", "no", "No", "không"])
def test_bool_false(raw):
    assert parse_bool("approximate", raw) is False


@pytest.mark.parametrize("raw", ["", "maybe", "2", "-1", "t", "y", "truee", " true", "null"])
def test_bool_bad(raw):
    with pytest.raises(ParameterError, match="true or false") as err:
        parse_bool("approximate", raw)
    assert err.value.name == "approximate"
