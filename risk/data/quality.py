"""The data-quality gate: is a new extract plausible against a fixed, vetted reference?

The data contract checks each value (whole, non-negative numbers); this gate
checks the batch as a whole against a *reference profile*: the bootstrap's
training data, or data an operator later confirmed (`fullprocess.py
--confirm-reference`), kept in `quality_reference.json` beside the
deployments. Never the profile of whatever model was deployed last: a broken
extract that slipped through would otherwise become the yardstick, and the
next clean extracts would look broken. An extract that fails is quarantined
by fullprocess.py: not ingested, not listed, not learned from, recorded with
the reasons below, the file left untouched.

What each check sees (an error of units, order or labels, not a real shift):
- granularity: a x2, x10 or x1000 extract is made of multiples of 2, 10 or
  1000; a client's real figures end in any digit, or are rounded the way
  the reference's figures of the same size were (headcounts above 100
  reported to the nearest 10). The share of non-zero values divisible by 2,
  10 and 1000 is compared with the reference's at the same magnitudes (half
  decades); part of an extract in other units (45 % of rows x1000) shows the
  same way;
- relations between features: last month's activity against a twelfth of last
  year's (the median ratio, and the share of rows where a month exceeds a
  year): one activity figure in other units, or the two swapped;
- columns that look swapped: two features each look like the other's
  reference distribution far better than like their own;
- a scale jump: a feature's median moved by x5 or more (either way) against
  the reference;
- a missing-value surge: a feature is empty 10 points more often;
- a constant column: one value in every row of a feature that varied;
- labels: an attrition rate far outside the reference's (a binomial test, so
  49 rows all marked "left" are caught too), or labels that no longer follow
  the figures at all (permuted) or follow them backwards (inverted): the
  rank association (AUC) of fixed signals (activity trend, size, activity)
  with the labels against the reference's.

Real shifts (smaller companies, busier clients, a new segment, a season, a
new law of who leaves) pass: none changes granularity or the month/year
relation, and medians move by x2-3 at most. The measured rates per error
size are in docs/loop.md (bench/bench_lifecycle.py prints them).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from risk import artifacts, config, history
from risk.data import contract

SCALE_FACTOR = 5.0
SWAP_FACTOR = 1.5        # own distributions this far apart (log scale) before a swap is considered
MISSING_SURGE = 0.10
MIN_ROWS = 20            # fewer rows: too few to judge a column constant, a granularity or a relation
DIVISORS = (2, 10, 1000)
GRAIN_EXCESS = 0.08      # share of values divisible by d above the reference's, at least ...
GRAIN_SIGMAS = 5.0       # ... and this many binomial standard deviations
BAND_MIN = 50            # reference values a magnitude band needs to have its own granularity
RELATION_FACTOR = 3.0    # median month / (year / 12) moved this far
MONTH_OVER_YEAR = 0.05   # share of rows with a month above the year, above the reference's
RATE_FACTOR = 3.0
RATE_ALPHA = 1e-4        # binomial test of the attrition rate outside the plausible band
SIGNAL_MIN_ROWS = 300    # labelled rows before the label signals are judged
SIGNAL_STRONG = 0.10     # |AUC - 0.5| of the reference's strongest signal to judge labels by
SIGNAL_LOST = 1 / 3      # every signal within this share of the reference's strength of 0.5: no relation
SIGNAL_REVERSED = 0.05   # the strongest signal this far on the other side of 0.5
QUANTILES = np.linspace(0.05, 0.95, 19)
MONTH, YEAR, SIZE = contract.FEATURES


def profile(frame: pd.DataFrame) -> dict[str, Any]:
    """What the gate needs of reference data: per feature median, quantiles, missing share,
    granularity; the month/year relation; the exit rate and the labels' signals."""
    features = {}
    for col in contract.FEATURES:
        values = frame[col].dropna().to_numpy(dtype=float)
        features[col] = {
            "median": float(np.median(values)) if len(values) else None,
            "quantiles": np.quantile(values, QUANTILES).tolist() if len(values) else [],
            "missing": float(frame[col].isna().mean()),
            "distinct": int(min(np.unique(values).size, 1000)),
            "grain": _grain(values),
        }
    labels = frame[contract.TARGET].dropna() if contract.TARGET in frame else pd.Series([], dtype=float)
    return {"features": features, "exit_rate": float(labels.mean()) if len(labels) else None,
            "rows": len(frame), "relation": _relation(frame), "signals": _signals(frame)}


