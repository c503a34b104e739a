"""Does calling help? The randomized holdout's comparison of exits, with a 95 % interval.

Reads  the holdout assignments and actions in the team database (risk/teamdb.py)
       and the published call list (who is still a client)
Gives  `Effect`: exits among clients listed to call vs held out, in the same
       bands, overall, by band and by month of entry; "not enough data yet"
       until each side has enough clients with a known outcome

Why listed vs held out, not called vs held out: only the holdout is random.
Managers choose whom they call and whom they reach, so the called differ from
the held-out in ways the bands don't capture; the listed (called or not) and
the held-out differ only by the coin. The difference in exit rates of listed
and held-out clients is the effect of putting a client on the list to call
(the intention-to-treat effect); divided by the share called it estimates the
effect of a call. Exit rates of called and listed-not-called clients are shown
beside it as description only.

The estimate is the unadjusted band-stratified difference (unbiased); the
interval: per band, Agresti and Caffo's adjusted difference of two
proportions (one exit and one stay added to each side), combined over bands
by their share of clients: covers the true difference in >= 93 % of seeded
repetitions and claims "calling helps" in <= 5 % when calls do nothing
(bench/bench_effect.py).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from risk import config
from risk.model import scoring
from risk.teamdb import TeamDb

Z95 = 1.959963984540054
MIN_PER_ARM = 20     # clients with a known outcome on each side before any estimate
MIN_EXITS = 5        # exits among them


@dataclass
class Estimate:
    """A difference in exit rates (listed minus held out) with its 95 % interval; None when too few."""
    listed: int
    held_out: int
    listed_exits: int
    held_out_exits: int
    difference: float | None = None
    low: float | None = None
    high: float | None = None

    @property
    def verdict(self) -> str:
        if self.difference is None:
            return "not enough data yet"
        if self.high is not None and self.high < 0:
            return "calling helps: fewer clients leave when they are on the list"
        if self.low is not None and self.low > 0:
            return "calling harms: more clients leave when they are on the list"
        return "no effect shown yet: the interval includes zero"


@dataclass
class Effect:
    overall: Estimate
    by_band: list[tuple[str, Estimate]] = field(default_factory=list)
    by_month: list[tuple[str, Estimate]] = field(default_factory=list)
    called_rate: float | None = None          # share of listed clients called
    exit_rates: dict[str, tuple[int, int]] = field(default_factory=dict)  # arm -> (exits, clients)
    pending: int = 0                          # assigned clients whose outcome is not known yet

    @property
    def per_call(self) -> float | None:
        d = self.overall.difference
        return d / self.called_rate if d is not None and self.called_rate else None


def _adjusted(exits: int, n: int) -> tuple[float, float]:
    """Agresti-Caffo: the rate with one exit and one stay added, and its variance."""
    p = (exits + 1) / (n + 2)
    return p, p * (1 - p) / (n + 2)


def estimate(frame: pd.DataFrame) -> Estimate:
    """The band-stratified difference of exit rates, listed minus held out.

    `frame`: one row per client with columns band, held_out (bool) and exited (bool).
    """
    held = frame["held_out"].astype(bool)
    exited = frame["exited"].astype(bool)
    out = Estimate(int((~held).sum()), int(held.sum()), int(exited[~held].sum()), int(exited[held].sum()))
    if min(out.listed, out.held_out) < MIN_PER_ARM or out.listed_exits + out.held_out_exits < MIN_EXITS:
        return out
    parts = []
    for _, band in frame.groupby("band", sort=False):
        h = band["held_out"].astype(bool)
        if h.all() or not h.any():
            continue  # a band seen on one side only says nothing about the difference
        x = band["exited"].astype(bool)
        counts = (int(x[~h].sum()), int((~h).sum()), int(x[h].sum()), int(h.sum()))
        parts.append((len(band), counts))
    if not parts:
        return out
    total = sum(n for n, _ in parts)
    raw = adjusted = var = 0.0
    for n, (xl, nl, xh, nh) in parts:
        w = n / total
        raw += w * (xl / nl - xh / nh)  # the estimate: unbiased
        (pl, vl), (ph, vh) = _adjusted(xl, nl), _adjusted(xh, nh)
        adjusted += w * (pl - ph)       # the interval's centre: Agresti-Caffo
        var += w * w * (vl + vh)
    half = Z95 * math.sqrt(var)
    out.difference, out.low, out.high = raw, adjusted - half, adjusted + half
    return out


def effect(frame: pd.DataFrame) -> Effect:
    """Overall, by band and by month (`month` column, YYYY-MM of entry) from one row per client
    (band, held_out, called, exited)."""
    result = Effect(estimate(frame))
    result.by_band = [(b, estimate(part)) for b, part in frame.groupby("band", sort=False)]
    if "month" in frame.columns:
        result.by_month = [(m, estimate(part)) for m, part in sorted(frame.groupby("month"), key=lambda t: t[0])]
    listed = frame[~frame["held_out"].astype(bool)]
    if len(listed):
        result.called_rate = float(listed["called"].astype(bool).mean())
    arms = {"called": listed[listed["called"].astype(bool)], "listed, not called": listed[~listed["called"].astype(bool)],
            "held out": frame[frame["held_out"].astype(bool)]}
    result.exit_rates = {k: (int(v["exited"].astype(bool).sum()), len(v)) for k, v in arms.items()}
    return result


def outcomes(cfg: config.Config, db: TeamDb) -> tuple[pd.DataFrame, int]:
    """One row per client assigned at entry to the top (band, held_out, called, exited, month),
    for clients whose outcome is known: a later list has been published since they entered.
    Exited: no longer a current client on the latest list. Also the count still pending."""
    columns = ["corporation", "band", "held_out", "called", "exited", "month"]
    assigned = pd.DataFrame(db.holdout())
    if assigned.empty:
        return pd.DataFrame(columns=columns), 0
    try:
        ranking, meta = scoring.read_call_list(cfg)
    except scoring.CallListMissing:
        return pd.DataFrame(columns=columns), len(assigned)
    latest = str(meta.get("published_at", ""))
    known = assigned[assigned["list_key"] < latest]
    called = {a["corporation"]: a["at"] for a in db.all_actions() if a["called"]}
    frame = pd.DataFrame({
        "corporation": known["corporation"], "band": known["band"], "held_out": known["held_out"].astype(bool),
        "called": [called.get(c, "") >= at for c, at in zip(known["corporation"], known["assigned_at"])],
        "exited": ~known["corporation"].isin(set(ranking["corporation"])),
        "month": known["list_key"].str[:7],
    })
    return frame, len(assigned) - len(known)


def current_effect(cfg: config.Config, db: TeamDb) -> Effect:
    frame, pending = outcomes(cfg, db)
    result = effect(frame) if len(frame) else Effect(estimate(pd.DataFrame(
        {"band": [], "held_out": [], "exited": []})))
    result.pending = pending
    return result
