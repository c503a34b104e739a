"""Which database rows are new: a look-back window below the watermark, de-duplicated by row content.

An increasing id or load time alone loses rows: rows that tie the watermark, rows
updated in place, and on PostgreSQL rows whose transaction commits after rows
with larger ids were read. So each read takes every row past the
`database_lookback_rows`-th order value at or below the watermark, hashes each
row's whole content (its version), and keeps the rows whose hash the last handled
batch did not see. The guarantee: a row is read once per content, unless more
than `database_lookback_rows` rows with larger order values were handled before
it committed (or before it was changed); raise the key to widen that margin.

A row without an order value (NULL) is never read, and said so; a row whose order
value is not of the column's kind (text in a number column) is skipped with its
reason, once. Standard library only: the cron tick that finds nothing stays cheap.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

KINDS: dict[str, tuple[type, ...]] = {"int": (int, float), "float": (int, float), "str": (str,),
                                      "datetime": (dt.datetime, str), "date": (dt.date, str)}


def quote(name: str) -> str:
    """An identifier (optionally schema.table) quoted for SQL; both SQLite and PostgreSQL."""
    return ".".join('"' + part.replace('"', '""') + '"' for part in name.split("."))


def select(source: str, column: str, watermark_known: bool, seen_known: bool) -> str:
    """The window's SQL over `source` (a quoted table or a parenthesised query) by `column`.

    Parameters :watermark and :lookback. Without a seen set (a batch handled by an
    older version of this module) it reads past the watermark only, as that did.
    """
    col = quote(column)
    rows = f"SELECT * FROM {source} AS w0 WHERE {col} IS NOT NULL"
    if not watermark_known:
        return f"{rows} ORDER BY {col}"
    if not seen_known:
        return f"{rows} AND {col} > :watermark ORDER BY {col}"
    low = (f"COALESCE((SELECT {col} FROM {source} AS w1 WHERE {col} IS NOT NULL AND {col} <= :watermark "
           f"ORDER BY {col} DESC LIMIT 1 OFFSET :lookback), "
           f"(SELECT MIN({col}) FROM {source} AS w2 WHERE {col} IS NOT NULL))")
    return f"{rows} AND {col} >= {low} ORDER BY {col}"


def count_nulls(source: str, column: str) -> str:
    return f"SELECT COUNT(*) FROM {source} AS w0 WHERE {quote(column)} IS NULL"


def row_hash(row: tuple[Any, ...]) -> str:
    """A row's version: a hash of its whole content, as the driver returns it."""
    text = json.dumps(list(row), default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:20]


def kind_of(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, dt.datetime):
        return "datetime"
    if isinstance(value, dt.date):
        return "date"
    for kind in ("int", "float", "str"):
        if isinstance(value, KINDS[kind][0]):
            return kind
    return None


def column_kind(values: list[Any], known: str | None) -> str | None:
    """The order column's kind: the recorded watermark's, else the most common among `values`."""
    if known:
        return known
    kinds = [k for k in map(kind_of, values) if k]
    return max(set(kinds), key=kinds.count) if kinds else None


def fits(value: Any, kind: str | None) -> bool:
    """Whether an order value is of the column's kind (numbers with numbers, text with text)."""
    if kind is None:
        return True
    if kind in ("int", "float"):
        return kind_of(value) in ("int", "float")
    return kind_of(value) == kind


def kept_for_next(orders: list[Any], hashes: list[str], lookback: int, kind: str | None) -> list[str]:
    """The hashes the next read's window needs: rows at or past its low end, and odd-kind rows."""
    valid = sorted(o for o in orders if fits(o, kind))
    low = valid[-1 - lookback] if len(valid) > lookback else (valid[0] if valid else None)
    return [h for o, h in zip(orders, hashes) if not fits(o, kind) or low is None or o >= low]