def _band(values: np.ndarray) -> np.ndarray:
    """The magnitude band of each positive value: half decades, 0 for [1, 3.16), 1 for [3.16, 10), ..."""
    return np.floor(2 * np.log10(np.maximum(values, 1))).astype(int)


def _grain(values: np.ndarray) -> dict[str, Any]:
    """Share of the non-zero values divisible by each of DIVISORS, and how many there are;
    the same per magnitude band (bands of at least BAND_MIN values)."""
    positive = values[values > 0]
    shares = {str(d): float(np.mean(np.mod(positive, d) == 0)) if len(positive) else None
              for d in DIVISORS}
    band = _band(positive)
    bands = {str(b): {"n": int(np.sum(band == b)),
                      "shares": {str(d): float(np.mean(np.mod(positive[band == b], d) == 0)) for d in DIVISORS}}
             for b in np.unique(band) if np.sum(band == b) >= BAND_MIN}
    return {"shares": shares, "n": int(len(positive)), "bands": bands}


def _expected_shares(ref: dict[str, Any], values: np.ndarray) -> dict[str, float] | None:
    """The share of `values` divisible by each divisor if they had the reference's granularity at
    their own magnitudes (a value in a band the reference lacks takes the nearest band's)."""
    bands = ref.get("bands")
    positive = values[values > 0]
    if not bands or not len(positive):
        return None
    known = np.array(sorted(int(b) for b in bands))
    band = _band(positive)
    nearest = known[np.abs(band[:, None] - known[None, :]).argmin(axis=1)]
    taken, counts = np.unique(nearest, return_counts=True)
    return {str(d): float(sum(c * bands[str(b)]["shares"][str(d)] for b, c in zip(taken, counts)) / len(positive))
            for d in DIVISORS}


def _relation(frame: pd.DataFrame) -> dict[str, Any] | None:
    both = frame[[MONTH, YEAR]].dropna().to_numpy(dtype=float)
    if not len(both):
        return None
    ratio = np.log((both[:, 0] + 1) / (both[:, 1] / 12 + 1))
    return {"log_ratio": float(np.median(ratio)), "month_over_year": float(np.mean(both[:, 0] > both[:, 1])),
            "n": int(len(both))}


def signals(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """Fixed signals of exit every plausible law keeps some of: falling activity, small size, low activity."""
    f = frame[list(contract.FEATURES)].astype(float)
    f = f.fillna(f.median())
    return {"falling activity": -np.log((f[MONTH] + 1) / (f[YEAR] / 12 + 1)).to_numpy(),
            "small size": -np.log1p(f[SIZE]).to_numpy(),
            "low activity": -np.log1p(f[YEAR]).to_numpy()}


def _auc(labels: np.ndarray, scores: np.ndarray) -> float | None:
    pos, neg = int(labels.sum()), int((1 - labels).sum())
    if not pos or not neg:
        return None
    ranks = pd.Series(scores).rank().to_numpy()
    return float((ranks[labels == 1].sum() - pos * (pos + 1) / 2) / (pos * neg))


def _signals(frame: pd.DataFrame) -> dict[str, Any]:
    if contract.TARGET not in frame or frame[contract.TARGET].isna().all() or not len(frame):
        return {}
    rows = frame[frame[contract.TARGET].notna()]
    labels = rows[contract.TARGET].to_numpy(dtype=int)
    return {"n": len(rows), "auc": {name: _auc(labels, s) for name, s in signals(rows).items()}}


# --- the checks --------------------------------------------------------------------------

def _distance(a: list[float] | np.ndarray, b: list[float] | np.ndarray) -> float:
    """How far apart two distributions are: median gap of their log quantiles."""
    return float(np.median(np.abs(np.log1p(np.asarray(a)) - np.log1p(np.asarray(b)))))


def _swapped(ref: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, str]]:
    pairs = []
    cols = [c for c in contract.FEATURES if ref[c]["quantiles"] and new[c]["quantiles"]]
    for i, a in enumerate(cols):
        for b in cols[i + 1:]:
            own = _distance(new[a]["quantiles"], ref[a]["quantiles"]) + _distance(
                new[b]["quantiles"], ref[b]["quantiles"])
            crossed = _distance(new[a]["quantiles"], ref[b]["quantiles"]) + _distance(
                new[b]["quantiles"], ref[a]["quantiles"])
            if own > 2 * math.log(SWAP_FACTOR) and crossed < own / 4:
                pairs.append((a, b))
    return pairs


