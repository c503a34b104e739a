"""What the list shows a person: to call, snoozed, all or held out; mine or everyone's; in which
order; with another manager's notes hidden (page.py's list and CSV)."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from flask import request

from risk.model.scoring import BANDS
from risk.serving import actions
from risk.serving.accounts import Who

VIEWS = ("tocall", "snoozed", "all", "heldout")


def filters() -> tuple[str, str]:
    band = request.args.get("band", "").strip().lower()
    return (band if band in BANDS else ""), request.args.get("q", "").strip()[:100]


@dataclass
class Choice:
    """What the list shows: which clients (view), whose, band, search, order."""
    view: str
    mine: bool
    band: str
    query: str
    sort: str


def choice(who: Who, has_own: bool) -> Choice:
    band, query = filters()
    view = request.args.get("view", "tocall")
    if view not in VIEWS or (view == "heldout" and not who.operator):
        view = "tocall"
    whose = request.args.get("who", "mine" if (not who.operator and has_own) else "all")
    sort = "loss" if request.args.get("sort") == "loss" else "risk"
    return Choice(view, whose == "mine", band, query, sort)


def selected(frame: pd.DataFrame, keys: pd.Series, who: Who, c: Choice) -> pd.DataFrame:
    """The rows of the team frame for choice `c`, in rank (or expected loss) order."""
    snoozed = actions.snoozed(frame)
    views = {"tocall": ~snoozed & ~frame["held_out"], "snoozed": snoozed, "heldout": frame["held_out"],
             "all": pd.Series(True, index=frame.index) if who.operator else ~frame["held_out"]}
    mask = views[c.view].copy()
    if c.mine:
        mask &= frame["account_manager"] == who.name
    if c.band:
        mask &= frame["band"] == c.band
    if c.query:
        mask &= keys.str.contains(c.query.lower(), regex=False) | frame["name"].str.lower().str.contains(
            c.query.lower(), regex=False)
    rows = frame[mask]
    if c.sort == "loss":
        rows = rows.sort_values("expected_loss", ascending=False, kind="stable", na_position="last")
    return rows


def hide_notes(rows: pd.DataFrame, who: Who) -> pd.DataFrame:
    """Another manager's clients without their notes and actions, as the role asks."""
    hidden = ~actions.visible_to(rows, who)
    if not hidden.any():
        return rows
    rows = rows.copy()
    rows.loc[hidden, ["last_at", "last_by", "called_at", "reached_at", "outcome", "note", "snooze_until"]] = ""
    return rows


def results_words(frame: pd.DataFrame, who: Who) -> str | None:
    """A manager's own results in plain words: calls, people reached, outcomes."""
    if who.operator:
        return None
    own = frame[frame["account_manager"] == who.name]
    if own.empty:
        return None
    called, reached = int((own["called_at"] != "").sum()), int((own["reached_at"] != "").sum())
    kept = int((own["outcome"] == "kept").sum())
    return (f"Your {len(own):,} clients: you called {called:,} of them and reached {reached:,}; "
            f"{kept:,} said they stay.")
