"""Statistics: the /stats page, its JSON, and each table as CSV or XLSX.

The figures come from layers.stats; this module only reads the request
(the map's filters, through parse_layer_queries), checks who may read which
layer, and formats the answer.
"""

from __future__ import annotations

import io
from urllib.parse import urlencode

from flask import Blueprint, Response, jsonify, render_template, request, url_for
from flask_babel import format_decimal
from sqlalchemy import Connection
from werkzeug.datastructures import MultiDict

from app.auth import may_read
from app.db import db
from app.errors import ApiError, NotFound
from app.pages import current_lang
from exporters.write import spreadsheet_csv
from gis.params import ParameterError
from layers.base import Layer
from layers.params import parse_layer_queries
from layers.query import ItemQuery, list_districts
from layers.stats import (
    COUNT_LABEL,
    NOT_SET_LABEL,
    PLACE_LEVELS,
    TABLES,
    StatResult,
    StatTable,
    all_figures,
    communes_approximate,
    get_table,
    pick,
    table_figures,
)

bp = Blueprint("stats", __name__)

# Parameters that are not filters: of the page, and of the downloads.
PAGE_PARAMS = ("by", "f", "lang")
DOWNLOAD_PARAMS = ("by", "lang")
DOWNLOADS = ("csv", "xlsx")


def readable_tables() -> list[StatTable]:
    return [t for t in TABLES if may_read(t.layer)]


def table_layers(tables: list[StatTable]) -> list[Layer]:
    seen: dict[str, Layer] = {}
    for t in tables:
        seen.setdefault(t.layer_id, t.layer)
    return list(seen.values())


def request_filters(not_filters: tuple[str, ...]) -> MultiDict:
    """The request's filters; empty values (an untouched form field) mean no filter."""
    return MultiDict(
        (name, value) for name, value in request.args.items(multi=True) if name not in not_filters and value.strip()
    )


def single(name: str, default: str) -> str:
    values = request.args.getlist(name)
    if len(values) > 1:
        raise ParameterError(name, "given more than once")
    return values[0] if values else default


def place_level() -> str:
    by = single("by", "district")
    if by not in PLACE_LEVELS:
        raise ParameterError("by", f"unknown value {by[:40]!r}; expected one of {', '.join(PLACE_LEVELS)}")
    return by


def parse_request(tables: list[StatTable], not_filters: tuple[str, ...]) -> tuple[str, MultiDict, dict[str, ItemQuery]]:
    by = place_level()
    args = request_filters(not_filters)
    queries = parse_layer_queries(table_layers(tables), args, default_limit=None, paging=False)  # every match
    return by, args, queries


# --- columns and rows, one definition for JSON, HTML, CSV and XLSX ------------------


def columns(table: StatTable, by: str, lang: str) -> list[dict]:
    layer = table.layer
    cols = [{"name": name, "label": layer.field(name).label(lang), "kind": "place"} for name in PLACE_LEVELS[by]]
    for f in table.group_fields():
        cols.append({
            "name": f.name, "label": f.label(lang), "kind": "group",
            "choices": [{"value": c.value, "label": c.label(lang)} for c in f.choices],
        })
    cols.append({"name": "count", "label": pick(COUNT_LABEL, lang), "kind": "count"})
    if table.measure == "area":
        area = layer.field("area_ha")
        cols.append({"name": "area_ha", "label": f"{area.label(lang)} ({area.unit})", "kind": "area"})
    return cols


def choice_label(table: StatTable, field_name: str, value: str | None, lang: str) -> str:
    return table.layer.field(field_name).display(value, lang) or pick(NOT_SET_LABEL, lang)


def place_label(place: dict, by: str, lang: str) -> str:
    names = [place[name] or pick(NOT_SET_LABEL, lang) for name in PLACE_LEVELS[by]]
    return names[0] if len(names) == 1 else f"{names[-1]} ({names[0]})"


def table_rows(result: StatResult, lang: str) -> list[dict]:
    """The rows, as JSON serves them: place names and codes, group values and labels, the figures."""
    out = []
    for r in result.rows:
        row: dict = {**r.place, "place": place_label(r.place, result.by, lang)}
        for name, value in r.groups.items():
            row[name] = value
            row[f"{name}_label"] = choice_label(result.table, name, value, lang)
        row["count"] = r.count
        if result.table.measure == "area":
            row["area_ha"] = r.area_ha
        out.append(row)
    return out


def cells(cols: list[dict], row: dict, lang: str) -> list:
    """One of table_rows as people read it (names and labels, then the figures), in the order of columns()."""
    out = []
    for c in cols:
        if c["kind"] == "place":
            out.append(row[c["name"]] or pick(NOT_SET_LABEL, lang))
        elif c["kind"] == "group":
            out.append(row[f"{c['name']}_label"])
        else:
            out.append(row[c["name"]])
    return out


def download_links(table: StatTable, by: str, args: MultiDict, lang: str) -> dict:
    query = urlencode([("by", by), *args.items(multi=True), ("lang", lang)])
    return {fmt: f"{url_for('stats.download', table_id=table.id, fmt=fmt)}?{query}" for fmt in DOWNLOADS}


def json_link(by: str, args: MultiDict) -> str:
    return f"{url_for('stats.stats_page')}?{urlencode([('f', 'json'), ('by', by), *args.items(multi=True)])}"


