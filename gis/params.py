"""Parsing of generic OGC API query parameters into typed values.

Each parser raises ParameterError naming the parameter, so the web layer can
answer 400 with a precise message.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime


class ParameterError(ValueError):
    def __init__(self, name: str, message: str):
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message


@dataclass(frozen=True)
class Bbox:
    minx: float
    miny: float
    maxx: float
    maxy: float

    def as_params(self) -> dict[str, float]:
        return {"bbox_minx": self.minx, "bbox_miny": self.miny, "bbox_maxx": self.maxx, "bbox_maxy": self.maxy}


@dataclass(frozen=True)
class Interval:
    start: date | None
    end: date | None


def parse_bbox(raw: str) -> Bbox:
    parts = raw.split(",")
    if len(parts) == 6:
        # 3D bbox: keep the horizontal extent; features are 2D.
        parts = [parts[0], parts[1], parts[3], parts[4]]
    if len(parts) != 4:
        raise ParameterError("bbox", "expected four comma-separated numbers: minLon,minLat,maxLon,maxLat")
    try:
        minx, miny, maxx, maxy = (float(p) for p in parts)
    except ValueError:
        raise ParameterError("bbox", "every value must be a number") from None
    if not all(math.isfinite(v) for v in (minx, miny, maxx, maxy)):
        raise ParameterError("bbox", "values must be finite numbers")
    if not (-180 <= minx <= 180 and -180 <= maxx <= 180 and -90 <= miny <= 90 and -90 <= maxy <= 90):
        raise ParameterError("bbox", "longitudes must lie in [-180, 180] and latitudes in [-90, 90]")
    if miny > maxy:
        raise ParameterError("bbox", "the lower latitude is greater than the upper one")
    if minx > maxx:
        raise ParameterError("bbox", "boxes crossing the antimeridian are not supported")
    return Bbox(minx, miny, maxx, maxy)


def parse_int(name: str, raw: str, low: int, high: int) -> int:
    # int() alone would also take " 5", "1_0" and non-ASCII digits such as "١٢".
    if not re.fullmatch(r"-?[0-9]{1,19}", raw):
        raise ParameterError(name, f"must be a whole number, got {raw[:40]!r}")
    value = int(raw)
    if not low <= value <= high:
        raise ParameterError(name, f"must be between {low} and {high}")
    return value


def parse_instant(name: str, raw: str) -> date | None:
    if raw in ("", ".."):
        return None
    try:
        if len(raw) == 10:
            return date.fromisoformat(raw)
        return datetime.fromisoformat(raw.replace("Z", "+00:00")).date()
    except ValueError:
        raise ParameterError(name, f"{raw[:40]!r} is not an RFC 3339 date or date-time") from None


def parse_datetime(raw: str) -> Interval:
    """An instant or a closed/open interval as in OGC API – Features."""
    if "/" in raw:
        start_raw, _, end_raw = raw.partition("/")
        start, end = parse_instant("datetime", start_raw), parse_instant("datetime", end_raw)
        if start and end and start > end:
            raise ParameterError("datetime", "the interval ends before it starts")
        return Interval(start, end)
    instant = parse_instant("datetime", raw)
    if instant is None:
        raise ParameterError("datetime", "an instant must be a date or date-time")
    return Interval(instant, instant)


# How people and files write yes and no: URLs, and imported formats without a boolean type (KML, CSV, DBF).
BOOLEAN_WORDS = {"true": True, "1": True, "yes": True, "có": True, "false": False, "0": False, "no": False, "không": False}


def parse_bool(name: str, raw: str) -> bool:
    value = BOOLEAN_WORDS.get(raw.lower())
    if value is None:
        raise ParameterError(name, "must be true or false")
    return value
