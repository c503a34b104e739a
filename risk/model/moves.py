"""Why a new model moved the list, in a manager's words: the two models' measure, and each client's cause.

- `previous_model`: the release an earlier list was made by, loaded hash-verified.
- `compared`: both models' list measure on the same freshest labelled rows that
  neither learnt from (fresh.freshest), and `compared_words`: "On the 900
  clients of c.csv (arrived 2026-12-06) whose outcomes are known, 78 of the new
  model's top 100 left, against 56 of the old model's top 100."
- `explain` and `cause_texts`: per client, the factor (reasons.FACTORS) whose
  log-odds contribution changed most from the old model to the new, and its
  direction: "mostly its account size (1,200 employees), which the new model
  counts as less of a risk than the old one did". Contributions are exact
  shares of each model's log-odds, each against its own average client
  (reasons.py), so the one that changed most is what moved the client against
  the others. A client none of whose contributions changed by
  reasons.MIN_CONTRIBUTION moved because others moved past it, and is told so.
- `common_cause`: the cause most clients new to the top share, if most do.

Models without exact reasons (reasons.parts_of is None) get no causes.
"""
from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from risk import artifacts, config
from risk.data import contract
from risk.model import fresh, measures, reasons

log = logging.getLogger("scoring")

MORE, LESS = "a bigger risk", "less of a risk"


def previous_model(cfg: config.Config, version: int) -> tuple[Any, dict[str, Any]] | None:
    """The model and manifest of release `version`, hash-verified; None if it is gone or unreadable."""
    release = artifacts.release_path(cfg.prod_deployment_path, int(version))
    try:
        manifest = artifacts.read_json(release / artifacts.MANIFEST)
        return artifacts.load_model(release / artifacts.MODEL_FILE, manifest["files"][artifacts.MODEL_FILE]), manifest
    except (artifacts.ArtifactError, KeyError) as exc:
        log.warning("the previous list's model %s cannot be read (%s): no comparison with it",
                    artifacts.version_name(int(version)), exc)
        return None


def _probability(model: Any, frame: pd.DataFrame) -> np.ndarray:
    return np.asarray(model.predict_proba(contract.feature_matrix(frame))[:, 1], np.float64)


def compared(cfg: config.Config, new: tuple[Any, dict[str, Any]], old: tuple[Any, dict[str, Any]],
             test: pd.DataFrame, test_date: str | None, k: int) -> dict[str, Any]:
    """The new and the old model's list measure on the same freshest rows neither learnt from.

    Keys: on (extract or test file), date, fresh (False: the test data), rows,
    k, new / old (exits among each model's top k), new_auc / old_auc.
    """
    rows = fresh.freshest(cfg, [new[1], old[1]], test, test_date)
    y = rows.frame[contract.TARGET].to_numpy()
    a = measures.list_measure(_probability(new[0], rows.frame), y, k)
    b = measures.list_measure(_probability(old[0], rows.frame), y, k)
    return {"on": rows.source, "date": rows.date, "fresh": rows.fresh, "rows": len(y), "k": a["k"],
            "new": a["exits_in_top"], "old": b["exits_in_top"], "new_auc": a["auc"], "old_auc": b["auc"]}


def compared_words(c: dict[str, Any]) -> str:
    """`compared` in one sentence."""
    return (f"On {fresh.where_words(c['on'], c['date'], c['rows'], c['fresh'])}, {c['new']} of the new model's "
            f"top {c['k']} left, against {c['old']} of the old model's top {c['k']}.")


@dataclass
class Explained:
    """Per client: the factor (index into reasons.FACTORS) whose contribution changed most, and by how much."""
    factor: np.ndarray
    shift: np.ndarray  # new minus old log-odds contribution of that factor


def explain(old: Any, new: Any, x: np.ndarray) -> Explained | None:
    """The factor whose contribution changed most per row of `x`; None if a model has no exact reasons."""
    old_parts, new_parts = reasons.parts_of(old), reasons.parts_of(new)
    if old_parts is None or new_parts is None:
        return None
    d = reasons.factor_contributions(new_parts, x) - reasons.factor_contributions(old_parts, x)
    main = np.argmax(np.abs(d), axis=1) if len(x) else np.zeros(0, int)
    return Explained(main, d[np.arange(len(x)), main] if len(x) else np.zeros(0))


def _direction(shift: float) -> str:
    return MORE if shift > 0 else LESS


def cause_texts(new: Any, x: np.ndarray, e: Explained, up: np.ndarray) -> np.ndarray:
    """Each row's cause in words (object array); `up`: the client rose on the list."""
    parts = reasons.parts_of(new)
    figures = reasons.factor_figures(parts, x, e.factor)
    out = np.empty(len(x), dtype=object)
    for i, (f, s, fig, rose) in enumerate(zip(e.factor.tolist(), e.shift.tolist(), figures.tolist(), up.tolist())):
        if abs(s) < reasons.MIN_CONTRIBUTION:
            out[i] = ("no figure of this client counts much differently in the new model: "
                      + ("others moved below it" if rose else "others moved past it"))
            continue
        name = reasons.FACTORS[f]
        shown = fig[len("activity "):] if name == "activity" and fig.startswith("activity ") else fig
        out[i] = (f"mostly its {name}" + (f" ({shown})" if shown else "")
                  + f", which the new model counts as {_direction(s)} than the old one did")
    return out


def common_cause(e: Explained, entered: np.ndarray, n: int) -> str:
    """The cause most clients new to the top `n` share, in one sentence; "" if no cause has most of them."""
    rows = np.flatnonzero(entered)
    causes = [(int(e.factor[i]), e.shift[i] > 0) for i in rows if abs(e.shift[i]) >= reasons.MIN_CONTRIBUTION]
    if not causes:
        return ""
    (factor, more), count = Counter(causes).most_common(1)[0]
    if 2 * count <= len(rows):  # more than half, or no claim
        return ""
    return (f"{count} of the {len(rows)} clients new to the top {n} came up mostly through their "
            f"{reasons.FACTORS[factor]}, which the new model counts as {MORE if more else LESS} than the old one did.")


def describe_change(cfg: config.Config, new: tuple[Any, dict[str, Any]], change: dict[str, Any],
                    ranking: pd.DataFrame, test: pd.DataFrame, test_date: str | None, n: int) -> np.ndarray:
    """Add to `change` (scoring.model_change) the two models' measure and the top's common cause;
    return each ranked client's cause of moving ("" where it did not move or none is known)."""
    out = np.full(len(ranking), "", dtype=object)
    old = previous_model(cfg, change["from_version"])
    if old is None:
        return out
    change["compared"] = compared(cfg, new, old, test, test_date, n)
    change["compared_words"] = compared_words(change["compared"])
    x = ranking.loc[:, list(contract.FEATURES)].to_numpy(float)
    e = explain(old[0], new[0], x)
    if e is None:
        return out
    rank = ranking["rank"].to_numpy()
    before = ranking["previous_rank"].astype("float64").to_numpy()
    moved = ~np.isnan(before) & (before != rank)
    rows = np.flatnonzero(moved)
    out[rows] = cause_texts(new[0], x[rows], Explained(e.factor[rows], e.shift[rows]), rank[rows] < before[rows])
    change["cause"] = common_cause(e, (rank <= n) & ~(before <= n), n)
    return out
