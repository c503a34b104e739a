"""Why a client is at risk: each feature's share of the model's log-odds, in a manager's words.

Both of the project's model kinds write a client's log-odds of leaving as

    the average client's log-odds + one contribution per column,

and the contributions add up to the model's own log-odds exactly (tested):

- the additive model (additive.py): one column per TERM, the term's shape at
  this client's figure less its shape at the average client (`Additive`);
- the course's linear pipeline (median imputer -> StandardScaler ->
  LogisticRegression): coef_j * z_j per feature, z = (x - training mean) /
  scale, the average client having z = 0 (`Linear`).

The reasons are on the model's own log-odds scale, before calibration: the
calibration (a rising sigmoid) changes what a log-odds means in percent, not
which figure pushes it up. Columns that tell one story are summed into a
factor (FACTOR_OF: last month's and last year's activity and their trend are
one story); the largest positive factors (at most MAX_REASONS, each at least
MIN_CONTRIBUTION) become the client's reasons. Clients in the low band get no
"why at risk" reason: "lower risk than most (...)" naming what keeps them low,
or nothing. A model of another kind has no such decomposition: its clients get
NO_REASONS rather than invented ones.

Everything works on whole columns (numpy), and only the reasons shown are
formatted as text: a million clients take about a second.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from risk.data import contract
from risk.model import additive

NO_REASONS = "no reasons for this kind of model"
NOTHING_ABOVE = "no figure raises the risk above an average client's"
LOWER_THAN_MOST = "lower risk than most"
MAX_REASONS = 3
# Log-odds below this move a probability by well under a percentage point
# near the middle of the scale: noise to a manager, not a reason.
MIN_CONTRIBUTION = 0.1
# A fall in activity smaller than this is not worded as a fall ("2 % below" reads as noise).
MIN_FALL = 0.10
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
    columns: tuple[str, ...] = contract.FEATURES

    def contributions(self, x: np.ndarray) -> np.ndarray:
        filled = np.where(np.isnan(x), self.fill, x)
        return (filled - self.mean) / self.scale * self.coef


@dataclass(frozen=True)
class Additive:
    """The additive model's terms: one contribution per TERM (additive.AdditiveModel)."""
    model: additive.AdditiveModel
    fill: np.ndarray       # the training medians, imputed for a missing figure
    mean: np.ndarray       # the average (typical) client's figures: the training medians
    intercept: float       # the average client's log-odds
    features: tuple[str, ...] = contract.FEATURES
    columns: tuple[str, ...] = additive.TERMS

    def contributions(self, x: np.ndarray) -> np.ndarray:
        return self.model.term_contributions(x)


Parts = Linear | Additive


def parts_of(model: Any) -> Parts | None:
    """The exact decomposition of `model`'s log-odds; None for a model without one."""
    if isinstance(model, additive.AdditiveModel):
        # The typical client (medians): with sizes this skewed, the mean client is a large one.
        return Additive(model, model.fill_, model.fill_, model.intercept_)
    return linear_parts(model)


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


def contributions(parts: Parts, x: np.ndarray) -> np.ndarray:
    """Each column's log-odds contribution per client (rows of `x`: raw figures, NaN missing)."""
    return parts.contributions(x)


def log_odds(parts: Parts, x: np.ndarray) -> np.ndarray:
    """The model's log-odds of leaving per client, as the average client's plus the contributions."""
    return parts.intercept + contributions(parts, x).sum(axis=1)


