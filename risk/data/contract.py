"""The data contract: columns, types and rules, and the one reader that enforces them.

A client row is `corporation` (string id, never a feature), three features
(non-negative integers, missing allowed: the model pipeline imputes them) and
`exited` (0 or 1; required for training and scoring, optional for prediction).
Extra columns are dropped with a warning; a missing required column, a value
of the wrong kind, or a file that is not a UTF-8 CSV rejects the whole file
with a one-line reason naming the file, the column and the line.
"""
from __future__ import annotations

import codecs
import csv
import io
import logging
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from risk.errors import StepError

log = logging.getLogger(__name__)

ID = "corporation"
FEATURES = ("lastmonth_activity", "lastyear_activity", "number_of_employees")
TARGET = "exited"
COLUMNS = (ID, *FEATURES, TARGET)

# Text that means "no value" in a numeric column. An id column keeps these
# as text: a client may well be called "NA".
MISSING_MARKERS = ["", "NA", "N/A", "NaN", "nan", "null", "NULL", "None"]
# Features travel as float64, where whole numbers above 2**53 stop being exact:
# a larger figure is a broken extract, not a client. 2**53 itself is refused
# too, because 2**53 + 1 reads as 2**53 (app.py's JSON check uses the same bound).
MAX_FEATURE = 2**53 - 1
# A header is checked before pandas reads anything: a file of a million column
# names (10 MB) took pandas 103 s and 2.2 GB. The contract has five columns;
# extra ones are tolerated, up to this many columns and this many header bytes.
MAX_COLUMNS = 100
MAX_HEADER_BYTES = 10_000


class DataError(StepError):
    """A data file or frame breaks the data contract."""


def _read_bytes(path: Path) -> bytes:
    import os
    import stat

    try:
        # Non-blocking and checked on the open descriptor: a FIFO named x.csv
        # would otherwise block the reader forever, and a check before the
        # open could be raced.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise DataError(f"{path}: not a regular file")
        with open(fd, "rb") as f:
            return f.read()
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None


def _checked_text(raw: bytes, source: Path | str) -> bytes:
    """`raw` without a UTF-8 byte order mark, once it is known to be UTF-8 text."""
    if not raw.strip():
        raise DataError(f"{source}: empty file")
    if b"\x00" in raw:
        raise DataError(f"{source}: binary file, not a CSV (contains NUL bytes)")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataError(f"{source}: not UTF-8 text (bad byte on line {line})") from None
    # Bytes, not the decoded text: pandas would encode the text again to parse it.
    return raw[len(codecs.BOM_UTF8):] if raw.startswith(codecs.BOM_UTF8) else raw


def _check_header(data: bytes, source: Path | str) -> None:
    """Reject a header that is absurdly long or names a column twice, before any parsing."""
    # The first line ends at \n or at a lone \r (pandas splits lines at either).
    ends = [i for i in (data.find(b"\n"), data.find(b"\r")) if i >= 0]
    header = data[:min(ends)] if ends else data
    columns = header.count(b",") + 1
    if columns > MAX_COLUMNS or len(header) > MAX_HEADER_BYTES:
        raise DataError(
            f"{source}: header has {columns:,} columns ({len(header):,} bytes); the contract has "
            f"{len(COLUMNS)} (at most {MAX_COLUMNS} columns, {MAX_HEADER_BYTES:,} bytes accepted)"
        )
    import csv  # the header alone, as pandas will split it (quotes included)

    try:
        names = [n.strip() for n in next(csv.reader([header.decode("utf-8")]), [])]
    except csv.Error as exc:
        raise DataError(f"{source}: malformed CSV header ({exc})") from None
    seen: set[str] = set()
    for name in names:
        if name in seen and name:
            raise DataError(f"{source}: column {name!r} appears twice in the header")
        seen.add(name)


def _line(frame: pd.DataFrame, mask: pd.Series | np.ndarray) -> int:
    """The file line (header is line 1) of the first row where `mask` holds."""
    return int(np.flatnonzero(np.asarray(mask))[0]) + 2


