"""A SoQL subset: tokenizer, parser and compiler to SQLite expressions, typed by Socrata column types.

Literals are inlined into the SQL (strings escaped by doubling quotes, numbers validated by the tokenizer), so
the compiled fragments compose without tracking parameter order.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from citysim.replay.errors import SodaError, malformed, no_such_column, type_mismatch

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<str>'(?:[^']|'')*')
    | (?P<num>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+)
    | (?P<sys>:\*|:[A-Za-z_@][A-Za-z0-9_@]*)
    | (?P<bq>`[^`]+`)
    | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<op><=|>=|!=|<>|==|\|\||[=<>(),*+\-/%])
    )""",
    re.VERBOSE,
)
_KEYWORDS = frozenset(
    {
        "and",
        "or",
        "not",
        "is",
        "null",
        "in",
        "between",
        "like",
        "as",
        "asc",
        "desc",
        "true",
        "false",
        "distinct",
    }
)
_AGGREGATES = frozenset({"count", "sum", "avg", "min", "max"})
_TRUNC = {"date_trunc_y": (4, "-01-01"), "date_trunc_ym": (7, "-01"), "date_trunc_ymd": (10, "")}


@dataclass(frozen=True)
class Tok:
    kind: str  # str, num, sys, ident, kw, op, end
    text: str
    pos: int


def tokenize(text: str) -> list[Tok]:
    toks: list[Tok] = []
    pos = 0
    n = len(text)
    while pos < n:
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise malformed(f"Unexpected character at position {pos}: {text[pos : pos + 10]!r}", pos)
        kind = m.lastgroup or "op"
        value = m.group(kind)
        start = m.start(kind)
        if kind == "str":
            value = value[1:-1].replace("''", "'")
        elif kind == "bq":
            kind, value = "ident", value[1:-1]
        elif kind == "ident" and value.lower() in _KEYWORDS:
            kind, value = "kw", value.lower()
        toks.append(Tok(kind, value, start))
        pos = m.end()
    toks.append(Tok("end", "", n))
    return toks


# --- AST ---


@dataclass(frozen=True)
class Lit:
    value: object  # str, float/int, bool or None
    kind: str  # text, number, boolean, null
    pos: int


@dataclass(frozen=True)
class Col:
    name: str
    pos: int


@dataclass(frozen=True)
class Star:
    system: bool  # `:*` (system fields) vs `*` (all columns)
    pos: int


@dataclass(frozen=True)
class Func:
    name: str
    args: tuple[Expr, ...]
    pos: int
    star: bool = False
    distinct: bool = False


@dataclass(frozen=True)
class BinOp:
    op: str
    left: Expr
    right: Expr
    pos: int


@dataclass(frozen=True)
class Not:
    expr: Expr
    pos: int


@dataclass(frozen=True)
class IsNull:
    expr: Expr
    negated: bool
    pos: int


@dataclass(frozen=True)
class InList:
    expr: Expr
    items: tuple[Expr, ...]
    negated: bool
    pos: int


@dataclass(frozen=True)
class Between:
    expr: Expr
    low: Expr
    high: Expr
    negated: bool
    pos: int


@dataclass(frozen=True)
class Like:
    expr: Expr
    pattern: Expr
    negated: bool
    pos: int


Expr = Lit | Col | Func | BinOp | Not | IsNull | InList | Between | Like


@dataclass(frozen=True)
class SelectItem:
    expr: Expr | Star
    alias: str | None
    pos: int


# --- parser ---


