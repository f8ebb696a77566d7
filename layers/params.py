"""Items query parameters parsed, against a layer's declaration, into an ItemQuery.

Used by every way of asking for features (the API, exports), so they all
accept the same filters and answer bad ones the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Protocol

from werkzeug.datastructures import MultiDict

from gis import cql2
from gis.params import ParameterError, parse_bbox, parse_bool, parse_datetime, parse_int
from layers import REGISTRY
from layers.base import Layer
from layers.query import ItemQuery, layer_queryables

DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000
MAX_OFFSET = 10_000_000
MAX_Q = 200
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
QUERY_PARAMS = {"bbox", "bbox-crs", "limit", "offset", "datetime", "q", "filter", "filter-lang", "filter-crs"}
PAGING_PARAMS = {"limit", "offset"}
FILTER_LANG = "cql2-text"


class MultiMapping(Protocol):
    def __iter__(self): ...
    def __getitem__(self, key: str) -> str: ...
    def __contains__(self, key: object) -> bool: ...
    def get(self, key: str, default: str | None = None) -> str | None: ...
    def getlist(self, key: str) -> list[str]: ...


def split_names(values: list[str]) -> list[str]:
    """Names given as `a,b` (a parameter may also repeat), each once, in order."""
    return list(dict.fromkeys(n.strip() for raw in values for n in raw.split(",") if n.strip()))


def named_layers(values: list[str], readable: Callable[[Layer], bool]) -> list[Layer]:
    """The layers a `layers` parameter names; a name that is not a layer the reader may read is refused
    as unknown (whether it exists is not told)."""
    names = split_names(values)
    unknown = next((n for n in names if n not in REGISTRY or not readable(REGISTRY[n])), None)
    if unknown is not None:
        raise ParameterError("layers", f"unknown layer {unknown[:60]!r}")
    return [REGISTRY[n] for n in names]


def parse_filter_value(layer: Layer, name: str, raw: str) -> tuple:
    f = layer.field(name)
    values = [v for v in raw.split(",") if v.strip()] if f.kind == "enum" else [raw] if raw.strip() else []
    if not values:
        raise ParameterError(name, "needs a value")
    if f.kind == "enum":
        unknown = [v for v in values if v not in f.choice_values()]
        if unknown:
            raise ParameterError(name, f"unknown value {unknown[0][:40]!r}; expected one of {', '.join(f.choice_values())}")
        return tuple(values)
    if f.kind == "integer":
        return (parse_int(name, raw, -(2**31), 2**31 - 1),)
    if f.kind == "number":
        try:
            return (float(raw),)
        except ValueError:
            raise ParameterError(name, "must be a number") from None
    if f.kind == "boolean":
        return (parse_bool(name, raw),)
    return tuple(values)


def parse_cql_filter(layer: Layer, args: MultiMapping) -> cql2.SqlFilter | None:
    """`filter` in CQL2 text, checked against the layer's queryables and translated to bound SQL."""
    lang = args.get("filter-lang")
    if lang is not None and lang != FILTER_LANG:
        raise ParameterError("filter-lang", f"only {FILTER_LANG} is supported, not {lang[:40]!r}")
    crs = args.get("filter-crs")
    if crs is not None and crs != CRS84:
        raise ParameterError("filter-crs", f"only {CRS84} is supported")
    raw = args.get("filter")
    if raw is None:
        return None
    return cql2.compile_filter(raw, layer_queryables(layer))


def parse_item_query(
    layer: Layer, args: MultiMapping, ignored: Collection[str] = (), default_limit: int | None = DEFAULT_LIMIT
) -> ItemQuery:
    """Items parameters into a typed query; any unknown parameter is an error.

    Without `limit` the query takes `default_limit` features; None takes every
    match, and then an `offset` (which pages) is refused rather than dropped.
    """
    filterable = {f.name for f in layer.filterable}
    for name in args:
        if name not in QUERY_PARAMS and name not in filterable and name not in ignored:
            allowed = ", ".join(sorted(filterable)) or "none"
            raise ParameterError(name, f"unknown parameter; this collection filters on: {allowed}")
    for name in args:
        if len(args.getlist(name)) > 1:
            raise ParameterError(name, "given more than once")
    crs = args.get("bbox-crs")
    if crs and crs != CRS84:
        raise ParameterError("bbox-crs", f"only {CRS84} is supported")
    datetime_raw = args.get("datetime")
    if datetime_raw and not layer.temporal:
        raise ParameterError("datetime", "this collection has no temporal property")
    q = args.get("q", "").strip()
    if len(q) > MAX_Q:
        raise ParameterError("q", f"at most {MAX_Q} characters")
    limit = parse_int("limit", args["limit"], 1, MAX_LIMIT) if "limit" in args else default_limit
    offset = parse_int("offset", args["offset"], 0, MAX_OFFSET) if "offset" in args else 0
    if limit is None and offset:
        raise ParameterError("offset", "needs a limit: without one every match is taken")
    return ItemQuery(
        limit=limit,
        offset=offset,
        bbox=parse_bbox(args["bbox"]) if "bbox" in args else None,
        filters={n: parse_filter_value(layer, n, args[n]) for n in args if n in filterable},
        q=q or None,
        interval=parse_datetime(datetime_raw) if datetime_raw else None,
        cql=parse_cql_filter(layer, args),
    )


def parse_layer_queries(
    layers: list[Layer],
    args: MultiMapping,
    ignored: Collection[str] = (),
    default_limit: int | None = DEFAULT_LIMIT,
    paging: bool = True,
) -> dict[str, ItemQuery]:
    """One query per layer from the parameters of a request that spans several layers (exports, statistics).

    `layer.field=value` filters that layer only. Plain parameters apply to every
    layer that understands them (`district=` to each layer with a district,
    `bbox=` and `q=` to all); one that no layer understands is an error.
    `default_limit` is as for parse_item_query; with `paging` false, `limit` and
    `offset` (plain or for one layer) are refused and every query takes `default_limit`.
    """
    ids = {layer.id for layer in layers}
    own: dict[str, dict[str, list[str]]] = {layer.id: {} for layer in layers}
    for name in args:
        if name in ignored:
            continue
        values = args.getlist(name)
        prefix, dot, field_name = name.partition(".")
        if not paging and (field_name if dot else name) in PAGING_PARAMS:
            raise ParameterError(name, "not accepted here: the whole selection is taken; narrow it with filters or bbox")
        if dot:
            if prefix not in ids:
                raise ParameterError(name, f"unknown layer {prefix[:60]!r}; asked for: {', '.join(sorted(ids))}")
            own[prefix][field_name] = values
            continue
        takers = [layer for layer in layers if understands(layer, name)]
        if not takers:
            raise ParameterError(name, "unknown parameter for the layers asked for")
        for layer in takers:
            own[layer.id].setdefault(name, values)
    return {layer.id: parse_item_query(layer, MultiDict(own[layer.id]), default_limit=default_limit) for layer in layers}


def understands(layer: Layer, name: str) -> bool:
    if name == "datetime":
        return bool(layer.temporal)
    return name in QUERY_PARAMS or any(f.name == name for f in layer.filterable)
