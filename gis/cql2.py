"""CQL2 text filters (OGC API – Features Part 3) parsed, checked and turned into SQL.

`parse` knows only the grammar and builds a small tree; `to_sql` checks that
tree against the queryables it is given (names, kinds, enum values) and emits
a SQL condition made of fixed keywords, the queryables' own column expressions
and bound parameters (:cql0, :cql1, ...). Nothing a client writes is ever
pasted into the SQL: a property name only selects a declared column, every
value travels as a parameter.

Supported: comparisons (=, <>, <, >, <=, >=), AND, OR, NOT, parentheses,
[NOT] LIKE, [NOT] IN (...), [NOT] BETWEEN ... AND ..., IS [NOT] NULL,
string, number, boolean, DATE('...') and TIMESTAMP('...') literals,
CASEI() and ACCENTI(), and the spatial functions S_INTERSECTS, S_DISJOINT,
S_WITHIN, S_CONTAINS, S_TOUCHES, S_CROSSES, S_OVERLAPS and S_EQUALS with WKT
geometries or BBOX(...) in CRS84.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import NamedTuple

import shapely
import shapely.wkt
from shapely.errors import ShapelyError
from shapely.validation import explain_validity

from gis.params import Bbox, ParameterError, parse_bbox

PARAMETER = "filter"
# A URL longer than this is refused by most servers before it gets here anyway.
MAX_LENGTH = 10_000
MAX_DEPTH = 20
MAX_NUMBER_CHARS = 40

TEXT_KINDS = ("text", "longtext", "url", "enum")
NUMBER_KINDS = ("integer", "number")
GEOMETRY = "geometry"

KEYWORDS = {"AND", "OR", "NOT", "LIKE", "BETWEEN", "IN", "IS", "NULL", "TRUE", "FALSE"}
# CQL2 name -> PostGIS function; both operands are geometries.
SPATIAL_FUNCTIONS = {
    "S_INTERSECTS": "ST_Intersects",
    "S_DISJOINT": "ST_Disjoint",
    "S_WITHIN": "ST_Within",
    "S_CONTAINS": "ST_Contains",
    "S_TOUCHES": "ST_Touches",
    "S_CROSSES": "ST_Crosses",
    "S_OVERLAPS": "ST_Overlaps",
    "S_EQUALS": "ST_Equals",
}
CHARACTER_FUNCTIONS = ("CASEI", "ACCENTI")
WKT_TYPES = {"POINT", "LINESTRING", "POLYGON", "MULTIPOINT", "MULTILINESTRING", "MULTIPOLYGON", "GEOMETRYCOLLECTION"}
KNOWN_FUNCTIONS = (*CHARACTER_FUNCTIONS, "DATE", "TIMESTAMP", "BBOX", *SPATIAL_FUNCTIONS)


def error(message: str) -> ParameterError:
    return ParameterError(PARAMETER, message)


def shown(text: str) -> str:
    """User text quoted in a message, cut short: messages must stay small."""
    return repr(text[:40] + ("…" if len(text) > 40 else ""))


# --- what the translator is told about the collection ------------------------


@dataclass(frozen=True)
class Queryable:
    """A property a filter may name: its kind decides which values it accepts."""

    name: str
    kind: str  # a field kind (text, enum, integer, number, date, boolean, ...) or "geometry"
    column: str  # the SQL expression, from the declaration, never from a request
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class SqlFilter:
    sql: str
    params: dict


# --- tokens --------------------------------------------------------------------


class Token(NamedTuple):
    kind: str  # string, number, name, quoted_name, op, (, ), ",", end
    text: str
    start: int
    end: int


TOKEN_PATTERNS = [
    ("space", re.compile(r"[ \t\r\n]+")),
    ("number", re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")),
    ("name", re.compile(r"[A-Za-z_][A-Za-z0-9_]*")),
    ("op", re.compile(r"<>|<=|>=|=|<|>")),
    ("punct", re.compile(r"[(),]")),
]


def read_quoted(text: str, start: int, quote: str) -> tuple[str, int]:
    """The content of a quoted string starting at `start`, and where it ends.

    Inside strings a quote is doubled ('') or escaped (\\'), as CQL2 allows.
    """
    out = []
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == quote:
            if text.startswith(quote, i + 1):
                out.append(quote)
                i += 2
                continue
            return "".join(out), i + 1
        if quote == "'" and ch == "\\" and text.startswith("'", i + 1):
            out.append("'")
            i += 2
            continue
        out.append(ch)
        i += 1
    what = "string" if quote == "'" else "quoted property name"
    raise error(f"the {what} starting at character {start + 1} is not closed")


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch in "'\"":
            value, end = read_quoted(text, i, ch)
            tokens.append(Token("string" if ch == "'" else "quoted_name", value, i, end))
            i = end
            continue
        for kind, pattern in TOKEN_PATTERNS:
            match = pattern.match(text, i)
            if match:
                if kind == "punct":
                    kind = match.group()
                if kind != "space":
                    tokens.append(Token(kind, match.group(), i, match.end()))
                i = match.end()
                break
        else:
            hint = "; use <> for 'not equal'" if text.startswith("!=", i) else ""
            raise error(f"unexpected character {ch!r} at character {i + 1}{hint}")
    tokens.append(Token("end", "", len(text), len(text)))
    return tokens


# --- the tree --------------------------------------------------------------------


@dataclass(frozen=True)
class Property:
    name: str


@dataclass(frozen=True)
class Literal:
    value: object
    type: str  # string, number, boolean, date, timestamp


@dataclass(frozen=True)
class GeometryLiteral:
    wkt: str  # as shapely wrote it back: parsed, two-dimensional and valid


@dataclass(frozen=True)
class Call:
    name: str  # CASEI or ACCENTI
    arg: object


@dataclass(frozen=True)
class Spatial:
    name: str  # a key of SPATIAL_FUNCTIONS
    args: tuple


@dataclass(frozen=True)
class Comparison:
    op: str
    left: object
    right: object


@dataclass(frozen=True)
class Like:
    negated: bool
    value: object
    pattern: object


@dataclass(frozen=True)
class Between:
    negated: bool
    value: object
    low: object
    high: object


@dataclass(frozen=True)
class InList:
    negated: bool
    value: object
    items: tuple


@dataclass(frozen=True)
class IsNull:
    negated: bool
    value: object


@dataclass(frozen=True)
class Logical:
    op: str  # AND or OR
    items: tuple


@dataclass(frozen=True)
class Not:
    item: object


# --- the parser ------------------------------------------------------------------


def parse(text: str):
    """CQL2 text into a tree; ParameterError("filter", ...) on anything malformed."""
    if not text.strip():
        raise error("the filter is empty")
    if len(text) > MAX_LENGTH:
        raise error(f"at most {MAX_LENGTH} characters")
    if any(ord(ch) < 32 and ch not in "\t\r\n" for ch in text):
        # NUL cannot even be sent to PostgreSQL; no other control character has a use here.
        raise error("control characters are not allowed")
    return Parser(text).parse()


class Parser:
    """Recursive descent over the tokens, one method per rule of the grammar.

    expression = term {OR term}
    term       = factor {AND factor}
    factor     = NOT factor | "(" expression ")" | predicate
    predicate  = operand (comparison operand | [NOT] LIKE operand | [NOT] BETWEEN operand AND operand
                 | [NOT] IN "(" operand {"," operand} ")" | IS [NOT] NULL)
                 | spatial function | TRUE | FALSE
    """

    def __init__(self, text: str):
        self.text = text
        self.tokens = tokenize(text)
        self.pos = 0
        self.depth = 0

    # token helpers

    @property
    def token(self) -> Token:
        return self.tokens[self.pos]

    def advance(self) -> Token:
        token = self.token
        self.pos += 1
        return token

    def is_keyword(self, word: str, offset: int = 0) -> bool:
        token = self.tokens[min(self.pos + offset, len(self.tokens) - 1)]
        return token.kind == "name" and token.text.upper() == word

    def accept_keyword(self, word: str) -> bool:
        if self.is_keyword(word):
            self.pos += 1
            return True
        return False

    def expect(self, kind: str, what: str) -> Token:
        if self.token.kind != kind:
            raise self.unexpected(what)
        return self.advance()

    def expect_keyword(self, word: str) -> None:
        if not self.accept_keyword(word):
            raise self.unexpected(word)

    def unexpected(self, expected: str) -> ParameterError:
        token = self.token
        if token.kind == "end":
            return error(f"the filter ends too early: expected {expected}")
        found = shown(token.text) if token.kind not in ("string", "quoted_name") else f"the text {shown(token.text)}"
        return error(f"expected {expected} at character {token.start + 1}, found {found}")

    @contextmanager
    def nested(self) -> Iterator[None]:
        # Each level costs stack in the parser and in PostgreSQL's planner: keep it bounded.
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise error(f"nested too deeply (at most {MAX_DEPTH} levels of parentheses, NOT and functions)")
        try:
            yield
        finally:
            self.depth -= 1

    # grammar

    def parse(self):
        tree = self.expression()
        if self.token.kind != "end":
            raise self.unexpected("AND, OR or the end of the filter")
        return tree

    def expression(self):
        items = [self.term()]
        while self.accept_keyword("OR"):
            items.append(self.term())
        return items[0] if len(items) == 1 else Logical("OR", tuple(items))

    def term(self):
        items = [self.factor()]
        while self.accept_keyword("AND"):
            items.append(self.factor())
        return items[0] if len(items) == 1 else Logical("AND", tuple(items))

    def factor(self):
        if self.accept_keyword("NOT"):
            with self.nested():
                return Not(self.factor())
        if self.token.kind == "(":
            self.advance()
            with self.nested():
                inner = self.expression()
            self.expect(")", "')'")
            return inner
        return self.predicate()

    def predicate(self):
        left = self.operand()
        if isinstance(left, Spatial):
            return left
        if self.token.kind == "op":
            op = self.advance().text
            return Comparison(op, left, self.operand())
        negated = self.is_keyword("NOT") and any(self.is_keyword(w, 1) for w in ("LIKE", "BETWEEN", "IN"))
        if negated:
            self.advance()
        if self.accept_keyword("LIKE"):
            return Like(negated, left, self.operand())
        if self.accept_keyword("BETWEEN"):
            low = self.operand()
            self.expect_keyword("AND")
            return Between(negated, left, low, self.operand())
        if self.accept_keyword("IN"):
            return InList(negated, left, self.in_list())
        if self.accept_keyword("IS"):
            is_not = self.accept_keyword("NOT")
            self.expect_keyword("NULL")
            return IsNull(is_not, left)
        if isinstance(left, Literal) and left.type == "boolean":
            return left
        raise self.unexpected("a comparison (=, <>, <, >, <=, >=, LIKE, BETWEEN, IN or IS NULL)")

    def in_list(self) -> tuple:
        self.expect("(", "'(' after IN")
        items = [self.operand()]
        while self.token.kind == ",":
            self.advance()
            items.append(self.operand())
        self.expect(")", "',' or ')' in the IN list")
        return tuple(items)

    def operand(self):
        token = self.token
        if token.kind == "string":
            self.advance()
            return Literal(token.text, "string")
        if token.kind == "number":
            self.advance()
            return Literal(number_value(token.text), "number")
        if token.kind == "quoted_name":
            self.advance()
            return Property(token.text)
        if token.kind != "name":
            raise self.unexpected("a property or a value")
        word = token.text.upper()
        if word in ("TRUE", "FALSE"):
            self.advance()
            return Literal(word == "TRUE", "boolean")
        if word in WKT_TYPES:
            return self.wkt_geometry()
        if word in KEYWORDS:
            raise self.unexpected("a property or a value")
        if self.tokens[self.pos + 1].kind == "(":
            return self.function()
        self.advance()
        return Property(token.text)

    def function(self):
        name_token = self.advance()
        name = name_token.text.upper()
        self.advance()  # "("
        with self.nested():
            if name in ("DATE", "TIMESTAMP"):
                value = self.expect("string", f"a quoted {name.lower()} in {name}()").text
                node = Literal(temporal_value(name, value), name.lower())
            elif name == "BBOX":
                node = self.bbox()
            elif name in CHARACTER_FUNCTIONS:
                node = Call(name, self.operand())
            elif name in SPATIAL_FUNCTIONS:
                first = self.operand()
                self.expect(",", f"',' between the two geometries of {name}")
                node = Spatial(name, (first, self.operand()))
            else:
                raise error(
                    f"unknown function {shown(name_token.text)} at character {name_token.start + 1}; "
                    f"supported: {', '.join(KNOWN_FUNCTIONS)}"
                )
        self.expect(")", f"')' to close {name}(")
        return node

    def bbox(self) -> Bbox:
        numbers = [self.bbox_number()]
        while self.token.kind == ",":
            self.advance()
            numbers.append(self.bbox_number())
        try:
            box = parse_bbox(",".join(repr(float(n)) for n in numbers))
        except ParameterError as err:
            raise error(f"BBOX: {err.message}") from None
        return box

    def bbox_number(self) -> float:
        return number_value(self.expect("number", "a number in BBOX()").text)

    def wkt_geometry(self) -> GeometryLiteral:
        """A WKT literal: its extent in the text is found by its parentheses, shapely reads it."""
        start = self.token.start
        self.advance()
        while self.token.kind == "name" and self.token.text.upper() in ("Z", "M", "ZM"):
            self.advance()
        if self.accept_keyword("EMPTY"):
            raise error(f"the geometry at character {start + 1} is empty")
        self.expect("(", "'(' to open the geometry's coordinates")
        level = 1
        while level:
            token = self.advance()
            if token.kind == "(":
                level += 1
                if level > 4:  # a GEOMETRYCOLLECTION of MULTIPOLYGONs is as deep as useful WKT goes
                    raise error(f"the geometry at character {start + 1} is nested too deeply")
            elif token.kind == ")":
                level -= 1
            elif token.kind == "number":
                number_value(token.text)  # refuses overflowing coordinates before shapely sees them
            elif token.kind not in (",", "name"):
                raise error(f"the geometry starting at character {start + 1} is not closed or not valid WKT")
        return geometry_literal(self.text[start:self.tokens[self.pos - 1].end], start)


def number_value(text: str) -> int | float:
    if len(text) > MAX_NUMBER_CHARS:
        raise error(f"the number {shown(text)} is too long")
    if re.fullmatch(r"[+-]?[0-9]+", text):
        return int(text)
    value = float(text)
    if not math.isfinite(value):
        raise error(f"the number {shown(text)} is out of range")
    return value


def temporal_value(function: str, text: str) -> date | datetime:
    try:
        if function == "DATE":
            return date.fromisoformat(text)
        value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise error(f"{function}({shown(text)}) is not an RFC 3339 {function.lower()}") from None
    # CQL2 timestamps are in UTC; one without a zone is read as UTC too.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def geometry_literal(wkt: str, start: int) -> GeometryLiteral:
    """WKT checked by shapely: readable, in CRS84's range and valid (PostGIS may fail on invalid shapes)."""
    where = f"the geometry at character {start + 1}"
    try:
        geometry = shapely.force_2d(shapely.wkt.loads(wkt))
    except (ShapelyError, ValueError) as err:
        raise error(f"{where} is not valid WKT: {str(err)[:120]}") from None
    if geometry.is_empty:
        raise error(f"{where} is empty")
    minx, miny, maxx, maxy = geometry.bounds
    if not all(math.isfinite(v) for v in (minx, miny, maxx, maxy)):
        raise error(f"{where} has coordinates that are not finite numbers")
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise error(f"{where} lies outside longitude [-180, 180] and latitude [-90, 90] (CRS84: longitude first)")
    if not geometry.is_valid:
        raise error(f"{where} is invalid: {explain_validity(geometry)[:120]}")
    if polygons_overlap(geometry):
        raise error(f"{where} is a GEOMETRYCOLLECTION whose polygons overlap, which PostGIS cannot test against: "
                    f"give their union (a MULTIPOLYGON) instead")
    return GeometryLiteral(shapely.to_wkt(geometry, rounding_precision=-1))


def polygons_overlap(geometry) -> bool:
    """Whether polygons of a collection share area (their interiors meet, however thinly). Shapely calls
    such a collection valid (each part is), but GEOS's tests against it fail ("side location conflict")."""
    polygons, pending = [], [geometry]
    while pending:
        g = pending.pop()
        if g.geom_type == "GeometryCollection":
            pending.extend(g.geoms)
        elif g.geom_type in ("Polygon", "MultiPolygon"):
            polygons.append(g)
    if len(polygons) < 2:
        return False
    near = shapely.STRtree(polygons).query(polygons, predicate="intersects")  # pairs, index first
    return any(polygons[i].relate_pattern(polygons[j], "2********") for i, j in near.T if i < j)


# --- the translator ----------------------------------------------------------------


def to_sql(tree, queryables: Mapping[str, Queryable]) -> SqlFilter:
    """The tree as one SQL condition with bound parameters, checked against the queryables."""
    translator = Translator(queryables)
    return SqlFilter(translator.condition(tree), translator.params)


def compile_filter(text: str, queryables: Mapping[str, Queryable]) -> SqlFilter:
    return to_sql(parse(text), queryables)


def describe_kind(q: Queryable) -> str:
    return {
        "text": "text", "longtext": "text", "url": "text", "enum": "one of a list of values",
        "integer": "a whole number", "number": "a number", "date": "a date", "boolean": "true or false",
        GEOMETRY: "a geometry",
    }.get(q.kind, q.kind)


class Translator:
    def __init__(self, queryables: Mapping[str, Queryable]):
        self.queryables = queryables
        self.params: dict = {}

    def bind(self, value) -> str:
        name = f"cql{len(self.params)}"
        self.params[name] = value
        return f":{name}"

    def queryable(self, node: Property) -> Queryable:
        q = self.queryables.get(node.name)
        if q is None:
            names = sorted({q.name for q in self.queryables.values()})
            raise error(f"unknown property {shown(node.name)}; this collection's queryables are: {', '.join(names)}")
        return q

    # predicates

    def condition(self, node) -> str:
        match node:
            case Logical(op, items):
                return "(" + f" {op} ".join(self.condition(item) for item in items) + ")"
            case Not(item):
                return f"NOT ({self.condition(item)})"
            case Literal(value, "boolean"):
                return "TRUE" if value else "FALSE"
            case Comparison():
                return self.comparison(node)
            case Like():
                return self.like(node)
            case Between():
                return self.between(node)
            case InList():
                return self.in_list(node)
            case IsNull(negated, value):
                if not isinstance(value, Property):
                    raise error("IS NULL applies to a property")
                return f"{self.queryable(value).column} IS {'NOT ' if negated else ''}NULL"
            case Spatial():
                return self.spatial(node)
        raise error("expected a condition, such as a comparison")  # a bare value where a condition belongs

    def comparison(self, node: Comparison) -> str:
        q, folded = self.subject(node.left, node.right, node.op)
        if q.kind == "boolean" and node.op not in ("=", "<>"):
            raise error(f"{q.name} is true or false: compare it with = or <> only")
        left = self.operand(node.left, q, folded)
        right = self.operand(node.right, q, folded)
        return f"{left} {node.op} {right}"

    def like(self, node: Like) -> str:
        q, folded = self.subject(node.value, node.pattern, "LIKE")
        if q.kind not in TEXT_KINDS:
            raise error(f"LIKE compares text, and {q.name} is {describe_kind(q)}")
        if not isinstance(strip_calls(node.pattern), Literal):
            raise error("the pattern after LIKE must be a quoted string")
        pattern = strip_calls(node.pattern).value
        if isinstance(pattern, str) and (len(pattern) - len(pattern.rstrip("\\"))) % 2:
            raise error("a LIKE pattern cannot end with the escape character \\")
        value = self.operand(node.value, q, folded)
        # Patterns are not enum values: only their type is checked.
        pattern_sql = self.operand(node.pattern, q, folded=True)
        return f"{value} {'NOT ' if node.negated else ''}LIKE {pattern_sql}"

    def between(self, node: Between) -> str:
        if not isinstance(node.value, Property):
            raise error("BETWEEN applies to a property: property BETWEEN low AND high")
        q = self.queryable(node.value)
        if q.kind not in (*NUMBER_KINDS, "date"):
            raise error(f"BETWEEN compares numbers or dates, and {q.name} is {describe_kind(q)}")
        if has_property(node.low) or has_property(node.high):
            raise error("BETWEEN takes values as its bounds: property BETWEEN low AND high")
        low = self.operand(node.low, q, False)
        high = self.operand(node.high, q, False)
        return f"{q.column} {'NOT ' if node.negated else ''}BETWEEN {low} AND {high}"

    def in_list(self, node: InList) -> str:
        if not has_property(node.value):
            raise error("IN applies to a property: property IN (value, ...)")
        if any(has_property(item) for item in node.items):
            raise error("IN between two properties is not supported; list values: property IN (value, ...)")
        q, folded = self.subject(node.value, node.items[0], "IN")
        value = self.operand(node.value, q, folded)
        items = ", ".join(self.operand(item, q, folded) for item in node.items)
        return f"{value} {'NOT ' if node.negated else ''}IN ({items})"

    def spatial(self, node: Spatial) -> str:
        function = SPATIAL_FUNCTIONS[node.name]
        return f"{function}({self.geometry(node.args[0], node.name)}, {self.geometry(node.args[1], node.name)})"

    # operands

    def subject(self, a, b, op: str) -> tuple[Queryable, bool]:
        """The one property a comparison is about, and whether CASEI/ACCENTI fold its text."""
        props = [p for p in (find_property(a), find_property(b)) if p is not None]
        if not props:
            raise error(f"{op} needs a property on one side, e.g. name = 'value'")
        if len(props) == 2:
            raise error(f"{op} between two properties is not supported; compare a property with a value")
        q = self.queryable(props[0])
        if q.kind == GEOMETRY:
            raise self.geometry_misuse(q)
        folded = isinstance(a, Call) or isinstance(b, Call)
        if folded and q.kind not in TEXT_KINDS:
            raise error(f"CASEI and ACCENTI apply to text, and {q.name} is {describe_kind(q)}")
        return q, folded

    def operand(self, node, q: Queryable, folded: bool) -> str:
        match node:
            case Property():
                return self.queryable(node).column
            case Literal():
                return self.bind(self.literal_value(node, q, folded))
            case Call(name, _) if q.kind not in TEXT_KINDS:
                raise error(f"{name} applies to text, and {q.name} is {describe_kind(q)}")
            case Call("CASEI", arg):
                # ICU's root collation lowers Vietnamese capitals whatever the database's locale (C would not).
                return f'lower({self.operand(arg, q, folded)} COLLATE "und-x-icu")'
            case Call("ACCENTI", arg):
                # The two-argument form names its dictionary: no dependence on search_path.
                return f"public.unaccent('public.unaccent', {self.operand(arg, q, folded)})"
        raise error(f"{q.name} is {describe_kind(q)}: a geometry or function cannot be compared with it")

    def literal_value(self, node: Literal, q: Queryable, folded: bool):
        """The literal as the Python value PostgreSQL should compare with q, or a clear error."""
        if q.kind in TEXT_KINDS:
            if node.type != "string":
                raise error(f"{q.name} is text: compare it with a quoted string, such as '{node.value}'")
            if q.kind == "enum" and not folded and node.value not in q.choices:
                raise error(f"{q.name}: unknown value {shown(node.value)}; expected one of {', '.join(q.choices)}")
            return node.value
        if q.kind in NUMBER_KINDS:
            if node.type != "number":
                raise error(f"{q.name} is {describe_kind(q)}: compare it with a number, without quotes")
            return node.value
        if q.kind == "boolean":
            if node.type != "boolean":
                raise error(f"{q.name} is true or false: compare it with TRUE or FALSE")
            return node.value
        if q.kind == "date":
            return date_value(node, q)
        raise self.geometry_misuse(q)

    def geometry(self, node, function: str) -> str:
        match node:
            case Property():
                q = self.queryable(node)
                if q.kind != GEOMETRY:
                    raise error(f"{function} compares geometries, and {q.name} is {describe_kind(q)}")
                return q.column
            case GeometryLiteral(wkt):
                return f"ST_GeomFromText({self.bind(wkt)}, 4326)"
            case Bbox(minx, miny, maxx, maxy):
                corners = ", ".join(self.bind(v) for v in (minx, miny, maxx, maxy))
                return f"ST_MakeEnvelope({corners}, 4326)"
        raise error(f"{function} takes two geometries: the geometry property, WKT such as POINT(106.2 20.4), or BBOX(...)")

    def geometry_misuse(self, q: Queryable) -> ParameterError:
        return error(f"{q.name} is a geometry: use it in a spatial function such as S_INTERSECTS({q.name}, POLYGON(...))")


def strip_calls(node):
    while isinstance(node, Call):
        node = node.arg
    return node


def find_property(node) -> Property | None:
    node = strip_calls(node)
    return node if isinstance(node, Property) else None


def has_property(node) -> bool:
    return find_property(node) is not None


def date_value(node: Literal, q: Queryable) -> date | datetime:
    if node.type in ("date", "timestamp"):
        return node.value
    if node.type == "string":
        # Clients such as GDAL write dates as plain strings.
        try:
            if len(node.value) == 10:
                return date.fromisoformat(node.value)
            return temporal_value("TIMESTAMP", node.value)
        except (ValueError, ParameterError):
            pass
    raise error(f"{q.name} is a date: compare it with DATE('2020-01-31')")
