"""Every rejected row of a run as a CSV file: the report on screen lists only the first ones.

UTF-8 with a byte-order mark, which Excel needs to read Vietnamese; the
row numbers are those of the report (the file's own rows, from 1), and the
place is where a shape goes wrong, when the check knows it.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from typing import TextIO

COLUMNS = ("row", "reason", "longitude", "latitude")
ENCODING = "utf-8-sig"


def write_rejected(rejected: list[dict], out: TextIO, headers=COLUMNS, reason: Callable[[str], str] = str) -> None:
    """`rejected` ({"row", "reason", "location"?} as in ImportReport) as CSV rows under `headers`,
    each reason passed through `reason` (a translation)."""
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(headers)
    for entry in rejected:
        longitude, latitude = entry.get("location") or ("", "")
        writer.writerow([entry["row"], reason(entry["reason"]), longitude, latitude])