# The model's columns as a manager thinks of them: last month's and last year's
# activity and their trend tell one story (is the client's activity falling?),
# so their contributions are summed into one factor and worded together.
FACTORS = ("activity", "account size")
FACTOR_OF: dict[str, str] = {
    "lastmonth_activity": "activity", "lastyear_activity": "activity",
    "number_of_employees": "account size",
    **{term: "account size" if feats == ("number_of_employees",) else "activity"
       for term, feats in additive.TERM_FEATURES.items()},
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

def _activity(parts: Parts, x: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Activity in words: a fall against last year's monthly average, else against the average client."""
    lm = parts.features.index("lastmonth_activity")
    ly = parts.features.index("lastyear_activity")
    month, year = x[rows, lm], x[rows, ly]
    monthly = year / 12
    out = np.empty(len(rows), dtype=object)
    unknown = np.isnan(month)
    fell = ~unknown & (monthly > 0) & (month < (1 - MIN_FALL) * monthly)
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


def _size(parts: Parts, x: np.ndarray, rows: np.ndarray) -> np.ndarray:
    j = parts.features.index("number_of_employees")
    v = x[rows, j]
    out = np.empty(len(rows), dtype=object)
    unknown = np.isnan(v)
    out[unknown] = f"number of employees not known (taken as {parts.fill[j]:,.0f})"
    for mask, before in ((~unknown & (v < parts.mean[j]), "small account: "),
                         (~unknown & (v >= parts.mean[j]), "large account: ")):
        if mask.any():
            out[mask] = before + _whole(v[mask]) + np.where(v[mask] == 1, " employee", " employees")
    return out


WORDS = {"activity": _activity, "account size": _size}


def _activity_plain(parts: Parts, x: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Activity in plain figures, no judgement: what keeps a low-band client's risk down."""
    lm = parts.features.index("lastmonth_activity")
    ly = parts.features.index("lastyear_activity")
    month, year = x[rows, lm], x[rows, ly]
    out = np.full(len(rows), "", dtype=object)  # not known: no figure to show
    month_only = ~np.isnan(month) & np.isnan(year)
    if month_only.any():
        out[month_only] = "activity last month " + _whole(month[month_only])
    known = ~np.isnan(month) & ~np.isnan(year)
    if known.any():
        out[known] = ("activity last month " + _whole(month[known]) + ", last year's monthly average "
                      + _whole(year[known] / 12))
    return out


def _size_plain(parts: Parts, x: np.ndarray, rows: np.ndarray) -> np.ndarray:
    v = x[rows, parts.features.index("number_of_employees")]
    out = np.full(len(rows), "", dtype=object)
    known = ~np.isnan(v)
    if known.any():
        out[known] = _whole(v[known]) + np.where(v[known] == 1, " employee", " employees")
    return out


# What keeps a client's risk low, in figures only: "low activity" would read as a warning.
PLAIN_WORDS = {"activity": _activity_plain, "account size": _size_plain}


def factor_contributions(parts: Parts, x: np.ndarray) -> np.ndarray:
    """Each FACTOR's log-odds contribution per client: the sum of its columns' contributions."""
    c = contributions(parts, x)
    groups = np.array([[FACTOR_OF[col] == factor for factor in FACTORS] for col in parts.columns], float)
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


def _worded(parts: Parts, x: np.ndarray, factor_of: np.ndarray, shown: np.ndarray,
            words: dict = WORDS) -> np.ndarray:
    """The `words` of factor `factor_of[i]` for each row i where `shown` ("" elsewhere)."""
    texts = np.full(len(x), "", dtype=object)
    for k, factor in enumerate(FACTORS):
        rows = np.flatnonzero(shown & (factor_of == k))
        if len(rows):
            texts[rows] = words[factor](parts, x, rows)
    return texts


def reason_texts(parts: Parts | None, x: np.ndarray, low: np.ndarray | None = None) -> np.ndarray:
    """Each client's reasons, joined by SEPARATOR, biggest first (object array, one per row of `x`).

    Rows where `low` is True (the low band) get no "why at risk" reason:
    LOWER_THAN_MOST with the factor that lowers their risk most, or "" if none does.
    """
    if parts is None:
        return np.full(len(x), NO_REASONS, dtype=object)
    c = factor_contributions(parts, x)
    low = np.zeros(len(x), bool) if low is None else np.asarray(low, bool)
    order = _largest_first(c)[:, :MAX_REASONS]
    joined = np.full(len(x), "", dtype=object)
    everyone = np.arange(len(x))
    for slot in range(order.shape[1]):
        factor_of = order[:, slot]
        shown = ~low & (c[everyone, factor_of] >= MIN_CONTRIBUTION)
        texts = _worded(parts, x, factor_of, shown)
        if slot:
            texts[shown] = SEPARATOR + texts[shown]
        joined += texts  # numpy adds object arrays element by element: str + str
    joined[~low & (joined == "")] = NOTHING_ABOVE
    if low.any():
        lowest = np.argmin(c, axis=1)
        lowers = low & (c[everyone, lowest] <= -MIN_CONTRIBUTION)
        words = _worded(parts, x, lowest, lowers, PLAIN_WORDS)
        figures = lowers & (words != "")
        joined[figures] = LOWER_THAN_MOST + " (" + words[figures] + ")"
        joined[lowers & ~figures] = LOWER_THAN_MOST
    return joined


def factor_figures(parts: Parts, x: np.ndarray, factor_of: np.ndarray) -> np.ndarray:
    """The plain figures behind FACTOR `factor_of[i]` for each row i ("" where not known)."""
    return _worded(parts, x, np.asarray(factor_of), np.ones(len(x), bool), PLAIN_WORDS)
