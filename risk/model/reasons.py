"""Why a client is at risk: each feature's share of the model's log-odds, in a manager's words.

For the project's linear pipeline (median imputer -> StandardScaler ->
LogisticRegression) a client's log-odds of leaving are

    intercept + sum over features j of coef_j * z_j,   z = (x - training mean) / scale

The average client of the training data has z = 0, so `intercept` is its
log-odds and coef_j * z_j is what feature j adds for this client, up or down.
These contributions add up to the model's own log-odds exactly (tested).
Features that tell one story are summed into a factor (FACTORS: last month's
and last year's activity are one trend); the largest positive factors (at
most MAX_REASONS, each at least MIN_CONTRIBUTION) become the client's reasons. A model of another kind has no such
decomposition: its clients get NO_REASONS rather than invented ones.

Everything works on whole columns (numpy), and only the reasons shown are
formatted as text: a million clients take about a second.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from risk.data import contract

NO_REASONS = "no reasons for this kind of model"
NOTHING_ABOVE = "no figure raises the risk above an average client's"
MAX_REASONS = 3
# Log-odds below this move a probability by well under a percentage point
# near the middle of the scale: noise to a manager, not a reason.
MIN_CONTRIBUTION = 0.1
SEPARATOR = "; "


@dataclass(frozen=True)
class Linear:
    """What the linear pipeline does to a client's figures, as arrays over the features."""
    fill: np.ndarray       # value imputed for a missing figure (NaN: no imputer)
    mean: np.ndarray       # the average client (the scaler's training mean)
    scale: np.ndarray
    coef: np.ndarray
    intercept: float       # the average client's log-odds
    features: tuple[str, ...] = contract.FEATURES


def linear_parts(model: Any) -> Linear | None:
    """The parts of an imputer -> StandardScaler -> binary logistic model; None for other models."""
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    if not isinstance(model, Pipeline):
        return None
    *steps, final = [step for _, step in model.steps if step not in (None, "passthrough")]
    if not isinstance(final, LogisticRegression) or len(getattr(final, "classes_", ())) != 2:
        return None
    n = final.coef_.shape[1]
    fill = np.full(n, np.nan)
    scaler = None
    for step in steps:
        if isinstance(step, SimpleImputer) and scaler is None and not step.add_indicator:
            fill = np.asarray(step.statistics_, dtype=float)
        elif isinstance(step, StandardScaler) and scaler is None and step.with_mean:
            scaler = step
        else:
            return None  # another transform: the sum below would not be the model's
    if scaler is None or n != len(contract.FEATURES):
        return None
    scale = scaler.scale_ if scaler.scale_ is not None else np.ones(n)
    return Linear(fill, np.asarray(scaler.mean_, float), np.asarray(scale, float),
                  final.coef_[0].astype(float), float(final.intercept_[0]))


def contributions(parts: Linear, x: np.ndarray) -> np.ndarray:
    """Each feature's log-odds contribution per client (rows of `x`, raw figures with NaN)."""
    filled = np.where(np.isnan(x), parts.fill, x)
    return (filled - parts.mean) / parts.scale * parts.coef


def log_odds(parts: Linear, x: np.ndarray) -> np.ndarray:
    """The model's log-odds of leaving per client, as the average client's plus the contributions."""
    return parts.intercept + contributions(parts, x).sum(axis=1)


# The model's features as a manager thinks of them: last month's and last year's
# activity tell one story (is the client's activity falling?), so their
# contributions are summed into one factor and worded together.
FACTORS: dict[str, tuple[str, ...]] = {
    "activity": ("lastmonth_activity", "lastyear_activity"),
    "account size": ("number_of_employees",),
}


def _whole(values: np.ndarray) -> np.ndarray:
    """Whole numbers as text with thousands separators, one per value (object array).

    Client figures repeat a lot (a million clients have a few thousand distinct
    activity figures), so each distinct number is formatted once and looked up.
    """
    ints = np.rint(values).astype(np.int64)
    if len(ints) and ints.min() >= 0 and ints.max() < 200_000:
        return np.array([f"{i:,}" for i in range(int(ints.max()) + 1)], dtype=object)[ints]
    distinct, inverse = np.unique(ints, return_inverse=True)
    return np.array([f"{i:,}" for i in distinct.tolist()], dtype=object)[inverse]