class _Parser:
    def __init__(self, text: str):
        self.toks = tokenize(text)
        self.i = 0

    @property
    def tok(self) -> Tok:
        return self.toks[self.i]

    def next(self) -> Tok:
        t = self.toks[self.i]
        self.i += 1
        return t

    def accept(self, kind: str, text: str | None = None) -> Tok | None:
        t = self.tok
        if t.kind == kind and (text is None or t.text == text):
            self.i += 1
            return t
        return None

    def expect(self, kind: str, text: str | None = None) -> Tok:
        t = self.accept(kind, text)
        if t is None:
            want = text or kind
            raise malformed(f"Expected {want!r} but got {self.tok.text or 'end of input'!r}", self.tok.pos)
        return t

    def done(self) -> None:
        if self.tok.kind != "end":
            raise malformed(f"Unexpected {self.tok.text!r}", self.tok.pos)

    # expressions, loosest binding first
    def expr(self) -> Expr:
        left = self.and_expr()
        while t := self.accept("kw", "or"):
            left = BinOp("or", left, self.and_expr(), t.pos)
        return left

    def and_expr(self) -> Expr:
        left = self.not_expr()
        while t := self.accept("kw", "and"):
            left = BinOp("and", left, self.not_expr(), t.pos)
        return left

    def not_expr(self) -> Expr:
        if t := self.accept("kw", "not"):
            return Not(self.not_expr(), t.pos)
        return self.predicate()

    def predicate(self) -> Expr:
        left = self.additive()
        t = self.tok
        if t.kind == "op" and t.text in ("=", "==", "!=", "<>", "<", "<=", ">", ">="):
            self.next()
            op = {"==": "=", "<>": "!="}.get(t.text, t.text)
            return BinOp(op, left, self.additive(), t.pos)
        if self.accept("kw", "is"):
            negated = self.accept("kw", "not") is not None
            self.expect("kw", "null")
            return IsNull(left, negated, t.pos)
        negated = self.accept("kw", "not") is not None
        if self.accept("kw", "in"):
            self.expect("op", "(")
            items = [self.additive()]
            while self.accept("op", ","):
                items.append(self.additive())
            self.expect("op", ")")
            return InList(left, tuple(items), negated, t.pos)
        if self.accept("kw", "between"):
            low = self.additive()
            self.expect("kw", "and")
            return Between(left, low, self.additive(), negated, t.pos)
        if self.accept("kw", "like"):
            return Like(left, self.additive(), negated, t.pos)
        if negated:
            raise malformed("Expected IN, BETWEEN or LIKE after NOT", t.pos)
        return left

    def additive(self) -> Expr:
        left = self.multiplicative()
        while self.tok.kind == "op" and self.tok.text in ("+", "-", "||"):
            t = self.next()
            left = BinOp(t.text, left, self.multiplicative(), t.pos)
        return left

    def multiplicative(self) -> Expr:
        left = self.unary()
        while self.tok.kind == "op" and self.tok.text in ("*", "/", "%"):
            t = self.next()
            left = BinOp(t.text, left, self.unary(), t.pos)
        return left

    def unary(self) -> Expr:
        if t := self.accept("op", "-"):
            inner = self.unary()
            if isinstance(inner, Lit) and inner.kind == "number":
                return Lit(-inner.value, "number", t.pos)  # type: ignore[operator]
            return BinOp("-", Lit(0, "number", t.pos), inner, t.pos)
        return self.primary()

    def primary(self) -> Expr:
        t = self.next()
        if t.kind == "str":
            return Lit(t.text, "text", t.pos)
        if t.kind == "num":
            value: float | int = float(t.text) if any(c in t.text for c in ".eE") else int(t.text)
            return Lit(value, "number", t.pos)
        if t.kind == "kw" and t.text in ("true", "false"):
            return Lit(t.text == "true", "boolean", t.pos)
        if t.kind == "kw" and t.text == "null":
            return Lit(None, "null", t.pos)
        if t.kind == "sys" and t.text != ":*":
            return Col(t.text, t.pos)
        if t.kind == "ident":
            if self.accept("op", "("):
                return self.call(t)
            return Col(t.text, t.pos)
        if t.kind == "op" and t.text == "(":
            inner = self.expr()
            self.expect("op", ")")
            return inner
        raise malformed(f"Unexpected {t.text or 'end of input'!r}", t.pos)

    def call(self, name: Tok) -> Func:
        fname = name.text.lower()
        if self.accept("op", "*"):
            self.expect("op", ")")
            return Func(fname, (), name.pos, star=True)
        distinct = self.accept("kw", "distinct") is not None
        args: list[Expr] = []
        if not self.accept("op", ")"):
            args.append(self.expr())
            while self.accept("op", ","):
                args.append(self.expr())
            self.expect("op", ")")
        return Func(fname, tuple(args), name.pos, distinct=distinct)