def table_document(result: StatResult, args: MultiDict, lang: str) -> dict:
    table = result.table
    total = {"count": result.count}
    if table.measure == "area":
        total["area_ha"] = result.area_ha
    return {
        "id": table.id,
        "layer": table.layer_id,
        "layer_title": table.layer.title(lang),
        "title": table.title(lang),
        "measure": table.measure,
        "columns": columns(table, result.by, lang),
        "rows": table_rows(result, lang),
        "total": total,
        "links": download_links(table, result.by, args, lang),
    }


def statistics_document(by: str, args: MultiDict, results: list[StatResult], approximate: bool, lang: str) -> dict:
    return {
        "by": by,
        "lang": lang,
        "filters": args.to_dict(),  # each filter comes once: parse_layer_queries refuses repeats
        "area": "sum of area_ha: the area of each shape on the geography (ST_Area(geom::geography) / 10000), in hectares",
        "approximate_places": approximate,
        "tables": [table_document(r, args, lang) for r in results],
    }


def read_figures(
    conn: Connection, tables: list[StatTable], by: str, queries: dict[str, ItemQuery]
) -> tuple[list[StatResult], bool]:
    results = all_figures(conn, tables, by, queries)
    approximate = by == "commune" and communes_approximate(conn)
    return results, approximate


# --- views ------------------------------------------------------------------------


@bp.get("/stats")
def stats_page():
    fmt = single("f", "html")
    if fmt not in ("html", "json"):
        raise ApiError(f"f: unknown format {fmt[:20]!r}; use json or html")
    tables = readable_tables()
    by, args, queries = parse_request(tables, PAGE_PARAMS)
    lang = current_lang()
    results, approximate = db().read(read_figures, tables, by, queries)
    document = statistics_document(by, args, results, approximate, lang)
    if fmt == "json":
        return jsonify(document)
    districts = db().read(list_districts)
    return render_template(
        "stats.html", lang=lang, data=document, tables=document["tables"],
        cells=cells, form=filter_form(tables, args, lang),
        districts=districts, by=by, args=args, json_link=json_link(by, args), format_number=format_number,
    )


def filter_form(tables: list[StatTable], args: MultiDict, lang: str) -> list[dict]:
    """The map's filters for each layer shown: its filterable enum fields (district and q are shared)."""
    form = []
    for layer in table_layers(tables):
        fields = [
            {**f.config(lang), "param": f"{layer.id}.{f.name}", "id": f"filter-{layer.id}-{f.name}",
             "selected": args.get(f"{layer.id}.{f.name}", "")}
            for f in layer.filterable if f.kind == "enum"
        ]
        if fields:
            form.append({"id": layer.id, "title": layer.title(lang), "fields": fields})
    return form


def format_number(value, digits: int) -> str:
    if value is None:
        return ""
    return format_decimal(value, format="#,##0" + ("." + "0" * digits if digits else ""))


@bp.get("/stats/<table_id>.<fmt>")
def download(table_id: str, fmt: str):
    table = get_table(table_id)
    if fmt not in DOWNLOADS or table is None or not may_read(table.layer):
        raise NotFound(f"There is no statistics download {f'{table_id}.{fmt}'[:80]!r}.")
    # Every table's link carries all the page's filters: parse them as the page does, against
    # the page's layers; the table then takes its own layer's query.
    by, _args, queries = parse_request(readable_tables(), DOWNLOAD_PARAMS)
    lang = current_lang()
    result = db().read(table_figures, table, by, queries[table.layer_id])
    cols = columns(table, by, lang)
    rows = [cells(cols, row, lang) for row in table_rows(result, lang)]
    name = f"{table.id}-{by}.{fmt}"
    if fmt == "csv":
        body = csv_bytes([c["label"] for c in cols], rows)
        content_type = "text/csv; charset=utf-8"
    else:
        body = xlsx_bytes(cols, rows, table.id)
        content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return Response(body, content_type=content_type, headers={"Content-Disposition": f'attachment; filename="{name}"'})


def csv_bytes(headers: list[str], rows: list[list]) -> bytes:
    return "".join(spreadsheet_csv(headers, rows)).encode("utf-8")


NUMBER_FORMATS = {"count": "#,##0", "area": "#,##0.00"}


def xlsx_bytes(cols: list[dict], rows: list[list], sheet: str) -> bytes:
    """One sheet: a bold heading row, then the rows; numbers stay numbers."""
    # Loaded here, not with the app: every command and worker start would pay for it.
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    ws = book.active
    ws.title = sheet[:31]
    ws.append([c["label"] for c in cols])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in rows:
        ws.append(row)
        for cell in ws[ws.max_row]:
            if isinstance(cell.value, str):
                cell.data_type = "s"  # text, even when it starts with "=": never a formula
    for i, c in enumerate(cols, start=1):
        letter = get_column_letter(i)
        longest = max([len(c["label"])] + [len(str(row[i - 1])) for row in rows])
        ws.column_dimensions[letter].width = min(max(10, longest + 2), 50)
        if c["kind"] in NUMBER_FORMATS:
            for cell in ws[letter][1:]:
                cell.number_format = NUMBER_FORMATS[c["kind"]]
    ws.freeze_panes = "A2"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
