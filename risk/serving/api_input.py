"""What a /prediction request asks about: its one input, read and checked before any model work.

A request carries exactly one of: a file path under one of the keys course
clients use (api_spec.PATH_KEYS) in a JSON body, a form or the query string;
`{"records": [...]}` as JSON; a CSV body; a CSV file uploaded as multipart form
data. Every CSV goes through the contract's reader (contract.parse_csv), which
checks the header before pandas parses anything; every record through the
contract's number rules. A named file is opened race-free (`read_data_file`),
and `BodyLimit` holds the body limit on the bytes actually read.

Errors are werkzeug HTTP exceptions with one-line messages; app.py answers them as JSON.
"""
from __future__ import annotations

import errno
import io
import json
import os
import stat
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
from flask import Request
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import BadRequest, Forbidden, NotFound, UnsupportedMediaType

from risk import config
from risk.data import contract
from risk.serving.api_spec import PATH_KEYS

CSV_TYPES = ("text/csv", "application/csv")
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
NO_INPUT = f"no input: send a file path ('{PATH_KEYS[0]}'), {{\"records\": [...]}}, a CSV body or a CSV upload"


def public_message(message: str, cfg: config.Config) -> str:
    """`message` with the project folder left out of its paths: clients need not see the server's layout."""
    return message.replace(f"{cfg.path.parent}{os.sep}", "")


def _fd_path(fd: int) -> Path | None:
    """The real path of the file open at `fd`, as the kernel knows it (None if it cannot say)."""
    try:
        return Path(os.readlink(f"/proc/self/fd/{fd}"))
    except OSError:
        pass
    try:
        import fcntl
        return Path(os.fsdecode(fcntl.fcntl(fd, fcntl.F_GETPATH, b"\0" * 1024).rstrip(b"\0")))
    except (AttributeError, OSError):
        return None


def read_data_file(cfg: config.Config, key: str, raw: object) -> tuple[str, bytes]:
    """(the name to show, the bytes) of a CSV file a client named, if it lies in a data folder.

    Relative paths resolve against the config file's folder; symlinks are
    followed, so one pointing out of the folders is refused like `../` (403).
    The check is made on the file actually opened (its real path, from the
    kernel), not on the name: a link swapped between check and open cannot
    lead the read outside.
    """
    if not isinstance(raw, str) or not raw.strip():
        raise BadRequest(f"'{key}' must be a non-empty string")
    if "\x00" in raw:
        raise BadRequest(f"'{key}' must not contain NUL characters")
    shown = raw.strip()
    path = Path(shown)
    if not path.is_absolute():
        path = cfg.path.parent / path
    folders = (cfg.input_folder_path, cfg.output_folder_path, cfg.test_data_path)
    outside = Forbidden(f"'{key}' {shown!r} is outside the project's data folders")
    try:
        resolved = path.resolve()
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop
        raise BadRequest(f"'{key}' {shown!r} cannot be resolved ({exc})") from None
    if not any(resolved.is_relative_to(folder) for folder in folders):
        raise outside
    if resolved.suffix.lower() != ".csv":
        raise BadRequest(f"'{key}' {shown!r} is not a .csv file")
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(resolved, flags)  # NONBLOCK: a FIFO must not hang the worker
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # a link put in place since resolve(): never followed
            raise outside from None
        if exc.errno in (errno.ENOENT, errno.ENOTDIR, errno.ENAMETOOLONG):
            raise NotFound(f"'{key}' {shown!r}: file not found") from None
        raise BadRequest(f"'{key}' {shown!r}: cannot read ({exc.strerror})") from None
    # Checked on the descriptor before it becomes a file object: open() of a folder raises.
    try:
        real = _fd_path(fd)
        if real is None or not any(real.is_relative_to(folder) for folder in folders):
            raise outside
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise NotFound(f"'{key}' {shown!r}: a folder, not a file")
        if not stat.S_ISREG(mode):
            raise NotFound(f"'{key}' {shown!r}: file not found")
    except BaseException:
        os.close(fd)
        raise
    with os.fdopen(fd, "rb") as f:
        try:
            data = f.read()
        except OSError as exc:
            raise BadRequest(f"'{key}' {shown!r}: cannot read ({exc.strerror})") from None
    return public_message(str(resolved), cfg), data


def _feature(value: object, row: int, name: str) -> float:
    if contract.is_feature_value(value):
        return float("nan") if value is None else float(value)  # type: ignore[arg-type]
    shown = json.dumps(value)
    shown = shown if len(shown) <= 40 else shown[:37] + "..."
    raise BadRequest(f"records[{row}].{name} must be a whole number >= 0 or null, got {shown}")


