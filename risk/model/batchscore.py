"""Batch scoring on one machine: a client CSV in, every client ranked by attrition risk out.

The work of `batchscore.py` (its command line lives there).
"""
from __future__ import annotations

import io
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from risk import artifacts
from risk.data import contract

log = logging.getLogger("batchscore")

RANKING_COLUMNS = ("rank", contract.ID, "attrition_probability", "predicted_exit", *contract.FEATURES)


def _arrow_options() -> tuple[pacsv.ReadOptions, pacsv.ConvertOptions]:
    numeric = (*contract.FEATURES, contract.TARGET)
    return pacsv.ReadOptions(), pacsv.ConvertOptions(
        column_types={contract.ID: pa.string(), **{c: pa.float64() for c in numeric}},
        null_values=contract.MISSING_MARKERS, strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )


def parse_clients(raw: bytes, source: Path | str, require_target: bool = False) -> pd.DataFrame:
    """Client CSV bytes as contract.parse_csv reads them, parsed by pyarrow where it can.

    pyarrow parses in C++ on every core, 3x faster than pandas here; the
    contract's validate() then applies every rule. Whatever pyarrow reads
    differently or refuses (blanks after commas, a ragged row, a header only,
    repeated column names, a value that is not a number) goes to
    contract.parse_csv, which reads it as usual or names the problem.
    """
    header = raw[: raw.find(b"\n")] if b"\n" in raw else raw
    names = [n.strip() for n in header.decode("utf-8", "replace").lstrip("\ufeff").split(",")]
    if b" " in raw or b"\x00" in raw or len(set(names)) != len(names):
        return contract.parse_csv(raw, source, require_target)
    read, convert = _arrow_options()
    # A quoted value may hold a line break: pyarrow must then find row ends itself,
    # or a break where it cuts a block silently splits that row (slower, so only then).
    parse = pacsv.ParseOptions(newlines_in_values=b'"' in raw)
    try:
        table = pacsv.read_csv(io.BytesIO(raw), read_options=read, parse_options=parse,
                               convert_options=convert)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return contract.parse_csv(raw, source, require_target)
    if table.num_rows == 0:
        return contract.parse_csv(raw, source, require_target)
    frame = table.to_pandas()
    frame.columns = [str(c).strip() for c in frame.columns]
    return contract.validate(frame, source, require_target)


def read_clients(path: Path, require_target: bool = False) -> pd.DataFrame:
    """Read and validate one client CSV (see parse_clients)."""
    try:
        raw = Path(path).read_bytes()
    except OSError:
        return contract.read_csv(path, require_target)  # it names the file and the problem
    return parse_clients(raw, path, require_target)


def latest_rows(ids: pd.Series) -> np.ndarray:
    """Positions of each id's last row, in input order."""
    keys = fixed_width_keys(ids)
    repeated = (pd.Series(keys) if keys is not None else ids).duplicated(keep="last").to_numpy()
    return np.flatnonzero(~repeated)


def fixed_width_keys(ids: pd.Series) -> np.ndarray | None:
    """Each id as one unsigned 64-bit number when every id is Arrow text of the same 1 to 8 bytes
    (client codes often are), else None.

    Equal ids give equal numbers and only they do (the bytes, zero-padded), so
    finding repeats hashes integers instead of a million strings: 4x quicker.
    """
    if not isinstance(ids.array, pd.arrays.ArrowStringArray) or not len(ids):
        return None
    arr = pa.array(ids.array)
    arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    kinds = {pa.string(): np.int32, pa.large_string(): np.int64}  # pandas' text is the large kind
    if arr.null_count or arr.type not in kinds:
        return None
    size = np.dtype(kinds[arr.type]).itemsize
    offsets = np.frombuffer(arr.buffers()[1], kinds[arr.type], len(arr) + 1, arr.offset * size)
    width = int(offsets[1] - offsets[0])
    if not 1 <= width <= 8 or not np.all(np.diff(offsets) == width):
        return None
    data = np.frombuffer(arr.buffers()[2], np.uint8, len(arr) * width, int(offsets[0]))
    padded = np.zeros((len(arr), 8), np.uint8)
    padded[:, :width] = data.reshape(len(arr), width)
    return padded.view(np.uint64).ravel()


def risk_order(probability: np.ndarray) -> np.ndarray:
    """argsort(-probability, kind="stable") for probabilities rounded to 6 decimals, 4x faster.

    Each row gets a distinct integer key (millionths of risk from the top, then
    its position), so numpy's unstable but much quicker sort keeps ties in order.
    """
    n = len(probability)
    bits = max(1, int(n).bit_length())
    if bits > 42:  # a key would not fit 63 bits: keep it plain
        return np.argsort(-probability, kind="stable")
    millionths = np.rint(probability * 1_000_000).astype(np.int64)
    keys = ((1_000_000 - millionths) << bits) | np.arange(n, dtype=np.int64)
    return np.sort(keys) & ((1 << bits) - 1)


