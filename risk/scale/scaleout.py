"""Ingestion and batch scoring on a Dask cluster, for inputs larger than one machine's memory.

Used when config.json sets `dask_scheduler` ("local" starts a LocalCluster of
LOCAL_WORKERS processes on this machine; otherwise the address of a running
scheduler, e.g. "tcp://10.0.0.5:8786"). The default path is pandas
(ingestion.py, batchscore.py) and never imports Dask.

Same results as the pandas path (the same rows kept, probabilities, order,
bytes of finaldata.csv), partition by partition: each CSV is cut into blocks
at line ends and every task parses and validates one block with the contract's
own reader. Exactness without holding the data in one place takes passes:
 1. survey: validate each block; return its row count and a 64-bit hash of
    each row's key (the client process holds these 8 bytes per row). Scoring
    also returns each row's client id and rounded probability (about 30
    bytes per row) and writes the block's scored rows, sorted by (risk,
    position), to an Arrow file beside the output: every row is parsed and
    scored once;
 2. ingestion: rows whose hash occurs twice are fetched and compared
    exactly, which names the duplicates to drop; scoring: the ids of hashes
    seen twice name each client's earlier rows, and the probabilities count
    the rows per range of risk, so each range's first rank is known;
 3. ingestion writes each block's kept rows to a part file; scoring merges
    each range's slices of the scored blocks (memory-mapped) and writes the
    range to a part file; the parts are joined in order into the output,
    atomically.
Workers must see the input and output folders (a LocalCluster does; a remote
cluster needs them on a shared file system).

Run by scaleout.py (its command line), or by risk/scale/engine.py when the config sets it;
the cluster itself (starting it, running tasks, what a dead worker does) is
risk/scale/daskrun.py.

About 520 lines: the three passes below share the block layout and the key
encoding, and read best in one file; each pass is a few short functions.
"""
from __future__ import annotations

import contextlib
import glob
import logging
import os
import re
import shutil
import socket
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, BinaryIO, Iterator, NamedTuple

import numpy as np
import pandas as pd
from dask import delayed
from distributed import Client

from risk import artifacts, config, history
from risk.data import contract, dbsource, ingestion, sources
from risk.model import batchscore
from risk.scale.daskrun import ScaleoutError, cluster, disk_errors, run, workers

log = logging.getLogger("scaleout")

BLOCK_BYTES = 8 * 2**20  # ~250,000 client rows per task: a few hundred MB at its peak
# A row's position, in input order: file, block, row (rows per block < 2**24).
FILE_SHIFT, BLOCK_SHIFT = 44, 24
RISK_SHIFT = 43  # scoring's sort key: millionths of risk from the top, then position
POSITION_BITS = (1 << RISK_SHIFT) - 1
TOP = 1_000_000


# --- blocks -------------------------------------------------------------------------

class Block(NamedTuple):
    file: int
    index: int
    path: str
    offset: int
    length: int

    @property
    def position(self) -> int:
        return (self.file << FILE_SHIFT) | (self.index << BLOCK_SHIFT)


def _has_quotes(path: Path) -> bool:
    """Whether the file holds a double quote anywhere (a scan at disk speed)."""
    with open(path, "rb") as f:
        while chunk := f.read(1 << 24):
            if b'"' in chunk:
                return True
    return False