def _check_numeric(path: Path, frame: pd.DataFrame, col: str) -> None:
    values = frame[col]
    if not pd.api.types.is_numeric_dtype(values):
        numbers = pd.to_numeric(values, errors="coerce")
        bad = numbers.isna() & values.notna()
        if bad.any():
            i = _line(frame, bad)
            raise DataError(
                f"{path}: column '{col}' has non-numeric value {values[bad].iloc[0]!r} on line {i}"
            )
        values = numbers
    values = values.astype("float64")
    v = values.to_numpy()  # numpy's operators, not pandas': 5x faster on a million rows
    for mask, what in (
        (v < 0, "is negative"),
        (~np.isnan(v) & ((v != np.floor(v)) | np.isinf(v)), "is not a whole number"),  # inf is not
        (np.isfinite(v) & (v > MAX_FEATURE), f"is larger than {MAX_FEATURE:,}"),
    ):
        if mask.any():
            raise DataError(
                f"{path}: column '{col}' value {v[mask][0]:g} on line {_line(frame, mask)} {what}"
            )
    frame[col] = values


def _empty_ids(ids: pd.Series) -> np.ndarray:
    """True where an id is missing or "". Arrow-backed text is checked in Arrow: turning a
    million ids into Python strings for it took longer than reading them."""
    if isinstance(ids.array, pd.arrays.ArrowStringArray):
        import pyarrow as pa
        import pyarrow.compute as pc

        arr = pa.array(ids.array)
        return np.asarray(pc.fill_null(pc.equal(pc.binary_length(arr), 0), True), dtype=bool)
    values = ids.to_numpy()
    return pd.isna(values) | ~values.astype(bool)


def validate(frame: pd.DataFrame, source: Path | str, require_target: bool = True) -> pd.DataFrame:
    """Check a raw frame against the contract; return it with the contract's columns and types."""
    source = Path(source)
    required = COLUMNS if require_target else (ID, *FEATURES)
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise DataError(f"{source}: missing column(s) {', '.join(repr(c) for c in missing)}")
    extra = [str(c) for c in frame.columns if c not in COLUMNS]
    if extra:
        log.warning("%s: ignoring extra column(s) %s", source, ", ".join(extra))
    keep = [c for c in COLUMNS if c in frame.columns]
    frame = frame[keep].copy()

    ids = frame[ID]
    if not pd.api.types.is_string_dtype(ids):
        ids = ids.astype(str).where(ids.notna())
    # The reader already stripped leading blanks (skipinitialspace), so a blank id is "".
    empty = _empty_ids(ids)  # missing or ""
    if empty.any():
        raise DataError(f"{source}: column '{ID}' is empty on line {_line(frame, empty)}")
    frame[ID] = ids

    for col in FEATURES:
        _check_numeric(source, frame, col)
    if TARGET in frame.columns:
        _check_numeric(source, frame, TARGET)
        target = frame[TARGET]
        if require_target and target.isna().any():
            raise DataError(
                f"{source}: column '{TARGET}' is empty on line {_line(frame, target.isna())}"
            )
        bad = target.notna() & ~target.isin([0, 1])
        if bad.any():
            raise DataError(
                f"{source}: column '{TARGET}' value {target[bad].iloc[0]:g} on line "
                f"{_line(frame, bad)} must be 0 or 1"
            )
        if require_target:
            frame[TARGET] = target.astype("int64")
    return frame.reset_index(drop=True)


def _parse(data: bytes, numbers_as_floats: bool) -> pd.DataFrame:
    """pandas' reading of a client CSV: ids as text, numbers as floats or as pandas infers them."""
    numeric = (*FEATURES, TARGET)
    dtype = {ID: str, **({c: "float64" for c in numeric} if numbers_as_floats else {})}
    return pd.read_csv(
        io.BytesIO(data), dtype=dtype, na_values={c: MISSING_MARKERS for c in numeric},
        keep_default_na=False, index_col=False,
        # Blanks after a comma go; the option slows pandas' tokenizer by a third, so it
        # is only on when the file holds a blank at all.
        skipinitialspace=b" " in data,
    )


def read_csv(path: Path, require_target: bool = True) -> pd.DataFrame:
    """Read and validate one client CSV; raise DataError naming the file and the problem."""
    path = Path(path)
    return parse_csv(_read_bytes(path), path, require_target)


