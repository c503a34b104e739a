"""The client info file: facts about clients the extracts don't hold (config `client_info_file`).

A CSV with `corporation` and any of `account_manager` (a user name),
`annual_value` (the contract's value a year), `name`, `contact` (whom to call,
a phone or an e-mail, as text) and `crm_url` (the client's page in the CRM;
the page links it only if it is http or https); other columns are ignored,
the last row of a repeated client counts. Read by the page
(serving/actions.py) and the report (reports/report_facts.py).
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from risk.errors import StepError

COLUMNS = ("corporation", "account_manager", "annual_value", "name", "contact", "crm_url")
TEXT = ("corporation", "account_manager", "name", "contact", "crm_url")


def client_info(path: Path | None) -> pd.DataFrame:
    """The client info file's known columns (corporation first), or an empty frame without one."""
    empty = pd.DataFrame({"corporation": pd.Series(dtype=str)})
    if path is None or not path.is_file():
        return empty
    try:
        info = pd.read_csv(path, dtype={c: str for c in TEXT},
                           keep_default_na=False, na_values={"annual_value": [""]})
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise StepError(f"{path}: cannot read the client info file: {exc}") from None
    if "corporation" not in info.columns:
        raise StepError(f"{path}: the client info file needs a 'corporation' column")
    keep = [c for c in COLUMNS if c in info.columns]
    info = info[keep].drop_duplicates("corporation", keep="last")
    if "annual_value" in info.columns:
        info["annual_value"] = pd.to_numeric(info["annual_value"], errors="coerce")
    return info


def value_by_band(ranking: pd.DataFrame, path: Path | None) -> dict[str, tuple[float, float]]:
    """Per band of `ranking`: the summed annual value and expected loss (probability x value) of
    its clients with a value; empty without values."""
    info = client_info(path)
    if "annual_value" not in info.columns or not info["annual_value"].notna().any():
        return {}
    joined = ranking.merge(info[["corporation", "annual_value"]], on="corporation", how="inner")
    joined = joined[joined["annual_value"].notna()]
    loss = joined["probability"] * joined["annual_value"]
    return {band: (float(joined.loc[part.index, "annual_value"].sum()), float(loss.loc[part.index].sum()))
            for band, part in joined.groupby("band")}