def blocks_of(paths: list[Path], block_bytes: int | None = None) -> list[Block]:
    """Each file's blocks; a file with quoted values is one block (a quoted line break could
    otherwise be where a block is cut, and a block would start inside a value)."""
    block_bytes = block_bytes or BLOCK_BYTES
    out = []
    for f, path in enumerate(paths):
        size = path.stat().st_size
        count = max(1, -(-size // block_bytes))
        if count > 1 and _has_quotes(path):
            out.append(Block(f, 0, str(path), 0, max(size, 1)))
            continue
        out += [Block(f, i, str(path), i * block_bytes, block_bytes) for i in range(count)]
    return out


def _read(block: Block) -> tuple[bytes | None, int]:
    """A block as a CSV of its own (the file's header first), and how many lines it holds."""
    import pyarrow as pa
    from fsspec.utils import read_block

    # pyarrow's default allocator keeps freed memory for reuse; a worker under a
    # memory limit needs it back (the Nanny has malloc trim freed memory promptly).
    pa.set_memory_pool(pa.system_memory_pool())

    with open(block.path, "rb") as f:
        header = f.readline()
        raw = read_block(f, block.offset, block.length, delimiter=b"\n")
    lines = raw.count(b"\n")
    if block.index == 0:
        return raw, lines
    return (header + raw if raw.strip() else None), lines


def _clients(raw: bytes, block: Block, require_target: bool) -> pd.DataFrame:
    """A block's rows as the contract reads them; a file without outcomes gets the column
    empty, as pandas' concat of it with other extracts fills it in."""
    frame = batchscore.parse_clients(raw, block.path, require_target)
    return frame if contract.TARGET in frame else frame.assign(**{contract.TARGET: np.nan})


def _parse(block: Block, require_target: bool) -> pd.DataFrame | None:
    raw, _ = _read(block)
    if raw is None:
        return None
    frame = _clients(raw, block, require_target)
    return frame.assign(_pos=block.position + np.arange(len(frame), dtype=np.int64))


def _survey(block: Block, require_target: bool, key: tuple[str, ...], model: Any = None,
            scored: str | None = None) -> dict[str, Any]:
    raw, lines = _read(block)
    out: dict[str, Any] = {"rows": 0, "lines": lines, "error": None}
    if raw is None:
        return out
    try:
        frame = _clients(raw, block, require_target)
    except contract.DataError as exc:
        return {**out, "error": str(exc)}
    out["rows"] = len(frame)
    out["labelled"] = int(frame[contract.TARGET].notna().sum())
    out["hashes"] = pd.util.hash_pandas_object(frame[list(key)], index=False).to_numpy()
    if model is not None and len(frame):
        # Scoring: the ids themselves (short strings) spare a pass to compare them.
        out["ids"] = _strings(frame[contract.ID])
        out["risk"] = _score_block(block, frame, model, scored)
    return out


def _strings(values: pd.Series) -> Any:
    """Strings as a pyarrow ChunkedArray (pandas 3 already keeps them in Arrow, chunked)."""
    import pyarrow as pa
    array = pa.array(values, type=pa.string())
    return array if isinstance(array, pa.ChunkedArray) else pa.chunked_array([array])


def _score_block(block: Block, frame: pd.DataFrame, model: Any, path: str) -> np.ndarray:
    """Score a block's rows once: write them to `path` (Arrow) sorted by (risk, position); return the risk."""
    import pyarrow as pa

    x = contract.feature_matrix(frame)
    millionths = _millionths(model, x)
    key = ((TOP - millionths) << RISK_SHIFT) | (block.position + np.arange(len(frame), dtype=np.int64))
    order = np.argsort(key)
    table = pa.table({
        contract.ID: _strings(frame[contract.ID]).take(order),
        "predicted_exit": np.asarray(model.predict(x)).astype(np.int64)[order],
        **batchscore.feature_columns(x[order]),
        "_key": key[order],
    })
    with pa.OSFile(path, "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    return millionths.astype(np.int32)


def _millionths(model: Any, x: np.ndarray) -> np.ndarray:
    """The attrition probability rounded to 6 decimals, as integer millionths."""
    if not len(x):
        return np.zeros(0, np.int64)
    return np.rint(np.round(model.predict_proba(x)[:, 1], 6) * TOP).astype(np.int64)


def _candidates(block: Block, require_target: bool, key: tuple[str, ...], wanted: np.ndarray) -> pd.DataFrame:
    frame = _parse(block, require_target)
    if frame is None:
        return pd.DataFrame()
    hashes = pd.util.hash_pandas_object(frame[list(key)], index=False).to_numpy()
    return frame[np.isin(hashes, wanted)]


def _global_error(error: str, block: Block, lines_before: int) -> str:
    """A block's error with its line number counted from the top of the file."""
    if block.index == 0:
        return error
    return re.sub(r"on line (\d+)", lambda m: f"on line {lines_before + int(m[1]) - 1}", error, count=1)


def survey(client: Client, blocks: list[Block], require_target: bool, key: tuple[str, ...],
           model: Any = None, scored: list[str] | None = None) -> tuple[list[dict[str, Any]], dict[int, str]]:
    """Pass 1 over every block; and the first error of each file that has one (by file number).

    With a model, each block's scored rows go to its file of `scored`.
    """
    scored = scored or [None] * len(blocks)
    results = run(client, [delayed(_survey)(b, require_target, key, model, path)
                           for b, path in zip(blocks, scored)], "reading the input")
    errors: dict[int, str] = {}
    lines = 0
    for block, r in zip(blocks, results):
        lines = 0 if block.index == 0 else lines
        if r["error"] and block.file not in errors:
            errors[block.file] = _global_error(r["error"], block, lines)
        lines += r["lines"]
    return results, errors


def dropped_positions(client: Client, blocks: list[Block], results: list[dict[str, Any]],
                      require_target: bool, key: tuple[str, ...], keep: str) -> pd.DataFrame:
    """Pass 2: the rows (with `_pos`) that an exact drop_duplicates(key, keep) would drop."""
    hashes = [r["hashes"] for r in results if "hashes" in r]
    if not hashes:
        return pd.DataFrame({"_pos": np.zeros(0, np.int64)})
    every = pd.Series(np.concatenate(hashes))
    wanted = np.unique(every[every.duplicated(keep=False)].to_numpy())
    if not len(wanted):
        return pd.DataFrame({"_pos": np.zeros(0, np.int64)})
    parts = run(client, [delayed(_candidates)(b, require_target, key, wanted)
                         for b, r in zip(blocks, results) if "hashes" in r], "comparing repeated rows")
    rows = pd.concat([p for p in parts if len(p)], ignore_index=True).sort_values("_pos", kind="stable")
    return rows[rows.duplicated(subset=list(key), keep=keep)]


@contextlib.contextmanager
def parts_folder(out: Path) -> Iterator[Path]:
    """A temporary folder beside `out` for the tasks' parts, removed after.

    A killed run cannot remove its folder (up to 50 bytes per input row), so
    the name carries this host and process, and folders of processes that are
    gone are removed first: the next run cleans up after a killed one.
    """
    prefix = f".{out.name}.parts-{socket.gethostname()}-"
    for old in out.parent.glob(f"{glob.escape(prefix)}*"):
        pid = old.name.removeprefix(prefix).split("-")[0]
        if pid.isdigit() and not _running(int(pid)):
            log.info("removing %s, left by a run that was stopped", old)
            shutil.rmtree(old, ignore_errors=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f"{prefix}{os.getpid()}-") as tmp:
        yield Path(tmp)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _join_parts(parts: list[Path], out: Path) -> None:
    """Concatenate `parts` into `out` atomically."""
    def copy(dest: BinaryIO) -> None:
        for part in parts:
            with open(part, "rb") as src:
                shutil.copyfileobj(src, dest, 2**22)
    artifacts.write_all_atomic({out: copy})


# --- ingestion -----------------------------------------------------------------------

def _write_kept(block: Block, drop: np.ndarray, part: str, header: bool, require_target: bool = True) -> int:
    frame = _parse(block, require_target)
    if frame is None:
        return 0
    kept = frame[~np.isin(frame["_pos"].to_numpy(), drop)]
    data = contract.write_csv(kept) if len(kept) else b""
    if not header and data:
        data = data[data.index(b"\n") + 1:]
    Path(part).write_bytes(data)
    return len(kept)


def compile_files(client: Client, files: list[sources.Candidate], out: Path,
                  block_bytes: int | None = None) -> tuple[list[ingestion.FileRecord], int, int]:
    """ingestion.read_files + compile_dataset + writing `out`, on the cluster: (records, rows, dropped)."""
    readable = [c for c in files if c.problem is None]
    blocks = blocks_of([c.path for c in readable], block_bytes)
    results, errors = survey(client, blocks, True, contract.COLUMNS)
    by_name: dict[str, ingestion.FileRecord] = {}
    for f, file in enumerate(readable):
        rows = sum(r["rows"] for b, r in zip(blocks, results) if b.file == f)
        if f in errors or rows == 0:
            reason = errors.get(f) or f"{file.path}: header only, no data rows"
            log.warning("skipping %s", reason)
            by_name[file.name] = ingestion.FileRecord(file.name, file.fingerprint, "rejected", reason=reason)
        else:
            log.info("[%d/%d] read %s: %d rows", f + 1, len(files), file.name, rows)
            by_name[file.name] = ingestion.FileRecord(file.name, file.fingerprint, "ingested", rows_read=rows)
    records = []
    for file in files:  # in the pandas path's order, unreadable ones with their reason
        if file.problem is not None:
            log.warning("skipping %s: %s", file.name, file.problem)
            records.append(ingestion.FileRecord(file.name, file.fingerprint, "rejected", reason=file.problem))
        else:
            records.append(by_name[file.name])
    valid = [(b, r) for b, r in zip(blocks, results) if by_name[readable[b.file].name].status == "ingested"]
    if not valid:
        return records, 0, 0
    kept = _write_unique(client, valid, out, True)
    for (block, _), n in zip(valid, kept):
        by_name[readable[block.file].name].rows_kept += n
    total = sum(kept)
    return records, total, sum(r.rows_read for r in records) - total


def _write_unique(client: Client, valid: list[tuple[Block, dict[str, Any]]], out: Path,
                  require_target: bool) -> list[int]:
    """The blocks' rows less exact repeats (the first kept) written to `out`; the rows kept per block."""
    drop = dropped_positions(client, [b for b, _ in valid], [r for _, r in valid], require_target,
                             contract.COLUMNS, "first")["_pos"].to_numpy()
    with parts_folder(out) as tmp:
        parts = [tmp / f"{i:06d}.csv" for i in range(len(valid))]
        kept = run(client, [delayed(_write_kept)(b, drop, str(p), i == 0, require_target)
                            for i, ((b, _), p) in enumerate(zip(valid, parts))], f"writing {out.name}")
        _join_parts(parts, out)
    return kept


def write_records(client: Client, files: list[sources.Candidate], out: Path,
                  block_bytes: int | None = None) -> tuple[int, list[str]]:
    """ingestion.write_records on the cluster: the same records.csv, byte for byte; (rows, unlabelled).

    Every readable extract, labelled or not, oldest first; one with outcomes on
    some rows only is left out; `out` is not written if no extract qualifies.
    (Ingestion has taken one labelled extract at least, so the outcome column is
    there; an extract without it has it empty, as in pandas' concat.)
    """
    readable = [c for c in files if c.problem is None]
    blocks = blocks_of([c.path for c in readable], block_bytes)
    results, errors = survey(client, blocks, False, contract.COLUMNS)
    accepted, unlabelled = set(), []
    for f, file in enumerate(readable):
        mine = [r for b, r in zip(blocks, results) if b.file == f]
        rows, known = sum(r["rows"] for r in mine), sum(r.get("labelled", 0) for r in mine)
        if f in errors or rows == 0 or 0 < known < rows:
            continue  # ingestion records why
        accepted.add(f)
        if not known:
            unlabelled.append(file.name)
    valid = [(b, r) for b, r in zip(blocks, results) if b.file in accepted]
    if not valid:
        return 0, []
    kept = _write_unique(client, valid, out, False)
    total = sum(kept)
    ingestion.write_records_index(out, [
        (readable[f].name, sum(k for (b, _), k in zip(valid, kept) if b.file == f)) for f in sorted(accepted)])
    log.info("wrote %s: %d records of %d extract(s), %d without outcomes yet (%s) on Dask", out.name,
             total, len(accepted), len(unlabelled), ", ".join(unlabelled) or "none")
    return total, unlabelled


def ingest(cfg: config.Config, exclude: frozenset[str] | set[str] = frozenset(),
           records_exclude: frozenset[str] | set[str] | None = None) -> ingestion.IngestionResult:
    """ingestion.ingest on the Dask cluster of `dask_scheduler`: the same outputs and records."""
    started = time.perf_counter()
    files = [c for c in sources.candidates(cfg.input_folder_path) if c.name not in exclude]
    files += [c for c in dbsource.extract_candidates(cfg) if c.name not in exclude]
    log.info("found %d CSV file(s) in %s; on Dask (%s)", len(files), cfg.input_folder_path,
             cfg.dask_scheduler)
    cfg.finaldata_path.parent.mkdir(parents=True, exist_ok=True)
    with cluster(cfg.dask_scheduler) as client:
        with disk_errors(f"compiling {cfg.finaldata_path} on Dask"):
            records, rows, dropped = compile_files(client, files, cfg.finaldata_path) if files else ([], 0, 0)
        run_id = uuid.uuid4().hex
        ingestion._record_history(cfg, run_id, records)
        if not rows:
            what = "no CSV files" if not files else "no valid CSV files"
            raise contract.DataError(
                f"{cfg.input_folder_path}: {what} to ingest; {cfg.finaldata_path.name} left unchanged")
        artifacts.write_text_atomic(
            cfg.ingestedfiles_path, "".join(f"{r.name}\n" for r in records if r.status == "ingested"))
        artifacts.write_json_atomic(cfg.ingestion_record_path, {
            "run_id": run_id, "ingested_at": history.now(), "input_folder": str(cfg.input_folder_path),
            "finaldata_sha256": artifacts.sha256_file(cfg.finaldata_path), "rows": rows,
            "duplicates_dropped": dropped, "files": [vars(r) for r in records],
            "duration_s": round(time.perf_counter() - started, 4),
        })
        log.info("wrote %s: %d rows, %d duplicate rows dropped, in %.2f s on Dask",
                 cfg.finaldata_path, rows, dropped, time.perf_counter() - started)
        # records.csv last, as on pandas (the call list's unlabelled clients: ingestion.write_records)
        with disk_errors(f"writing {cfg.records_path} on Dask"):
            skip = exclude if records_exclude is None else records_exclude
            write_records(client, [c for c in (*sources.candidates(cfg.input_folder_path),
                                               *dbsource.extract_candidates(cfg)) if c.name not in skip],
                          cfg.records_path)
    return ingestion.IngestionResult(cfg.finaldata_path, rows, dropped, records)


# --- batch scoring -----------------------------------------------------------------------

def _write_range(number: int, first_rank: int, part: str, low: int, high: int, dropped: str,
                 scored: list[str], quoted: bool) -> int:
    """One range of keys [low, high): its rows from every scored block, merged in order, written as CSV
    (every id quoted if `quoted`: one id of the whole ranking needs it). `dropped`: a .npy file of
    the sorted positions to leave out."""
    import pyarrow as pa

    drop = np.load(dropped, mmap_mode="r")

    pieces = []
    for path in scored:
        table = pa.ipc.open_file(pa.memory_map(path)).read_all()
        keys = table["_key"].to_numpy()
        start, stop = np.searchsorted(keys, [low, high])
        pieces.append(table.slice(start, stop - start))
    table = pa.concat_tables(pieces)
    keys = table["_key"].to_numpy()
    if len(drop) and len(keys):  # drop is sorted: a binary search per row
        found = drop[np.minimum(np.searchsorted(drop, keys & POSITION_BITS), len(drop) - 1)]
        kept = found != keys & POSITION_BITS
        table, keys = table.filter(kept), keys[kept]
    if not len(keys):
        Path(part).write_bytes(b"" if number else ",".join(batchscore.RANKING_COLUMNS).encode() + b"\n")
        return 0
    order = np.argsort(keys)
    n = table.num_rows
    ranking = pa.table({
        "rank": np.arange(first_rank + 1, first_rank + n + 1),
        contract.ID: table[contract.ID].take(order),
        # k / 10**6 is the float np.round(p, 6) gives: the same values as the pandas path.
        "attrition_probability": (TOP - (keys[order] >> RISK_SHIFT)) / TOP,
        "predicted_exit": table["predicted_exit"].take(order),
        **{c: table[c].take(order) for c in contract.FEATURES},
    })
    Path(part).write_bytes(batchscore.ranking_csv(ranking, header=number == 0, quoted=quoted))
    return n


def rank_file(client: Client, model: Any, source: Path, out: Path, block_bytes: int | None = None,
              rows_per_partition: int = 500_000) -> int:
    """batchscore.score_csv on the cluster: the same ranked CSV; return its rows."""
    blocks = blocks_of([source], block_bytes)
    if len(blocks) >= 2 ** (RISK_SHIFT - BLOCK_SHIFT):
        raise ScaleoutError(f"{source}: too large for one ranking ({len(blocks)} blocks)")
    with parts_folder(out) as tmp:
        started = time.perf_counter()
        # The model (tens of KB) as a task of the graph, not scattered: a scatter whose worker is
        # killed as it copies can hang, and scattered data dies with its workers; the scheduler
        # makes a task's result again.
        shared = delayed(model, name=f"model-{uuid.uuid4().hex}", traverse=False)
        scored = [str(tmp / f"block-{b.index:06d}.arrow") for b in blocks]
        results, errors = survey(client, blocks, False, (contract.ID,), shared, scored)
        log.info("pass 1 (read, validate, score) of %d blocks: %.2f s", len(blocks), time.perf_counter() - started)
        if errors:
            raise contract.DataError(errors[0])
        if not any(r["rows"] for r in results):
            contract.read_csv(source, require_target=False)  # names the problem: header only
        listed = [(b, r, path) for b, r, path in zip(blocks, results, scored) if r["rows"]]
        drop, counts = _earlier_rows(listed)
        # Quotes are the whole ranking's choice, as in the pandas path (kept rows hold every id).
        quoted = any(batchscore.needs_quotes(r.pop("ids")) for _, r, _ in listed)
        # Ranges of risk holding about rows_per_partition rows each (at least two per worker),
        # highest risk first; their exact row counts give each range's first rank before any sort.
        from_top = np.cumsum(counts[::-1])
        size = min(rows_per_partition, max(1, -(-int(from_top[-1]) // (2 * workers(client)))))
        cuts = sorted({int(np.searchsorted(from_top, k * size))
                       for k in range(1, int(from_top[-1] // size) + 1)} - {0, TOP + 1})
        bounds = [-1, *(c << RISK_SHIFT for c in cuts), np.iinfo(np.int64).max]
        offsets = [0, *(int(from_top[c - 1]) for c in cuts)]
        log.info("pass 2 (%d earlier rows of clients listed again, %d ranges): %.2f s", len(drop),
                 len(offsets), time.perf_counter() - started)
        # To the workers as a file beside the parts, not scattered: a scatter whose worker is
        # killed as it copies can hang; a file is there for whichever worker runs the task.
        dropped = str(tmp / "dropped.npy")
        np.save(dropped, drop)
        paths = [path for _, _, path in listed]
        parts = [str(tmp / f"{k:06d}.csv") for k in range(len(offsets))]
        written = [delayed(_write_range)(k, offsets[k], parts[k], bounds[k], bounds[k + 1], dropped, paths, quoted)
                   for k in range(len(offsets))]
        rows = sum(run(client, written, "writing the ranking"))
        _join_parts([Path(p) for p in parts], out)
    log.info("pass 3 (merge and write %d ranges): %.2f s", len(offsets), time.perf_counter() - started)
    return rows


def _earlier_rows(listed: list[tuple[Block, dict[str, Any], str]]) -> tuple[np.ndarray, np.ndarray]:
    """The positions of each client's earlier rows (the last one counts), and the kept rows per risk."""
    import pyarrow as pa

    # The chunks themselves: given arrays, pa.chunked_array would convert value by value (4 s per 10 M).
    ids = pa.chunked_array([chunk for _, r, _ in listed for chunk in r["ids"].chunks], type=pa.string())
    hashes = pd.Series(np.concatenate([r.pop("hashes") for _, r, _ in listed]))
    # Integers hash fast; only ids whose hash recurs are compared as text.
    candidates = np.flatnonzero(hashes.duplicated(keep=False).to_numpy())
    repeated = ids.take(candidates).to_pandas().duplicated(keep="last").to_numpy()
    earlier = np.zeros(len(hashes), dtype=bool)
    earlier[candidates[repeated]] = True
    positions = np.concatenate([b.position + np.arange(r["rows"], dtype=np.int64) for b, r, _ in listed])
    risk = np.concatenate([r.pop("risk") for _, r, _ in listed])
    return np.sort(positions[earlier]), np.bincount(risk[~earlier], minlength=TOP + 1)


def score_csv(address: str, model: Any, source: Path, out: Path) -> int:
    """Rank the clients of `source` into `out` on the cluster of `address`; return the rows."""
    started = time.perf_counter()
    out.parent.mkdir(parents=True, exist_ok=True)
    with cluster(address) as client, disk_errors(f"ranking {source} into {out} on Dask"):
        rows = rank_file(client, model, source, out)
    log.info("ranked %d clients of %s on Dask in %.2f s -> %s", rows, source,
             time.perf_counter() - started, out)
    return rows
