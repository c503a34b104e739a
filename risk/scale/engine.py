"""The one choice of engine: pandas on this machine, or Dask when `dask_scheduler` is set.

Both engines give the same outputs; neither knows of the other. The scripts and
the main job call these functions, never an engine's own, so the choice is made
here once, above both.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from risk import config
from risk.data import ingestion
from risk.model import batchscore


def ingest(cfg: config.Config, exclude: frozenset[str] | set[str] = frozenset(),
           records_exclude: frozenset[str] | set[str] | None = None) -> ingestion.IngestionResult:
    """Ingest the input folder (and database extracts) with the configured engine; records.csv
    leaves out `records_exclude` (default: `exclude`)."""
    if cfg.dask_scheduler:
        from risk.scale import (
            scaleout,  # Dask costs seconds to import: only a cluster's user pays it
        )
        return scaleout.ingest(cfg, exclude, records_exclude)
    return ingestion.ingest(cfg, exclude, records_exclude)


def score_csv(cfg: config.Config, model: Any, source: Path, out: Path) -> int:
    """Rank the clients of `source` into `out` with the configured engine; return the rows."""
    if cfg.dask_scheduler:
        from risk.scale import scaleout
        return scaleout.score_csv(cfg.dask_scheduler, model, source, out)
    return batchscore.score_csv(model, source, out)
