"""The filter language: grammar and precedence, every operator on every attribute kind, every
error named, and the numpy masks equal to a plain-Python reference on random catalogues."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alsreco.core.catalog import Catalog, encode
from alsreco.core.filters import FilterBook, FilterError, parse, removed, spec_of
from alsreco.core.filters.parse import MAX_CHARS, MAX_DEPTH, MAX_SET, And, Compare, Not, Or

IDS = ["A", "B", "C", "D", "E"]
ROWS = {  # product -> attributes (None: missing)
    "A": {"category": "toys", "price": 5.0, "in_stock": True, "tags": ["red", "kids"], "added": "2026-11-01"},
    "B": {"category": "toys", "price": 25.0, "in_stock": False, "tags": ["blue"], "added": "2026-12-01"},
    "C": {"category": "garden", "price": 12.5, "in_stock": True, "tags": [], "added": None},
    "D": {"category": None, "price": None, "in_stock": None, "tags": ["red"], "added": "2025-01-31"},
    "E": {"category": "adult", "price": 99.0, "in_stock": True, "tags": ["adult", "red"], "added": "2026-12-05"},
}
KINDS = {"category": "string", "price": "number", "in_stock": "bool", "tags": "list", "added": "date"}


def small_catalog() -> Catalog:
    cat = Catalog(len(IDS))
    for name, kind in KINDS.items():
        cat.columns[name] = encode(name, kind, [ROWS[p][name] for p in IDS])
    return cat


BOOK = FilterBook(small_catalog(), {p: i for i, p in enumerate(IDS)},
                  named={"in_stock": "INCLUDE ItemID WHERE Items.in_stock = true"})


def kept(text, values=None, bought=None):
    """The products a filter leaves in (for one customer who bought `bought`)."""
    spec = spec_of(text, values)
    mask = removed(BOOK.bind(spec), len(IDS), [np.array([IDS.index(p) for p in bought or []], dtype=np.int64)])
    mask = mask[0] if mask.ndim == 2 else mask
    return [p for p, out in zip(IDS, mask) if not out]


@pytest.mark.parametrize("text, values, expected", [
    ('EXCLUDE ItemID WHERE Items.category IN ($cats)', {"cats": ["toys"]}, ["C", "D", "E"]),
    ('INCLUDE ItemID WHERE Items.category IN ("toys", "garden")', None, ["A", "B", "C"]),
    ("include itemid where items.CATEGORY = 'toys'", None, ["A", "B"]),
    ('EXCLUDE ItemID WHERE Items.category != "toys"', None, ["A", "B"]),          # missing is != toys
    ('INCLUDE ItemID WHERE Items.category NOT IN ("toys")', None, ["C", "D", "E"]),
    ("INCLUDE ItemID WHERE Items.price < 20", None, ["A", "C"]),
    ("INCLUDE ItemID WHERE Items.price <= 25", None, ["A", "B", "C"]),
    ("INCLUDE ItemID WHERE Items.price > 12.5", None, ["B", "E"]),
    ("INCLUDE ItemID WHERE Items.price >= 12.5 AND Items.price < $max", {"max": 50}, ["B", "C"]),
    ("INCLUDE ItemID WHERE Items.price = 5", None, ["A"]),
    ("INCLUDE ItemID WHERE Items.price <> 5", None, ["B", "C", "D", "E"]),
    ("INCLUDE ItemID WHERE Items.price IN (5, 99)", None, ["A", "E"]),
    ("INCLUDE ItemID WHERE Items.in_stock = true", None, ["A", "C", "E"]),
    ("EXCLUDE ItemID WHERE Items.in_stock = false", None, ["A", "C", "D", "E"]),
    ("in_stock", None, ["A", "C", "E"]),                                              # a named filter
    ('INCLUDE ItemID WHERE Items.tags = "red"', None, ["A", "D", "E"]),
    ('INCLUDE ItemID WHERE Items.tags != "red"', None, ["B", "C"]),
    ('EXCLUDE ItemID WHERE Items.tags IN ($t)', {"t": ["adult", "blue"]}, ["A", "C", "D"]),
    ('INCLUDE ItemID WHERE Items.tags NOT IN ("red")', None, ["B", "C"]),
    ('INCLUDE ItemID WHERE Items.added >= "2026-11-15"', None, ["B", "E"]),
    ('INCLUDE ItemID WHERE Items.added < $d', {"d": "2026-11-01T12:00:00Z"}, ["D"]),
    ('INCLUDE ItemID WHERE Items.added IN ("2025-01-31")', None, ["D"]),
    ('EXCLUDE ItemID WHERE ItemID IN ("A", "Z")', None, ["B", "C", "D", "E"]),
    ('INCLUDE ItemID WHERE ItemID = $one', {"one": "C"}, ["C"]),
    # precedence: AND binds tighter than OR; NOT; parentheses
    ('INCLUDE ItemID WHERE Items.category = "toys" OR Items.price > 50 AND Items.in_stock = true', None,
     ["A", "B", "E"]),
    ('INCLUDE ItemID WHERE (Items.category = "toys" OR Items.price > 50) AND Items.in_stock = true', None,
     ["A", "E"]),
    ('INCLUDE ItemID WHERE NOT Items.category = "toys" AND NOT Items.tags = "red"', None, ["C"]),
    ('INCLUDE ItemID WHERE NOT (Items.category = "toys" OR Items.price IN (99))', None, ["C", "D"]),
])
def test_operators_precedence_and_missing_values(text, values, expected):
    assert kept(text, values) == expected


def test_the_customers_own_purchases():
    same = 'INCLUDE ItemID WHERE Items.category IN Purchases.category'
    assert kept(same, bought=["A"]) == ["A", "B"]
    assert kept(same, bought=[]) == []
    assert kept('EXCLUDE ItemID WHERE Items.tags IN Purchases.tags', bought=["B"]) == ["A", "C", "D", "E"]
    assert kept('EXCLUDE ItemID WHERE Items.tags IN Purchases.tags', bought=["D"]) == ["B", "C"]
    assert kept('EXCLUDE ItemID WHERE ItemID IN Purchases.ItemID', bought=["C", "E"]) == ["A", "B", "D"]
    assert kept('INCLUDE ItemID WHERE Items.category NOT IN Purchases.category OR Items.price < 6',
                bought=["A"]) == ["A", "C", "D", "E"]
    # several customers at once: one row each
    spec = spec_of(same, None)
    rows = removed(BOOK.bind(spec), 5, [np.array([0]), np.array([2]), np.array([], dtype=np.int64)])
    assert rows.shape == (3, 5) and (~rows).sum(axis=1).tolist() == [2, 1, 0]


@pytest.mark.parametrize("text, values, words", [
    ("ItemID WHERE x", None, "starts with INCLUDE or EXCLUDE"),
    ("INCLUDE WHERE Items.price < 1", None, "expected ItemID after INCLUDE at position 9"),
    ("INCLUDE ItemID Items.price < 1", None, "expected WHERE at position 16"),
    ("INCLUDE ItemID WHERE Items.price < 1 Items", None, "expected AND, OR or the end"),
    ("INCLUDE ItemID WHERE (Items.price < 1", None, "expected ')' at position 38, found the end"),
    ("INCLUDE ItemID WHERE Items.price <", None, "expected a value"),
    ("INCLUDE ItemID WHERE Items.price ~ 1", None, "unexpected character '~' at position 34"),
    ('INCLUDE ItemID WHERE Items.category = "toys', None, "unexpected character '\"'"),
    ("INCLUDE ItemID WHERE Items.colour = 'red'", None, "unknown attribute Items.colour at position 22"),
    ("INCLUDE ItemID WHERE Items.category < 'toys'", None, "Items.category is text: < does not apply"),
    ("INCLUDE ItemID WHERE Items.tags > 'a'", None, "Items.tags is a list of text: > does not apply"),
    ("INCLUDE ItemID WHERE Items.in_stock < true", None, "true or false: < does not apply"),
    ("INCLUDE ItemID WHERE Items.category = 5", None, "Items.category at position 39 is text: write the value"),
    ("INCLUDE ItemID WHERE Items.price = 'cheap'", None, "is a number, not 'cheap'"),
    ("INCLUDE ItemID WHERE Items.in_stock = 'yes'", None, "is true or false, not 'yes'"),
    ("INCLUDE ItemID WHERE Items.added > 'last week'", None, "is a date: write it as \"YYYY-MM-DD\""),
    ("INCLUDE ItemID WHERE Items.price < $max", None, "no value for $max (give it in filter_values)"),
    ("INCLUDE ItemID WHERE Items.price < $max", {"max": "ten"}, "filter_values.max is a number, not 'ten'"),
    ("INCLUDE ItemID WHERE Items.price < $max", {"max": [1, 2]}, "filter_values.max is a list"),
    ("INCLUDE ItemID WHERE Items.price < 5", {"max": 3}, "filter_values.max is not used by the filter"),
    ("INCLUDE ItemID WHERE Items.price = $x OR Items.price IN $x", {"x": 1}, "$x is used both as one value"),
    ("INCLUDE ItemID WHERE Items.price IN Purchases.price", None, "both must be text or list attributes"),
    ("INCLUDE ItemID WHERE Items.category = Purchases.category", None, "expected a value"),
    ("INCLUDE ItemID WHERE Items.category IN Purchases.ItemID", None, "Purchases.ItemID goes with ItemID"),
    ("INCLUDE ItemID WHERE Purchases.category IN ('a')", None, "Purchases.<attribute> goes on the right of IN"),
    ("INCLUDE ItemID WHERE Items.category IS NULL", None, "expected a comparison"),
    ("no_such_name", None, "neither a filter expression nor a named filter (named: in_stock)"),
    ("INCLUDE ItemID WHERE " + "(" * (MAX_DEPTH + 1) + "Items.price < 1" + ")" * (MAX_DEPTH + 1), None,
     f"nested more than {MAX_DEPTH} levels deep"),
    ("INCLUDE ItemID WHERE " + "NOT " * (MAX_DEPTH + 1) + "Items.price < 1", None, "nested more than"),
    ("INCLUDE ItemID WHERE ItemID IN (" + ",".join(f"'{i}'" for i in range(MAX_SET + 1)) + ")", None,
     f"more than {MAX_SET} values in one IN list"),
    ("INCLUDE ItemID WHERE ItemID IN $ids", {"ids": ["x"] * (MAX_SET + 1)}, f"at most {MAX_SET}"),
    ("INCLUDE ItemID WHERE Items.category = " + "'x'" * MAX_CHARS, None, f"at most {MAX_CHARS} characters"),
    ("INCLUDE ItemID WHERE Items.category = 'x'; DROP TABLE items; --", None, "unexpected character ';'"),
])
def test_every_error_is_named(text, values, words):
    with pytest.raises(FilterError) as info:
        kept(text, values)
    assert words in str(info.value), str(info.value)


@pytest.mark.parametrize("text, values, words", [
    ("EXCLUDE ItemID WHERE Items.category IN ($c)", {"c": ["toys", 5]}, "filter_values.c is text"),
    ("EXCLUDE ItemID WHERE Items.tags = $t", {"t": False}, "filter_values.t is a list of text"),
    ("EXCLUDE ItemID WHERE ItemID IN ($ids)", {"ids": ["A", 1.5]}, "filter_values.ids is a product id"),
    ("EXCLUDE ItemID WHERE ItemID = $id", {"id": 7}, "filter_values.id is a product id"),
    ("EXCLUDE ItemID WHERE Items.added IN ($d)", {"d": ["2026-11-01", "soon"]}, "filter_values.d is a date"),
])
def test_every_value_is_checked_when_bound_before_any_mask(text, values, words):
    """Binding checks all the request's values at once (a join for the types): the error comes before any
    product is evaluated."""
    with pytest.raises(FilterError, match=words):
        BOOK.bind(spec_of(text, values))


def test_a_long_text_value_is_just_one_no_product_has():
    """No length limit per value (the request's size bounds them, as a 1 MB customer id is just unknown):
    a value longer than any the catalogue holds matches nothing, in a whole mask and on candidates."""
    long = "t" * 100_000
    for values, expected in (({"c": [long]}, []), ({"c": [long, "garden"]}, ["C"])):
        spec = spec_of("INCLUDE ItemID WHERE Items.category IN ($c) OR ItemID = $id", {**values, "id": long})
        bound = BOOK.bind(spec)
        assert [IDS[i] for i in np.flatnonzero(~removed(bound, len(IDS)))] == expected
        at = np.arange(len(IDS), dtype=np.int64)
        assert [IDS[i] for i in at[~BOOK.bind(spec)[0].removed_at(at)]] == expected


@pytest.mark.parametrize("filters, values, words", [
    (None, {"a": 1}, "filter_values without a filter"),
    ([], None, "filter must be"),
    (["", "x"], None, "filter must be"),
    (5, None, "filter must be"),
    ("in_stock", [1], "filter_values must be an object"),
    ("in_stock", {"a": {"b": 1}}, "filter_values.a must be text"),
    ("in_stock", {"a": [None]}, "filter_values.a must be text"),
])
def test_request_shapes(filters, values, words):
    with pytest.raises(FilterError, match=words):
        spec_of(filters, values)


def test_parse_builds_the_expected_tree():
    tree = parse('EXCLUDE ItemID WHERE Items.a = 1 OR NOT Items.b IN ($x) AND Items.c != "y"')
    assert tree.action == "EXCLUDE" and isinstance(tree.where, Or)
    first, second = tree.where.parts
    assert isinstance(first, Compare) and first.op == "="
    assert isinstance(second, And) and isinstance(second.parts[0], Not) and second.parts[1].op == "!="


# ----------------------------------------------------------------------- random catalogues
WORDS = ["a", "b", "c", "d"]


@st.composite
def catalogues(draw):
    n = draw(st.integers(1, 12))
    cells = {
        "s": draw(st.lists(st.one_of(st.none(), st.sampled_from(WORDS)), min_size=n, max_size=n)),
        "l": draw(st.lists(st.lists(st.sampled_from(WORDS), max_size=3, unique=True), min_size=n, max_size=n)),
        "x": draw(st.lists(st.one_of(st.none(), st.integers(-3, 3).map(float)), min_size=n, max_size=n)),
        "f": draw(st.lists(st.one_of(st.none(), st.booleans()), min_size=n, max_size=n)),
        "t": draw(st.lists(st.one_of(st.none(), st.dates(dt.date(2026, 1, 1), dt.date(2026, 1, 6))),
                           min_size=n, max_size=n)),
    }
    return n, cells


def _lit(kind, draw):
    if kind in ("s", "l"):
        return draw(st.sampled_from(WORDS)), lambda v: f'"{v}"'
    if kind == "x":
        return float(draw(st.integers(-3, 3))), lambda v: str(v)
    if kind == "f":
        return draw(st.booleans()), lambda v: str(v).lower()
    return draw(st.dates(dt.date(2026, 1, 1), dt.date(2026, 1, 6))), lambda v: f'"{v}"'


@st.composite
def expressions(draw, depth=0):
    """(text, reference function (attrs, bought attrs) -> bool)."""
    if depth < 3 and draw(st.booleans()):
        op = draw(st.sampled_from(["AND", "OR", "NOT"]))
        left = draw(expressions(depth + 1))
        if op == "NOT":
            return f"NOT ({left[0]})", lambda a, b, f=left[1]: not f(a, b)
        right = draw(expressions(depth + 1))
        if op == "AND":
            return f"({left[0]}) AND ({right[0]})", lambda a, b, f=left[1], g=right[1]: f(a, b) and g(a, b)
        return f"({left[0]}) OR ({right[0]})", lambda a, b, f=left[1], g=right[1]: f(a, b) or g(a, b)
    col = draw(st.sampled_from(["s", "l", "x", "f", "t"]))
    ops = {"s": ["=", "!=", "IN", "NOT IN", "INP", "NOT INP"], "l": ["=", "!=", "IN", "NOT IN", "INP", "NOT INP"],
           "x": ["=", "!=", "<", "<=", ">", ">=", "IN", "NOT IN"], "f": ["=", "!="],
           "t": ["=", "!=", "<", "<=", ">", ">=", "IN"]}[col]
    op = draw(st.sampled_from(ops))
    if op.endswith("INP"):
        negate = op.startswith("NOT")
        src = draw(st.sampled_from(["s", "l"]))

        def bought_match(a, b, col=col, src=src, negate=negate):
            have = {v for row in b for v in ([row[src]] if src == "s" else row[src]) if v is not None}
            mine = [a[col]] if col == "s" else a[col]
            hit = any(v in have for v in mine if v is not None)
            return not hit if negate else hit

        return f"Items.{col} {'NOT ' if negate else ''}IN Purchases.{src}", bought_match
    if op in ("IN", "NOT IN"):
        vals = [draw(st.just(None)) for _ in range(0)] + [_lit(col, draw) for _ in range(draw(st.integers(1, 3)))]
        text = f"Items.{col} {op} (" + ", ".join(show(v) for v, show in vals) + ")"
        wanted = {v for v, _ in vals}

        def member(a, b, col=col, wanted=wanted, negate=op == "NOT IN"):
            v = a[col]
            hit = any(x in wanted for x in v) if col == "l" else (v is not None and v in wanted)
            return not hit if negate else hit

        return text, member
    value, show = _lit(col, draw)

    def compare(a, b, col=col, op=op, value=value):
        v = a[col]
        if col == "l":
            hit = value in v
            return hit if op == "=" else not hit
        positive = {"!=": "="}.get(op, op)
        hit = v is not None and {"=": v == value, "<": v is not None and v < value,
                                 "<=": v is not None and v <= value, ">": v is not None and v > value,
                                 ">=": v is not None and v >= value}[positive]
        return not hit if op == "!=" else hit

    return f"Items.{col} {op} {show(value)}", compare


@settings(max_examples=300, deadline=None)
@given(catalogues(), expressions(), st.sampled_from(["INCLUDE", "EXCLUDE"]),
       st.lists(st.lists(st.integers(0, 11), max_size=4), min_size=1, max_size=3))
def test_masks_equal_a_plain_python_reference(cat, expression, action, bought):
    n, cells = cat
    catalog = Catalog(n)
    for name, kind in (("s", "string"), ("l", "list"), ("x", "number"), ("f", "bool"), ("t", "date")):
        catalog.columns[name] = encode(name, kind, cells[name])
    book = FilterBook(catalog, {str(i): i for i in range(n)})
    text, reference = expression
    bought = [np.array(sorted({b for b in row if b < n}), dtype=np.int64) for row in bought]
    got = removed(book.bind(spec_of(f"{action} ItemID WHERE {text}", None)), n, bought)
    got = np.broadcast_to(got, (len(bought), n))
    attrs = [{k: cells[k][i] for k in cells} for i in range(n)]
    for r, row in enumerate(bought):
        for i in range(n):
            selected = reference(attrs[i], [attrs[j] for j in row])
            assert got[r, i] == (not selected if action == "INCLUDE" else selected), (text, r, i, attrs[i])


class _NoWalk(dict):
    """A product index that may be looked up but not walked: a serving worker forked from a preloaded
    master copies every page whose objects a walk touches (reference counts), ~10 MB per 100k products."""

    def __iter__(self):
        raise AssertionError("the product index was walked")

    def items(self):
        raise AssertionError("the product index was walked")

    keys = values = items


def test_filters_never_walk_the_product_index_when_given_the_ids():
    index = _NoWalk({p: i for i, p in enumerate(IDS)})
    book = FilterBook(small_catalog(), index, product_ids=IDS)
    text = "INCLUDE ItemID WHERE ItemID IN ($ids) AND Items.price < 50"
    [bound] = book.bind(spec_of(text, {"ids": ["A", "C", "zz"]}))
    at = np.arange(len(IDS), dtype=np.int64)
    assert [IDS[i] for i in at[~bound.removed_at(at)]] == ["A", "C"]
    assert [IDS[i] for i in np.flatnonzero(~bound.removed())] == ["A", "C"]