def parse_csv(raw: bytes, source: Path | str, require_target: bool = True) -> pd.DataFrame:
    """Parse and validate client CSV bytes (a file's, or a request body); errors name `source`."""
    data = _checked_text(raw, source)
    _check_header(data, source)
    try:
        with warnings.catch_warnings():
            # Rows longer than the header: pandas would silently drop the extra fields.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            try:
                # Numbers read straight as floats: a third faster than letting pandas infer types.
                frame = _parse(data, numbers_as_floats=True)
            except ValueError:
                # A value that is not a number, or a malformed file: read it again as
                # before, so that validate() or the handlers below name the problem.
                frame = _parse(data, numbers_as_floats=False)
    except pd.errors.EmptyDataError:
        raise DataError(f"{source}: empty file") from None
    except pd.errors.ParserWarning:
        raise DataError(f"{source}: malformed CSV (a row has more fields than the header)") from None
    except (pd.errors.ParserError, ValueError) as exc:
        reason = str(exc).strip().splitlines()[-1]
        raise DataError(f"{source}: malformed CSV ({reason})") from None
    if frame.empty:
        raise DataError(f"{source}: header only, no data rows")
    frame.columns = [str(c).strip() for c in frame.columns]
    return validate(frame, source, require_target)


def feature_matrix(frame: pd.DataFrame) -> np.ndarray:
    """The model's input: the feature columns as a float array (NaN where missing)."""
    missing = [c for c in FEATURES if c not in frame.columns]
    if missing:
        raise DataError(f"input is missing feature column(s) {', '.join(missing)}")
    return frame[list(FEATURES)].to_numpy(dtype="float64", na_value=np.nan)


def write_csv(frame: pd.DataFrame) -> bytes:
    """The frame as CSV bytes in the contract's column order, whole numbers without '.0'."""
    cols = [c for c in COLUMNS if c in frame.columns]
    # Nullable integers print as "12" and missing as "" (a float_format would format
    # every value in Python, 4x slower).
    numeric = {c: "Int64" for c in (*FEATURES, TARGET) if c in frame.columns}
    out = frame[cols].astype(numeric)
    import pyarrow as pa  # here: only writers pay for the import
    import pyarrow.csv as pacsv

    data = io.BytesIO()
    data.write(",".join(cols).encode() + b"\n")
    try:
        # pyarrow's writer runs in C++, 5x faster than pandas'; unquoted, as pandas writes
        # when no value needs quotes. pyarrow refuses if one does...
        pacsv.write_csv(pa.Table.from_pandas(out, preserve_index=False), data,
                        pacsv.WriteOptions(include_header=False, quoting_style="none"))
    except pa.ArrowInvalid:
        # ... then pandas writes it, quoting only those values; but it leaves a carriage
        # return unquoted (read back, the row would end there), so rows with one are written
        # one by one, quoted as a line break (rare: a few per million at worst).
        if not out[ID].astype("string").str.contains("\r", regex=False).any():
            return out.to_csv(index=False, lineterminator="\n").encode()
        return _csv_quoting_carriage_returns(out)
    return data.getvalue()


def _csv_quoting_carriage_returns(frame: pd.DataFrame) -> bytes:
    """The frame as pandas writes it, with every value holding a carriage return quoted."""
    lines = [",".join(frame.columns)]
    for row in frame.astype(object).where(frame.notna(), "").itertuples(index=False):
        buffer = io.StringIO()
        # A line end of "\r\n" makes the writer quote both; each row's own end is cut off.
        csv.writer(buffer, lineterminator="\r\n").writerow(row)
        lines.append(buffer.getvalue()[:-2])
    return ("\n".join(lines) + "\n").encode()


def is_feature_value(value: object) -> bool:
    """Whether a JSON value may stand for a feature: a whole number from 0 to MAX_FEATURE (as the
    reader's rules above), a float holding one, or None for missing. Booleans are not numbers here."""
    if value is None:
        return True
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if isinstance(value, float) and not value.is_integer():  # NaN and infinities are not either
        return False
    return 0 <= value <= MAX_FEATURE
