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

import contract

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


def _whole(values: list[float]) -> list[str]:
    return [f"{v:,.0f}" for v in values]


def _activity(parts: Linear, x: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Activity in words: a fall against last year's monthly average, else against the average client."""
    lm = parts.features.index("lastmonth_activity")
    ly = parts.features.index("lastyear_activity")
    month, year = x[rows, lm], x[rows, ly]
    monthly = year / 12
    out = np.empty(len(rows), dtype=object)
    masks = {
        "unknown_month": np.isnan(month),
        "fell": ~np.isnan(month) & (monthly > 0) & (month < monthly),
    }
    if masks["unknown_month"].any():
        out[masks["unknown_month"]] = f"activity last month not known (taken as {parts.fill[lm]:,.0f})"
    fell = masks["fell"]
    if fell.any():
        pct = (1 - month[fell] / monthly[fell]) * 100
        out[fell] = [f"activity last month {a}, {p:.0f} % below last year's monthly average ({m})"
                     for a, p, m in zip(_whole(month[fell].tolist()), pct.tolist(),
                                        _whole(monthly[fell].tolist()))]
    rest = ~masks["unknown_month"] & ~fell
    if rest.any():
        low = rest & (month < parts.mean[lm])
        high = rest & ~low
        mean = f"{parts.mean[lm]:,.0f}"
        if low.any():
            out[low] = [f"low activity last month: {a} (average client {mean})"
                        for a in _whole(month[low].tolist())]
        if high.any():
            out[high] = [f"activity last month {a}, last year {b}" for a, b in
                         zip(_whole(month[high].tolist()), _whole(np.nan_to_num(year[high]).tolist()))]
    return out


def _size(parts: Linear, x: np.ndarray, rows: np.ndarray) -> np.ndarray:
    j = parts.features.index("number_of_employees")
    v = x[rows, j]
    out = np.empty(len(rows), dtype=object)
    unknown = np.isnan(v)
    out[unknown] = f"number of employees not known (taken as {parts.fill[j]:,.0f})"
    for mask, text in ((~unknown & (v < parts.mean[j]), "small account: {} employees"),
                       (~unknown & (v >= parts.mean[j]), "large account: {} employees")):
        if mask.any():
            out[mask] = [text.format(a) for a in _whole(v[mask].tolist())]
    return out


WORDS = {"activity": _activity, "account size": _size}


def factor_contributions(parts: Linear, x: np.ndarray) -> np.ndarray:
    """Each FACTOR's log-odds contribution per client: the sum of its features' contributions."""
    c = contributions(parts, x)
    groups = np.array([[f in feats for feats in FACTORS.values()] for f in parts.features], float)
    return c @ groups


def reason_texts(parts: Linear | None, x: np.ndarray) -> np.ndarray:
    """Each client's reasons, joined by SEPARATOR, biggest first (object array, one per row of `x`)."""
    if parts is None:
        return np.full(len(x), NO_REASONS, dtype=object)
    c = factor_contributions(parts, x)
    order = np.argsort(-c, axis=1, kind="stable")[:, :MAX_REASONS]
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