def _granularity(col: str, ref: dict[str, Any], new: dict[str, Any], values: np.ndarray) -> str | None:
    """The divisor whose share of values jumped past the reference's, named.

    The reference's share is taken at the new values' own magnitudes (half
    decades): companies report large headcounts rounded, so more large
    clients bring more multiples of 10 without any change of unit, while a
    x10 error makes multiples of 10 of small figures too. A x10 extract is
    also made of even numbers: of the divisors that jumped, the largest whose
    jump is at least half the biggest one names the unit.
    """
    if not ref.get("grain") or new["grain"]["n"] < MIN_ROWS:
        return None
    n, jumps = new["grain"]["n"], {}
    expected = _expected_shares(ref["grain"], values) or ref["grain"]["shares"]
    for d in DIVISORS:
        r, s = expected.get(str(d)), new["grain"]["shares"][str(d)]
        if r is None or s is None:
            continue
        sd = math.sqrt(max(r * (1 - r), 0.01 * 0.99) / n)
        if s - r > max(GRAIN_EXCESS, GRAIN_SIGMAS * sd):
            jumps[d] = (s - r, s, r)
    if not jumps:
        return None
    biggest = max(j[0] for j in jumps.values())
    d = max(k for k, j in jumps.items() if j[0] >= biggest / 2)
    _, s, r = jumps[d]
    return (f"'{col}': {s:.0%} of values are multiples of {d} (reference {r:.0%}): "
            f"figures in another unit (x{d})?")


def _relation_problems(ref: dict[str, Any] | None, new: dict[str, Any] | None) -> list[str]:
    if not ref or not new or new["n"] < MIN_ROWS:
        return []
    found = []
    moved = new["log_ratio"] - ref["log_ratio"]
    if abs(moved) > math.log(RELATION_FACTOR):
        found.append(f"'{MONTH}' against a twelfth of '{YEAR}': median ratio x{math.exp(moved):.3g} "
                     "the reference's: one of them in another unit?")
    if new["month_over_year"] > ref["month_over_year"] + MONTH_OVER_YEAR:
        found.append(f"{new['month_over_year']:.0%} of rows have a month's activity above the year's "
                     f"(reference {ref['month_over_year']:.0%})")
    return found


def _binomial_tail(k: int, n: int, p: float, upper: bool) -> float:
    """P(X >= k) (upper) or P(X <= k) for X ~ Binomial(n, p), summed in log space."""
    ks = range(k, n + 1) if upper else range(0, k + 1)
    logs = [math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1)
            + (i * math.log(p) if i else 0.0) + ((n - i) * math.log1p(-p) if n - i else 0.0) for i in ks]
    top = max(logs)
    return min(1.0, math.exp(top) * sum(math.exp(v - top) for v in logs))