def ranked(model: Any, frame: pd.DataFrame, offset: int = 0) -> pa.Table:
    """Every client of `frame` with its attrition probability, highest risk first (see the docstring).

    Ranks start at `offset` + 1. Arrays throughout: a frame of a million Python
    strings would cost more than the model.
    """
    rows = latest_rows(frame[contract.ID])
    x = contract.feature_matrix(frame)
    if len(rows) != len(x):  # repeated ids: their last rows (np.take: 3x quicker than x[rows])
        x = np.take(x, rows, axis=0)
    if len(x):
        # The likelier class from the same probabilities: predict() would score every row again.
        proba = model.predict_proba(x)
        probability = np.round(proba[:, 1], 6)
        predicted = np.asarray(model.classes_).take(proba.argmax(axis=1)).astype(np.int64)
    else:
        probability, predicted = np.zeros(0), np.zeros(0, np.int64)
    order = risk_order(probability)
    # Column by column from a transposed copy: a contiguous gather per feature is 4x quicker
    # than reordering the rows of x and then cutting strided columns out of it.
    columns = np.ascontiguousarray(x.T)
    return pa.table({
        "rank": np.arange(offset + 1, offset + len(order) + 1),
        contract.ID: pa.array(frame[contract.ID], type=pa.string()).take(rows[order]),
        "attrition_probability": probability[order],
        "predicted_exit": predicted[order],
        **{c: _whole(columns[i].take(order)) for i, c in enumerate(contract.FEATURES)},
    })


def _whole(values: np.ndarray) -> pa.Array:
    """A feature's values as whole numbers, missing ones empty (NaN would print "nan")."""
    return pa.array(values, from_pandas=True).cast(pa.int64())


def feature_columns(x: np.ndarray) -> dict[str, pa.Array]:
    """The feature matrix as a ranking's columns: whole numbers, missing ones empty (NaN prints "nan")."""
    return {c: _whole(x[:, i]) for i, c in enumerate(contract.FEATURES)}


def needs_quotes(ids: pa.Array | pa.ChunkedArray) -> bool:
    """Whether an id holds what a CSV writer must quote: a comma, a double quote, a line break.

    Looks at the strings' bytes as one run per chunk: 10x faster than a pattern
    matched value by value (0.2 s against 2 s for 10 M ids).
    """
    for chunk in ids.chunks if isinstance(ids, pa.ChunkedArray) else [ids]:
        if not pa.types.is_string(chunk.type) and not pa.types.is_large_string(chunk.type):
            chunk = chunk.cast(pa.large_string())
        _, offsets, data = chunk.buffers()
        if not len(chunk) or data is None:
            continue
        width = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
        start, end = np.frombuffer(offsets, width)[[chunk.offset, chunk.offset + len(chunk)]]
        text = memoryview(data)[start:end].tobytes()
        if b"," in text or b'"' in text or b"\n" in text or b"\r" in text:
            return True
    return False


def ranking_csv(table: pa.Table, header: bool = True, quoted: bool | None = None) -> bytes:
    """A ranking as CSV bytes, written by pyarrow in C++ (pandas formats each float in Python).

    Unquoted, as pandas writes, unless an id needs quotes: then every id is
    quoted (the same values, read back). `quoted` makes that choice for a part
    of a ranking written alone (Dask's ranges), so all parts agree.
    """
    out = io.BytesIO()
    if header:  # pyarrow would quote the names; pandas doesn't
        out.write(",".join(table.column_names).encode() + b"\n")
    if quoted is None:
        quoted = needs_quotes(table[contract.ID])
    pacsv.write_csv(table, out, pacsv.WriteOptions(include_header=False,
                                                   quoting_style="needed" if quoted else "none"))
    return out.getvalue()


def ranking_frame(table: pa.Table) -> pd.DataFrame:
    """A ranking as the pandas frame scoring.ranked_clients returns (features as floats)."""
    frame = table.to_pandas()
    return frame.astype({c: "float64" for c in contract.FEATURES})


def score_csv(model: Any, source: Path, out: Path) -> int:
    """Read `source`, rank its clients with `model`, write the ranking to `out`; return its rows."""
    started = time.perf_counter()
    table = ranked(model, read_clients(source))
    artifacts.write_atomic(out, ranking_csv(table))
    log.info("ranked %d clients of %s in %.2f s -> %s", table.num_rows, source,
             time.perf_counter() - started, out)
    return table.num_rows
