"""What the list shows a person: to call, snoozed, all or held out; mine or everyone's; new in the
top, moved up, a size; in which order; with another manager's notes hidden (page.py's list and CSV).

Every choice is a query parameter (view, who, band, q, change, size, sort, dir, page), so a
list as filtered and sorted is a link a manager can share, and works without JavaScript.
The filters only narrow the view: a snoozed client stays off "to call", a held-out one off
every manager's view, whatever else is chosen.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from flask import request

from risk.model.scoring import BANDS
from risk.serving import actions
from risk.serving.accounts import Who

VIEWS = ("tocall", "snoozed", "all", "heldout")
# "Moved up": a band up since the previous list, or at least this many places up.
MOVED_PLACES = 10
CHANGES = {"new": "new in the top", "up": "moved up"}
# Company size by employees, as the generator's segments: [from, below).
SIZES = {"small": (0, 20), "mid": (20, 200), "large": (200, float("inf"))}
SIZE_WORDS = {"small": "small (under 20 employees)", "mid": "mid-size (20–199)", "large": "large (200 and more)"}
# Sortable columns: the frame's column and whether it sorts largest first by default.
# "risk" is the list's own order (rank); "moved" is places up since the previous list.
SORTS: dict[str, tuple[str, bool]] = {
    "risk": ("rank", False), "client": ("client_order", False), "owner": ("account_manager", False),
    "value": ("annual_value", True), "loss": ("expected_loss", True), "moved": ("_moved", True),
    "size": ("number_of_employees", True), "last": ("last_at", True),
}

SORT_WORDS = {"risk": "risk", "client": "name", "owner": "owner", "value": "value", "loss": "expected loss",
              "moved": "places moved up", "size": "employees", "last": "last action"}


def filters() -> tuple[str, str]:
    band = request.args.get("band", "").strip().lower()
    return (band if band in BANDS else ""), request.args.get("q", "").strip()[:100]


@dataclass(frozen=True)
class Choice:
    """What the list shows: which clients (view), whose, band, search, new/moved up, size, order."""
    view: str
    mine: bool
    band: str
    query: str
    sort: str
    change: str = ""
    size: str = ""
    desc: bool = False   # the sort's direction: largest (or latest, or Z) first

    def args(self, **changed: Any) -> dict[str, Any]:
        """This choice as query parameters (defaults left out), with `changed` fields changed;
        `page` is passed through. What every link of the list is made of."""
        page = changed.pop("page", None)
        c = replace(self, **changed)
        default_desc = SORTS[c.sort][1]
        return {"view": c.view, "who": "mine" if c.mine else "all", "band": c.band or None,
                "q": c.query or None, "change": c.change or None, "size": c.size or None,
                "sort": None if c.sort == "risk" else c.sort,
                "dir": None if c.desc == default_desc else ("desc" if c.desc else "asc"), "page": page}

    def sorted_by(self, column: str) -> dict[str, Any]:
        """The link of a column's header: sort by it, or turn its direction round if it already sorts."""
        if column == self.sort:
            return self.args(desc=not self.desc)
        return self.args(sort=column, desc=SORTS[column][1])

    def largest_first(self, column: str) -> bool | None:
        """Whether `column` shows its largest first now (None: the list is not sorted by it).
        Risk is the list's order by rank: rank 1 first is the highest risk first."""
        if column != self.sort:
            return None
        return not self.desc if column == "risk" else self.desc

    def order_words(self) -> str:
        """How the list is ordered, in words: '' for the list's own order."""
        if self.sort == "risk" and not self.desc:
            return ""
        first = self.largest_first(self.sort)
        if self.sort in ("client", "owner"):
            return f"by {SORT_WORDS[self.sort]}, {'Z to A' if first else 'A to Z'}"
        if self.sort == "last":
            return f"by last action, {'newest' if first else 'oldest'} first"
        return f"by {SORT_WORDS[self.sort]}, {'largest' if first else 'smallest'} first"

    def arrow(self, column: str) -> str:
        first = self.largest_first(column)
        return "" if first is None else ("▼" if first else "▲")


def choice(who: Who, has_own: bool) -> Choice:
    band, query = filters()
    view = request.args.get("view", "tocall")
    if view not in VIEWS or (view == "heldout" and not who.operator):
        view = "tocall"
    whose = request.args.get("who", "mine" if (not who.operator and has_own) else "all")
    sort = request.args.get("sort", "risk")
    sort = sort if sort in SORTS else "risk"
    direction = request.args.get("dir", "")
    desc = SORTS[sort][1] if direction not in ("asc", "desc") else direction == "desc"
    change = request.args.get("change", "")
    size = request.args.get("size", "")
    return Choice(view, whose == "mine", band, query, sort, change if change in CHANGES else "",
                  size if size in SIZES else "", desc)


def moved(frame: pd.DataFrame) -> pd.Series:
    """Places up since the previous list (negative: down); missing where it was not on it."""
    if "previous_rank" not in frame.columns:
        return pd.Series(np.nan, index=frame.index)
    return frame["previous_rank"].astype("Float64").sub(frame["rank"]).astype("float64")


def _narrowed(frame: pd.DataFrame, mask: pd.Series, c: Choice) -> pd.Series:
    if c.change == "new":
        mask &= frame["change"] == "new"
    elif c.change == "up":
        mask &= (frame["change"] == "up") | (moved(frame) >= MOVED_PLACES).to_numpy()
    if c.size:
        low, high = SIZES[c.size]
        employees = frame["number_of_employees"].astype("Float64").fillna(-1).astype("float64")
        mask &= (employees >= low) & (employees < high)
    return mask


def _ordered(frame: pd.DataFrame, positions: np.ndarray, c: Choice) -> np.ndarray:
    """`positions` (rows of `frame`, in rank order) in the chosen order; ties and missing values
    keep the list's own order, missing last. Only the sort column is read: reordering every
    column of 10,000 rows to show 50 of them cost ~10 ms a view."""
    column, _ = SORTS[c.sort]
    if column == "rank":
        return positions if not c.desc else positions[::-1]
    if column == "_moved":
        key = moved(frame.iloc[positions])
    elif column in ("account_manager", "last_at"):
        key = frame[column].iloc[positions].replace("", np.nan)
    else:
        key = frame[column].iloc[positions].astype("Float64").astype("float64")
    key = key.reset_index(drop=True)
    order = key.sort_values(ascending=not c.desc, kind="stable", na_position="last").index.to_numpy()
    return positions[order]


def chosen(frame: pd.DataFrame, keys: pd.Series, who: Who, c: Choice) -> np.ndarray:
    """The positions of the team frame's rows for choice `c`, in the chosen order (rank by default)."""
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
    mask = _narrowed(frame, mask, c)
    return _ordered(frame, np.flatnonzero(mask.to_numpy()), c)


def selected(frame: pd.DataFrame, keys: pd.Series, who: Who, c: Choice) -> pd.DataFrame:
    """The rows of the team frame for choice `c`, in the chosen order (the CSV's rows)."""
    return frame.iloc[chosen(frame, keys, who, c)]


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