def parse_where(text: str) -> Expr:
    p = _Parser(text)
    e = p.expr()
    p.done()
    return e


def parse_select(text: str) -> list[SelectItem]:
    p = _Parser(text)
    items: list[SelectItem] = []
    while True:
        t = p.tok
        if p.accept("op", "*"):
            items.append(SelectItem(Star(False, t.pos), None, t.pos))
        elif p.accept("sys", ":*"):
            items.append(SelectItem(Star(True, t.pos), None, t.pos))
        else:
            e = p.expr()
            alias = None
            if p.accept("kw", "as"):
                alias = p.expect("ident").text
            items.append(SelectItem(e, alias, t.pos))
        if not p.accept("op", ","):
            break
    p.done()
    return items


def parse_order(text: str) -> list[tuple[Expr, bool]]:
    """`$order` keys as (expression, descending)."""
    p = _Parser(text)
    keys: list[tuple[Expr, bool]] = []
    while True:
        e = p.expr()
        desc = False
        if p.accept("kw", "desc"):
            desc = True
        else:
            p.accept("kw", "asc")
        keys.append((e, desc))
        if not p.accept("op", ","):
            break
    p.done()
    return keys


def parse_group(text: str) -> list[Expr]:
    p = _Parser(text)
    exprs = [p.expr()]
    while p.accept("op", ","):
        exprs.append(p.expr())
    p.done()
    return exprs


# --- compiler ---

_NUMERIC = frozenset({"number", "money"})
_TEXTUAL = frozenset({"text", "row_identifier", "url"})


def comparable(sql: str, socrata_type: str) -> str:
    """A stored column as comparisons see it: numbers are stored as the API's strings, so compared as numbers.
    The store indexes exactly this expression for the columns a dataset is partitioned by (store.py)."""
    return f"CAST({sql} AS REAL)" if _family(socrata_type) == "number" else sql


def _family(t: str) -> str:
    if t in _NUMERIC:
        return "number"
    if t in _TEXTUAL:
        return "text"
    return t


def sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def normalize_timestamp(value: str, fixed: bool, pos: int = 0) -> str:
    """A timestamp literal in the stored form, so string order is time order."""
    try:
        dt = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        kind = "fixed_timestamp" if fixed else "floating_timestamp"
        raise type_mismatch(f"Cannot convert {value!r} to {kind}", pos) from exc
    if fixed:
        dt = dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
        return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}"


@dataclass(frozen=True)
class Compiled:
    sql: str
    type: str  # Socrata type of the value, or "boolean" for predicates
    aggregate: bool = False


