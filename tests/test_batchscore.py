"""Batch scoring's latest-row selection: the fixed-width fast path gives pandas' answer."""
import numpy as np
import pandas as pd
import pytest

from risk.model import batchscore


def _expected(ids: pd.Series) -> np.ndarray:
    return np.flatnonzero(~ids.astype(object).duplicated(keep="last").to_numpy())


@pytest.mark.parametrize("values", [
    ["abcdef", "ghijkl", "abcdef", "mnopqr", "ghijkl", "abcdef"],  # six letters, repeats
    ["a", "b", "a", "c"],                                          # one byte
    ["12345678", "87654321", "12345678"],                          # eight bytes: one number each
    ["abc", "abcd", "abc", "ab"],                                  # mixed widths: the general path
    ["a\x00b", "a\x00c", "a\x00b"],                                # a zero byte inside, same width
    ["123456789", "123456789", "987654321"],                       # nine bytes: the general path
    ["é1", "e1", "é1"],                                            # multi-byte text
])
def test_latest_rows_are_pandas_duplicated_last(values):
    ids = pd.Series(values, dtype="str")
    assert batchscore.latest_rows(ids).tolist() == _expected(ids).tolist()
    sliced = pd.Series(values * 3, dtype="str").iloc[2:].reset_index(drop=True)
    assert batchscore.latest_rows(sliced).tolist() == _expected(sliced).tolist()


def test_fixed_width_keys_only_for_same_width_arrow_text_of_at_most_8_bytes():
    assert batchscore.fixed_width_keys(pd.Series(["ab", "cd"], dtype="str")) is not None
    assert batchscore.fixed_width_keys(pd.Series(["ab", "cde"], dtype="str")) is None
    assert batchscore.fixed_width_keys(pd.Series(["abcdefghi"], dtype="str")) is None
    assert batchscore.fixed_width_keys(pd.Series(["ab", "cd"], dtype=object)) is None
    keys = batchscore.fixed_width_keys(pd.Series(["ab", "cd", "ab"], dtype="str"))
    assert keys[0] == keys[2] != keys[1]


def test_a_million_six_letter_ids_with_repeats_select_the_same_rows():
    rng = np.random.default_rng(0)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    codes = ["".join(r) for r in letters[rng.integers(0, 26, (200_000, 6))]]
    ids = pd.Series(codes + codes[:5_000], dtype="str")
    assert np.array_equal(batchscore.latest_rows(ids), _expected(ids))
