"""inputs/text.py: the pandas path's field rules as Arrow kernels give what Python/pandas would."""
import numpy as np
import pandas as pd
import pyarrow as pa

from alsreco.train.inputs import text

ODD = ["", " a ", "\u3000x y\xa0", "\x1c\x1dz\x85", "\t\n", "ab", "é ", None]


def test_strip_is_python_strip_and_a_null_is_empty():
    got = text.strip(pa.array(ODD, type=pa.string())).to_pylist()
    assert got == [(v or "").strip() for v in ODD]
    every_space = "".join(chr(c) for c in range(0x110000) if chr(c).isspace())
    assert set(text.WHITESPACE) == set(every_space)


def test_spreadsheet_ids_lose_their_decimal_zeros_and_nothing_else_changes():
    ids = [" 17850.0 ", "17850.00", "12.5", "1.0.0", "abc.0", "17850", ".0", "0.0"]
    assert text.normalise_ids(pa.array(ids)).to_pylist() == \
        ["17850", "17850", "12.5", "1.0.0", "abc.0", "17850", ".0", "0"]


def test_numbers_take_what_pandas_to_numeric_takes():
    values = ["1", "+5", "-2.5E-3", "1.", ".5", "1e5", "", "abc", "1,5", "1 000", "nan", "inf", "0x10", "--1"]
    got = text.numbers(pa.array(values))
    want = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float)
    want[~np.isfinite(want)] = np.nan  # NaN and inf are malformed quantities either way
    np.testing.assert_array_equal(got, want)
    got[0] = 2.0  # the caller may write to it


def test_matches_is_false_for_nulls():
    assert text.matches(pa.array(["C123", "CA-2016-1", None, "c9"]), r"^[Cc]\d+$").tolist() == \
        [True, False, False, True]