class Compiler:
    """Compiles SoQL expressions for one dataset; `column_sql` maps a field name to its SQLite column."""

    def __init__(self, dataset_id: str, types: dict[str, str], column_sql: Callable[[str], str]):
        self.dataset_id = dataset_id
        self.types = types
        self.column_sql = column_sql

    def resolve(self, name: str, pos: int) -> str:
        if name in self.types:
            return name
        if name.lower() in self.types:
            return name.lower()
        raise no_such_column(name, self.dataset_id, pos)

    def compile(self, e: Expr) -> Compiled:
        if isinstance(e, Lit):
            return self._literal(e)
        if isinstance(e, Col):
            name = self.resolve(e.name, e.pos)
            return Compiled(self.column_sql(name), self.types[name])
        if isinstance(e, Func):
            return self._func(e)
        if isinstance(e, Not):
            inner = self.compile(e.expr)
            return Compiled(f"(NOT {inner.sql})", "boolean", inner.aggregate)
        if isinstance(e, IsNull):
            inner = self.compile(e.expr)
            return Compiled(f"({inner.sql} IS {'NOT ' if e.negated else ''}NULL)", "boolean", inner.aggregate)
        if isinstance(e, InList):
            left = self.compile(e.expr)
            items = [self._coerce(i, left.type) for i in e.items]
            neg = "NOT " if e.negated else ""
            return Compiled(f"({self._cmp_side(left)} {neg}IN ({', '.join(items)}))", "boolean", left.aggregate)
        if isinstance(e, Between):
            left = self.compile(e.expr)
            lo, hi = self._coerce(e.low, left.type), self._coerce(e.high, left.type)
            neg = "NOT " if e.negated else ""
            return Compiled(f"({self._cmp_side(left)} {neg}BETWEEN {lo} AND {hi})", "boolean", left.aggregate)
        if isinstance(e, Like):
            left = self.compile(e.expr)
            if _family(left.type) != "text":
                raise type_mismatch(f"LIKE needs text, got {left.type}", e.pos)
            pattern = self._coerce(e.pattern, "text")
            neg = "NOT " if e.negated else ""
            return Compiled(f"({left.sql} {neg}LIKE {pattern})", "boolean", left.aggregate)
        if isinstance(e, BinOp):
            return self._binop(e)
        raise malformed(f"Unsupported expression {e!r}")

    def compile_comparison(self, left: Expr, op: str, right: Expr) -> str:
        return self._binop(BinOp(op, left, right, getattr(left, "pos", 0))).sql

    def order_operand(self, c: Compiled) -> str:
        return self._cmp_side(c)

    def _literal(self, e: Lit) -> Compiled:
        if e.kind == "text":
            return Compiled(sql_str(str(e.value)), "text")
        if e.kind == "number":
            return Compiled(repr(e.value), "number")
        if e.kind == "boolean":
            return Compiled("'true'" if e.value else "'false'", "checkbox")
        return Compiled("NULL", "null")

    def _cmp_side(self, c: Compiled) -> str:
        return c.sql if c.aggregate else comparable(c.sql, c.type)

    def _coerce(self, e: Expr, target: str) -> str:
        """A comparison operand as SQL, with literals converted to the other side's type (as SoQL does)."""
        fam = _family(target)
        if isinstance(e, Lit):
            if e.kind == "null":
                return "NULL"
            if fam == "number":
                if e.kind == "number":
                    return repr(e.value)
                if e.kind == "text" and _is_number(str(e.value)):
                    return repr(float(str(e.value)))
                raise type_mismatch(f"Type mismatch: cannot compare number with {e.kind} {e.value!r}", e.pos)
            if fam in ("floating_timestamp", "fixed_timestamp"):
                if e.kind != "text":
                    raise type_mismatch(f"Type mismatch: cannot compare {fam} with {e.kind}", e.pos)
                return sql_str(normalize_timestamp(str(e.value), fam == "fixed_timestamp", e.pos))
            if fam == "checkbox":
                if e.kind == "boolean" or (e.kind == "text" and str(e.value).lower() in ("true", "false")):
                    return "'true'" if str(e.value).lower() == "true" else "'false'"
                raise type_mismatch(f"Type mismatch: cannot compare checkbox with {e.kind}", e.pos)
            if fam == "text" and e.kind != "text":
                raise type_mismatch(f"Type mismatch: cannot compare text with {e.kind} {e.value!r}", e.pos)
            return self._literal(e).sql
        c = self.compile(e)
        if _family(c.type) != fam and c.type != "null":
            raise type_mismatch(f"Type mismatch: cannot compare {target} with {c.type}", getattr(e, "pos", 0))
        return self._cmp_side(c)

    def _binop(self, e: BinOp) -> Compiled:
        if e.op in ("and", "or"):
            left, right = self.compile(e.left), self.compile(e.right)
            return Compiled(f"({left.sql} {e.op.upper()} {right.sql})", "boolean", left.aggregate or right.aggregate)
        if e.op in ("=", "!=", "<", "<=", ">", ">="):
            # The non-literal side decides the type; literals are coerced to it.
            if isinstance(e.left, Lit) and not isinstance(e.right, Lit):
                right = self.compile(e.right)
                left_sql, right_sql, agg = (
                    self._coerce(e.left, right.type),
                    self._cmp_side(right),
                    right.aggregate,
                )
            else:
                left = self.compile(e.left)
                left_sql, right_sql, agg = (
                    self._cmp_side(left),
                    self._coerce(e.right, left.type),
                    left.aggregate,
                )
            op = "!=" if e.op == "!=" else e.op
            return Compiled(f"({left_sql} {op} {right_sql})", "boolean", agg)
        left, right = self.compile(e.left), self.compile(e.right)
        if e.op == "||":
            return Compiled(f"({left.sql} || {right.sql})", "text", left.aggregate or right.aggregate)
        if _family(left.type) != "number" or _family(right.type) != "number":
            raise type_mismatch(f"Operator {e.op} needs numbers, got {left.type} and {right.type}", e.pos)
        return Compiled(
            f"({self._cmp_side(left)} {e.op} {self._cmp_side(right)})",
            "number",
            left.aggregate or right.aggregate,
        )

    def _func(self, e: Func) -> Compiled:
        name = e.name
        if name in _AGGREGATES:
            if e.star:
                if name != "count":
                    raise malformed(f"{name}(*) is not supported", e.pos)
                return Compiled("COUNT(*)", "number", aggregate=True)
            if len(e.args) != 1:
                raise malformed(f"{name}() takes one argument", e.pos)
            arg = self.compile(e.args[0])
            distinct = "DISTINCT " if e.distinct else ""
            if name == "count":
                return Compiled(f"COUNT({distinct}{arg.sql})", "number", aggregate=True)
            if name in ("sum", "avg"):
                if _family(arg.type) != "number":
                    raise type_mismatch(f"{name}() needs a number, got {arg.type}", e.pos)
                return Compiled(f"{name.upper()}({distinct}{self._cmp_side(arg)})", "number", aggregate=True)
            return Compiled(f"{name.upper()}({self._cmp_side(arg)})", arg.type, aggregate=True)
        args = [self.compile(a) for a in e.args]
        agg = any(a.aggregate for a in args)
        if name in ("upper", "lower") and len(args) == 1:
            return Compiled(f"{name.upper()}({args[0].sql})", "text", agg)
        if name in ("starts_with", "contains") and len(args) == 2:
            needle = self._coerce(e.args[1], "text")
            if name == "starts_with":
                return Compiled(f"(substr({args[0].sql}, 1, length({needle})) = {needle})", "boolean", agg)
            return Compiled(f"(instr({args[0].sql}, {needle}) > 0)", "boolean", agg)
        if name in ("date_trunc_y", "date_trunc_ym", "date_trunc_ymd") and len(args) == 1:
            keep, pad = _TRUNC[name]
            sql = f"(substr({args[0].sql}, 1, {keep}) || '{pad}T00:00:00.000')"
            return Compiled(sql, "floating_timestamp", agg)
        raise malformed(f"Unknown function {name}() or wrong number of arguments", e.pos)


def _is_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def default_alias(e: Expr | Star) -> str:
    """Socrata's output name for an unaliased select expression (`count(*)` -> `count`)."""
    if isinstance(e, Col):
        return e.name
    if isinstance(e, Func):
        if e.star or not e.args:
            return e.name
        parts = [default_alias(a) for a in e.args if isinstance(a, Col | Func)]
        return "_".join([e.name, *parts]).lstrip(":")
    return "expr"


def ensure_soda_error(exc: Exception) -> SodaError:
    return exc if isinstance(exc, SodaError) else malformed(str(exc))