# Phrases are put together by numpy's element-wise + on object arrays (str + str
# in C), not by an f-string per client in Python.

def _activity(parts: Linear, x: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Activity in words: a fall against last year's monthly average, else against the average client."""
    lm = parts.features.index("lastmonth_activity")
    ly = parts.features.index("lastyear_activity")
    month, year = x[rows, lm], x[rows, ly]
    monthly = year / 12
    out = np.empty(len(rows), dtype=object)
    unknown = np.isnan(month)
    fell = ~unknown & (monthly > 0) & (month < monthly)
    if unknown.any():
        out[unknown] = f"activity last month not known (taken as {parts.fill[lm]:,.0f})"
    if fell.any():
        pct = _whole((1 - month[fell] / monthly[fell]) * 100)
        out[fell] = ("activity last month " + _whole(month[fell]) + ", " + pct
                     + " % below last year's monthly average (" + _whole(monthly[fell]) + ")")
    low = ~unknown & ~fell & (month < parts.mean[lm])
    high = ~unknown & ~fell & ~low
    if low.any():
        out[low] = "low activity last month: " + _whole(month[low]) + f" (average client {parts.mean[lm]:,.0f})"
    if high.any():
        out[high] = ("activity last month " + _whole(month[high]) + ", last year "
                     + _whole(np.nan_to_num(year[high])))
    return out


def _size(parts: Linear, x: np.ndarray, rows: np.ndarray) -> np.ndarray:
    j = parts.features.index("number_of_employees")
    v = x[rows, j]
    out = np.empty(len(rows), dtype=object)
    unknown = np.isnan(v)
    out[unknown] = f"number of employees not known (taken as {parts.fill[j]:,.0f})"
    for mask, (before, after) in ((~unknown & (v < parts.mean[j]), ("small account: ", " employees")),
                                  (~unknown & (v >= parts.mean[j]), ("large account: ", " employees"))):
        if mask.any():
            out[mask] = before + _whole(v[mask]) + after
    return out


WORDS = {"activity": _activity, "account size": _size}


def factor_contributions(parts: Linear, x: np.ndarray) -> np.ndarray:
    """Each FACTOR's log-odds contribution per client: the sum of its features' contributions."""
    c = contributions(parts, x)
    groups = np.array([[f in feats for feats in FACTORS.values()] for f in parts.features], float)
    return c @ groups


def _largest_first(c: np.ndarray) -> np.ndarray:
    """Per row, the column indexes of `c` from largest to smallest (ties: lower index first).

    For the few factors there are, counting who is ahead of whom is an order of
    magnitude faster than argsort over a million tiny rows.
    """
    k = c.shape[1]
    j = np.arange(k)
    ahead = (c[:, None, :] > c[:, :, None]) | ((c[:, None, :] == c[:, :, None]) & (j < j[:, None]))
    place = ahead.sum(axis=2)  # place[r, i]: how many factors come before factor i
    return np.argmax(place[:, None, :] == j[None, :, None], axis=2)


def reason_texts(parts: Linear | None, x: np.ndarray) -> np.ndarray:
    """Each client's reasons, joined by SEPARATOR, biggest first (object array, one per row of `x`)."""
    if parts is None:
        return np.full(len(x), NO_REASONS, dtype=object)
    c = factor_contributions(parts, x)
    order = _largest_first(c)[:, :MAX_REASONS]
    joined = np.full(len(x), "", dtype=object)
    for slot in range(order.shape[1]):
        factor_of = order[:, slot]
        shown = c[np.arange(len(x)), factor_of] >= MIN_CONTRIBUTION
        texts = np.full(len(x), "", dtype=object)
        for k, factor in enumerate(FACTORS):
            rows = np.flatnonzero(shown & (factor_of == k))
            if len(rows):
                texts[rows] = WORDS[factor](parts, x, rows)
        if slot:
            texts[shown] = SEPARATOR + texts[shown]
        joined += texts  # numpy adds object arrays element by element: str + str
    joined[joined == ""] = NOTHING_ABOVE
    return joined
