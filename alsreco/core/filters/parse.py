"""The filter language: text -> syntax tree, with a message naming what is wrong and where.

    filter     := (INCLUDE | EXCLUDE) ItemID WHERE or
    or         := and (OR and)*
    and        := not (AND not)*
    not        := NOT not | '(' or ')' | comparison
    comparison := field op operand | field [NOT] IN set
    field      := ItemID | Items.<attribute>
    op         := = | != | <> | < | <= | > | >=
    operand    := literal | $name
    set        := '(' operand (',' operand)* ')' | $name | Purchases.<attribute> | Purchases.ItemID
    literal    := "text" | 'text' | number | TRUE | FALSE

Keywords and `Items` / `Purchases` / `ItemID` are case-insensitive; a quote inside a string is
written twice. This is Amazon Personalize's filter syntax with `Purchases.<attribute>` (the
values of that attribute over the customer's own purchases) in place of `Interactions.*`, plus
NOT and parentheses. Limits keep a hostile expression cheap to refuse: MAX_CHARS characters,
MAX_DEPTH levels of nesting, MAX_SET values in one IN list.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Union

MAX_CHARS = 100_000
MAX_DEPTH = 32
MAX_SET = 10_000
KEYWORDS = {"INCLUDE", "EXCLUDE", "ITEMID", "WHERE", "AND", "OR", "NOT", "IN", "TRUE", "FALSE"}
OPS = ("<=", ">=", "!=", "<>", "=", "<", ">")
_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<string>"(?:[^"]|"")*"|'(?:[^']|'')*')
  | (?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
  | (?P<param>\$[A-Za-z_][A-Za-z0-9_]*)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?)
  | (?P<op><=|>=|!=|<>|=|<|>)
  | (?P<punct>[(),])
""", re.VERBOSE)


class FilterError(ValueError):
    """A filter that cannot be used; the message says what and where (a 400 when serving)."""


@dataclass(frozen=True)
class Token:
    kind: str  # string | number | param | name | op | punct | end
    text: str
    pos: int  # 1-based character position


@dataclass(frozen=True)
class Field:
    attribute: str | None  # None: ItemID
    pos: int


@dataclass(frozen=True)
class Literal:
    value: Union[str, float, bool]
    pos: int


@dataclass(frozen=True)
class Param:
    name: str
    pos: int


@dataclass(frozen=True)
class Purchased:
    attribute: str | None  # None: Purchases.ItemID
    pos: int


@dataclass(frozen=True)
class Compare:
    field: Field
    op: str  # = != < <= > >= IN NOT IN
    operand: Union[Literal, Param, Purchased, tuple]  # tuple of Literal | Param for an IN list
    pos: int


@dataclass(frozen=True)
class And:
    parts: tuple


@dataclass(frozen=True)
class Or:
    parts: tuple


@dataclass(frozen=True)
class Not:
    part: object


@dataclass(frozen=True)
class Filter:
    action: str  # INCLUDE | EXCLUDE
    where: object
    text: str


def tokens(text: str) -> list[Token]:
    out, at = [], 0
    while at < len(text):
        m = _TOKEN.match(text, at)
        if m is None:
            raise FilterError(f"unexpected character {text[at]!r} at position {at + 1}")
        if m.lastgroup != "ws":
            out.append(Token(m.lastgroup or "", m.group(), at + 1))
        at = m.end()
    out.append(Token("end", "", len(text) + 1))
    return out


