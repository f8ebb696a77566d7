"""Every rejected row of a run as a table: the report on screen lists only the first ones.

The row numbers are those of the report (the file's own rows, from 1); the
place is where a shape goes wrong, when the check knows it. Written as CSV
for spreadsheets (exporters.write.spreadsheet_csv) by `flask import
--rejected` and the import page.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

COLUMNS = ("row", "reason", "longitude", "latitude")


def rejected_table(rejected: list[dict], reason: Callable[[str], str] = str) -> Iterator[list]:
    """`rejected` ({"row", "reason", "location"?} as in ImportReport) as rows under COLUMNS, each reason
    passed through `reason` (a translation)."""
    for entry in rejected:
        longitude, latitude = entry.get("location") or ("", "")
        yield [entry["row"], reason(entry["reason"]), longitude, latitude]