def records_matrix(records: object) -> np.ndarray:
    """The feature matrix of JSON records, checked by the contract's rules without a DataFrame."""
    if not isinstance(records, list) or not records:
        raise BadRequest("'records' must be a non-empty list of objects")
    rows = []
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            raise BadRequest(f"records[{i}] must be an object")
        row = []
        for name in contract.FEATURES:
            if name not in record:
                raise BadRequest(f"records[{i}] is missing feature '{name}'")
            row.append(_feature(record[name], i, name))
        rows.append(row)
    return np.array(rows, dtype="float64")


def csv_matrix(data: bytes, source: str) -> np.ndarray:
    """The feature matrix of CSV bytes: the contract's reader checks the header before parsing on."""
    try:
        return contract.feature_matrix(contract.parse_csv(data, source, require_target=False))
    except contract.DataError as exc:
        raise BadRequest(str(exc)) from None


def _json_body(data: bytes) -> Any:
    try:
        return json.loads(data)
    except (ValueError, RecursionError):  # ValueError covers bad UTF-8 too
        raise BadRequest("request body is not valid JSON") from None


def _only_known(keys: Iterable[str], where: str, known: tuple[str, ...]) -> None:
    unknown = sorted(str(k) for k in set(keys) - set(known))
    if unknown:
        raise BadRequest(f"unknown key '{unknown[0]}' in {where} (expected {', '.join(repr(k) for k in known)})")


def prediction_inputs(req: Request) -> list[tuple[str, object]]:
    """Every input a /prediction request carries, as (key, value): it must carry exactly one.

    Accepted: a path key (api_spec.PATH_KEYS) in a JSON body, a form or the query
    string; `{"records": [...]}` as JSON; a CSV body (text/csv); a CSV file uploaded
    in a multipart form.
    """
    mimetype = req.mimetype
    given: list[tuple[str, object]] = []
    data = req.get_data()
    if not data.strip():
        pass  # no body, whatever the Content-Type says: a GET with ?filepath= and a JSON header
    elif mimetype == "application/json" or mimetype.endswith("+json"):
        body = _json_body(data)
        if not isinstance(body, dict):
            raise BadRequest("JSON body must be an object with 'records' or a file path")
        _only_known(body, "JSON body", ("records", *PATH_KEYS))
        given += list(body.items())
    elif mimetype in CSV_TYPES:
        given.append(("CSV body", data))
    elif mimetype in FORM_TYPES:
        _only_known(req.form, "form", PATH_KEYS)  # werkzeug parses the form from the data read above
        given += list(req.form.items(multi=True))
        given += [(f"upload '{field}'", upload) for field, upload in req.files.items(multi=True)]
    else:
        raise UnsupportedMediaType(
            f"unsupported Content-Type '{mimetype or 'none'}': send application/json, text/csv or a form")
    _only_known(req.args, "query string", PATH_KEYS)
    given += list(req.args.items(multi=True))
    if not given:
        raise BadRequest(NO_INPUT)
    if len(given) > 1:
        raise BadRequest(f"send one input, got {' and '.join(repr(k) for k, _ in given)}")
    return given


def prediction_features(req: Request, cfg: config.Config) -> np.ndarray:
    """The feature matrix a /prediction request asks about (NaN where a value is missing)."""
    (key, value), = prediction_inputs(req)
    if key == "records":
        return records_matrix(value)
    if key == "CSV body":
        return csv_matrix(value, "request body")  # type: ignore[arg-type]
    if isinstance(value, FileStorage):
        return csv_matrix(value.read(), f"uploaded file {value.filename or key!r}")
    return csv_matrix(*read_data_file(cfg, key, value)[::-1])


class BodyLimit:
    """WSGI middleware: the body limit on the bytes actually read, whatever the framing.

    werkzeug checks a body's Content-Length, but hands a chunked body (no length;
    the server marks its stream `wsgi.input_terminated`) to the app unlimited. Such
    a body is read here, at most `limit` + 1 bytes, and handed on with its length,
    so werkzeug's own check answers 413 when it is over.
    """

    def __init__(self, app: Callable[..., Any], limit: int) -> None:
        self.app, self.limit = app, limit

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if environ.get("wsgi.input_terminated") and (chunked or not environ.get("CONTENT_LENGTH")):
            environ.pop("wsgi.input_terminated")
            environ.pop("HTTP_TRANSFER_ENCODING", None)
            stream, chunks, size = environ["wsgi.input"], [], 0
            while size <= self.limit:
                chunk = stream.read(min(1 << 16, self.limit + 1 - size))
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
            environ["wsgi.input"] = io.BytesIO(b"".join(chunks))
            environ["CONTENT_LENGTH"] = str(size)  # over the limit: werkzeug answers 413
        return self.app(environ, start_response)