class _Parser:
    def __init__(self, text: str):
        self.toks = tokens(text)
        self.i = 0
        self.depth = 0

    @property
    def tok(self) -> Token:
        return self.toks[self.i]

    def take(self) -> Token:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def is_word(self, *words: str) -> bool:
        return self.tok.kind == "name" and self.tok.text.upper() in words

    def expect_word(self, word: str, what: str) -> None:
        if not self.is_word(word):
            raise self.error(f"expected {what}")
        self.take()

    def error(self, what: str) -> FilterError:
        got = "the end of the filter" if self.tok.kind == "end" else repr(self.tok.text[:40])
        return FilterError(f"{what} at position {self.tok.pos}, found {got}")

    def nest(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"nested more than {MAX_DEPTH} levels deep")

    def parse(self, text: str) -> Filter:
        if not self.is_word("INCLUDE", "EXCLUDE"):
            raise self.error("a filter starts with INCLUDE or EXCLUDE (e.g. EXCLUDE ItemID WHERE "
                             "Items.category IN ($cats))")
        action = self.take().text.upper()
        self.expect_word("ITEMID", "ItemID after " + action)
        self.expect_word("WHERE", "WHERE")
        where = self.or_()
        if self.tok.kind != "end":
            raise self.error("expected AND, OR or the end of the filter")
        return Filter(action, where, text)

    def or_(self):
        parts = [self.and_()]
        while self.is_word("OR"):
            self.take()
            parts.append(self.and_())
        return parts[0] if len(parts) == 1 else Or(tuple(parts))

    def and_(self):
        parts = [self.not_()]
        while self.is_word("AND"):
            self.take()
            parts.append(self.not_())
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def not_(self):
        self.nest()
        try:
            if self.is_word("NOT"):
                self.take()
                return Not(self.not_())
            if self.tok.text == "(":
                self.take()
                inner = self.or_()
                if self.tok.text != ")":
                    raise self.error("expected ')'")
                self.take()
                return inner
            return self.comparison()
        finally:
            self.depth -= 1

    def field(self) -> Field:
        tok = self.tok
        if tok.kind == "name" and tok.text.upper() == "ITEMID":
            self.take()
            return Field(None, tok.pos)
        if tok.kind == "name" and "." in tok.text:
            source, attribute = tok.text.split(".", 1)
            if source.upper() == "ITEMS":
                self.take()
                return Field(attribute, tok.pos)
            if source.upper() == "PURCHASES":
                raise self.error("Purchases.<attribute> goes on the right of IN (Items.<attribute> IN "
                                 "Purchases.<attribute>)")
        raise self.error("expected ItemID or Items.<attribute>")

    def comparison(self) -> Compare:
        field = self.field()
        pos = self.tok.pos
        if self.tok.kind == "op":
            op = self.take().text
            return Compare(field, "!=" if op == "<>" else op, self.operand(), pos)
        negated = self.is_word("NOT")
        if negated:
            self.take()
        if not self.is_word("IN"):
            raise self.error("expected a comparison (=, !=, <, <=, >, >=) or [NOT] IN")
        self.take()
        return Compare(field, "NOT IN" if negated else "IN", self.set_(), pos)

    def operand(self):
        tok = self.tok
        if tok.kind == "string":
            self.take()
            quote = tok.text[0]
            return Literal(tok.text[1:-1].replace(quote * 2, quote), tok.pos)
        if tok.kind == "number":
            self.take()
            return Literal(float(tok.text), tok.pos)
        if tok.kind == "param":
            self.take()
            return Param(tok.text[1:], tok.pos)
        if self.is_word("TRUE", "FALSE"):
            self.take()
            return Literal(tok.text.upper() == "TRUE", tok.pos)
        raise self.error("expected a value (\"text\", a number, true, false or $name)")

    def set_(self):
        tok = self.tok
        if tok.kind == "param":
            self.take()
            return Param(tok.text[1:], tok.pos)
        if tok.kind == "name" and tok.text.upper().startswith("PURCHASES."):
            self.take()
            attribute = tok.text.split(".", 1)[1]
            return Purchased(None if attribute.upper() == "ITEMID" else attribute, tok.pos)
        if tok.text != "(":
            raise self.error("expected ( values ), $name or Purchases.<attribute> after IN")
        self.take()
        items = [self.operand()]
        while self.tok.text == ",":
            self.take()
            items.append(self.operand())
            if len(items) > MAX_SET:
                raise self.error(f"more than {MAX_SET} values in one IN list (pass a $name list instead)")
        if self.tok.text != ")":
            raise self.error("expected ',' or ')'")
        self.take()
        return tuple(items)


def parse(text: str) -> Filter:
    """The syntax tree of a filter; FilterError naming the problem and its position."""
    if not isinstance(text, str):
        raise FilterError("a filter is text")
    if len(text) > MAX_CHARS:
        raise FilterError(f"a filter is at most {MAX_CHARS} characters long, this one has {len(text)}")
    return _Parser(text).parse(text)