def _label_problems(reference: dict[str, Any], frame: pd.DataFrame, new: dict[str, Any],
                    judge_signals: bool = True) -> list[str]:
    labelled = int(frame[contract.TARGET].notna().sum()) if contract.TARGET in frame else 0
    rate, seen = new["exit_rate"], reference.get("exit_rate")
    found = []
    if rate is not None and seen and 0 < seen < 1:
        low, high = seen / RATE_FACTOR, 1 - (1 - seen) / RATE_FACTOR
        k = int(round(rate * labelled))
        p = (_binomial_tail(k, labelled, high, upper=True) if rate > high
             else _binomial_tail(k, labelled, low, upper=False) if rate < low else 1.0)
        if p < RATE_ALPHA:
            found.append(f"attrition rate {rate:.1%} far outside the reference's {seen:.1%} "
                         f"(plausible {low:.1%}-{high:.1%}; {k} of {labelled} rows)")
    ref_auc = (reference.get("signals") or {}).get("auc") or {}
    new_auc = (new.get("signals") or {}).get("auc") or {}
    judged = {k: v for k, v in ref_auc.items() if v is not None and new_auc.get(k) is not None}
    if labelled >= SIGNAL_MIN_ROWS and judged and judge_signals and not found:
        strongest = max(judged, key=lambda k: abs(judged[k] - 0.5))
        r, n = judged[strongest], new_auc[strongest]
        if abs(r - 0.5) >= SIGNAL_STRONG:
            if (n - 0.5) * math.copysign(1, r - 0.5) < -SIGNAL_REVERSED:
                found.append(f"labels follow '{strongest}' backwards (AUC {n:.2f}, reference {r:.2f}): "
                             "outcomes inverted?")
            elif all(abs(new_auc[k] - 0.5) < SIGNAL_LOST * abs(r - 0.5) for k in judged):
                found.append(f"labels follow none of the figures (AUC of '{strongest}' {n:.2f}, "
                             f"reference {r:.2f}): outcomes shuffled or of other clients?")
    return found


def problems(reference: dict[str, Any], frame: pd.DataFrame) -> list[str]:
    """Why `frame` is implausible against the `reference` profile; [] when it is not.

    A reference written before a check existed (no granularity, relation or
    signals) skips that check.
    """
    new = profile(frame)
    ref, now = reference["features"], new["features"]
    found: list[str] = []
    swapped = _swapped(ref, now)
    found += [f"columns '{a}' and '{b}' look swapped (each matches the other's reference values)"
              for a, b in swapped]
    in_swap = {c for pair in swapped for c in pair}
    for col in contract.FEATURES:
        r, n = ref[col], now[col]
        if col in in_swap:
            continue
        grain = _granularity(col, r, n, frame[col].dropna().to_numpy(dtype=float))
        if grain:
            found.append(grain)
        if r["median"] is not None and n["median"] is not None:
            ratio = (n["median"] + 1) / (r["median"] + 1)
            if ratio >= SCALE_FACTOR or ratio <= 1 / SCALE_FACTOR:
                found.append(f"'{col}' scale jumped x{ratio:.3g} (median {n['median']:g}, "
                             f"reference {r['median']:g}): another unit?")
        if n["missing"] > r["missing"] + MISSING_SURGE:
            found.append(f"missing-value surge: '{col}' {n['missing']:.1%} empty "
                         f"(reference {r['missing']:.1%})")
        if len(frame) >= MIN_ROWS and n["distinct"] == 1 and r["distinct"] > 1:
            found.append(f"'{col}' is constant ({n['median']:g} in every row)")
    if not in_swap & {MONTH, YEAR}:
        found += _relation_problems(reference.get("relation"), new["relation"])
    # Figures in the wrong columns say nothing of the labels.
    found += _label_problems(reference, frame, new, judge_signals=not in_swap)
    return found


# --- the fixed reference ------------------------------------------------------------------

def read_reference(cfg: config.Config) -> tuple[dict[str, Any] | None, str]:
    """The gate's reference profile and where it comes from.

    The file an operator confirmed (or the bootstrap wrote); else, for a
    deployment made before the file existed, the training profile of the
    oldest kept release (the bootstrap's, if kept) - never the latest's.
    """
    path = cfg.quality_reference_path
    if path.is_file():
        ref = artifacts.read_json(path)
        return ref["profile"], f"{ref['source']} ({ref['confirmed_at']})"
    for release in artifacts.releases(cfg.prod_deployment_path):
        sidecar = release.path / artifacts.SIDECAR_FILE
        profile_ = artifacts.read_json(sidecar).get("quality") if sidecar.is_file() else None
        if profile_ is not None:
            return profile_, f"training profile of {release.path.name} (no confirmed reference yet)"
    return None, "none"


def write_reference(cfg: config.Config, frame: pd.DataFrame, source: str) -> dict[str, Any]:
    """Fix `frame`'s profile as the gate's reference (bootstrap, or an operator's confirmation)."""
    record = {"source": source, "confirmed_at": history.now(), "rows": len(frame), "profile": profile(frame)}
    artifacts.write_json_atomic(cfg.quality_reference_path, record)
    return record
