"""Ingestion and batch scoring on a Dask cluster, for inputs larger than one machine's memory.

Used when config.json sets `dask_scheduler` ("local" starts a LocalCluster of
LOCAL_WORKERS processes on this machine; otherwise the address of a running
scheduler, e.g. "tcp://10.0.0.5:8786"). The default path is pandas
(ingestion.py, batchscore.py) and never imports Dask.

Same results as the pandas path (the same rows kept, probabilities, order,
bytes of finaldata.csv), partition by partition: each CSV is cut into blocks
at line ends and every task parses and validates one block with the contract's
own reader. Exactness without holding the data in one place takes passes over
the blocks (reading from the OS cache is cheap; memory is not):
 1. survey: validate each block; return its row count and, for ingestion, a
    64-bit hash of each row (the client process holds these 8 bytes per
    row), for scoring also each row's client id and rounded probability
    (about 30 bytes per row);
 2. ingestion: rows whose hash occurs twice are fetched and compared
    exactly, which names the duplicates to drop; scoring: the ids of hashes
    seen twice name each client's earlier rows, and the probabilities count
    the rows per range;
 3. ingestion writes each block's kept rows to a part file; scoring sorts
    by (risk, position) with one shuffle into ranges whose row counts, hence
    ranks, are known from 1, and writes each range to a part file;
    the parts are joined in order into the output, atomically.
Workers must see the input and output folders (a LocalCluster does; a remote
cluster needs them on a shared file system).

    python scaleout.py ingest [--config config.json]
    python scaleout.py score --input clients.csv --output ranked.csv [--config config.json]
"""
from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Iterator, NamedTuple

import numpy as np
import pandas as pd
from dask import delayed
from distributed import Client, LocalCluster

import artifacts
import batchscore
import cli
import config
import contract
import dbsource
import history
import ingestion
import sources
from errors import StepError

log = logging.getLogger("scaleout")

BLOCK_BYTES = 8 * 2**20  # ~250,000 client rows per task: a few hundred MB at its peak
LOCAL_WORKERS = 2
LOCAL_MEMORY = "1GB"  # per worker: Dask spills and pauses below it
# A row's position, in input order: file, block, row (rows per block < 2**24).
FILE_SHIFT, BLOCK_SHIFT = 44, 24
RISK_SHIFT = 43  # scoring's sort key: millionths of risk from the top, then position
TOP = 1_000_000


class ScaleoutError(StepError):
    """The Dask cluster is unreachable or a task failed."""


@contextlib.contextmanager
def cluster(address: str) -> Iterator[Client]:
    """A client of the configured scheduler, or of a LocalCluster started for the while."""
    try:
        if address == "local":
            with LocalCluster(n_workers=LOCAL_WORKERS, threads_per_worker=1, memory_limit=LOCAL_MEMORY,
                              dashboard_address=None) as local, Client(local) as client:
                yield client
        else:
            with Client(address, timeout="10s") as client:
                yield client
    except OSError as exc:  # distributed raises OSError (TimeoutError) for an unreachable scheduler
        raise ScaleoutError(f"Dask scheduler {address} (key 'dask_scheduler'): {exc}") from None


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


def blocks_of(paths: list[Path], block_bytes: int | None = None) -> list[Block]:
    block_bytes = block_bytes or BLOCK_BYTES
    out = []
    for f, path in enumerate(paths):
        size = path.stat().st_size
        count = max(1, -(-size // block_bytes))
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


def _parse(block: Block, require_target: bool) -> pd.DataFrame | None:
    raw, _ = _read(block)
    if raw is None:
        return None
    frame = batchscore.parse_clients(raw, block.path, require_target)
    return frame.assign(_pos=block.position + np.arange(len(frame), dtype=np.int64))


def _survey(block: Block, require_target: bool, key: tuple[str, ...], model: Any) -> dict[str, Any]:
    raw, lines = _read(block)
    out: dict[str, Any] = {"rows": 0, "lines": lines, "error": None}
    if raw is None:
        return out
    try:
        frame = batchscore.parse_clients(raw, block.path, require_target)
    except contract.DataError as exc:
        return {**out, "error": str(exc)}
    out["rows"] = len(frame)
    out["hashes"] = pd.util.hash_pandas_object(frame[list(key)], index=False).to_numpy()
    if model is not None:  # scoring: the ids themselves (short strings) spare a pass to compare them
        import pyarrow as pa
        out["ids"] = pa.array(frame[contract.ID], type=pa.string())
        out["risk"] = _millionths(model, frame).astype(np.int32)
    return out


def _millionths(model: Any, frame: pd.DataFrame) -> np.ndarray:
    """The attrition probability rounded to 6 decimals, as integer millionths."""
    x = contract.feature_matrix(frame)
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
           model: Any = None) -> tuple[list[dict[str, Any]], dict[int, str]]:
    """Pass 1 over every block; and the first error of each file that has one (by file number)."""
    results = client.gather(client.compute(
        [delayed(_survey)(b, require_target, key, model) for b in blocks]))
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
    parts = client.gather(client.compute(
        [delayed(_candidates)(b, require_target, key, wanted) for b, r in zip(blocks, results)
         if "hashes" in r]))
    rows = pd.concat([p for p in parts if len(p)], ignore_index=True).sort_values("_pos", kind="stable")
    return rows[rows.duplicated(subset=list(key), keep=keep)]


def _join_parts(parts: list[Path], out: Path) -> None:
    """Concatenate `parts` into `out` atomically (temp file in its folder, fsync, rename)."""
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as dest:
            for part in parts:
                with open(part, "rb") as src:
                    shutil.copyfileobj(src, dest, 2**22)
            dest.flush()
            os.fsync(dest.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except BaseException:
        os.unlink(tmp)
        raise


# --- ingestion -----------------------------------------------------------------------

def _write_kept(block: Block, drop: np.ndarray, part: str, header: bool) -> int:
    frame = _parse(block, True)
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
    drop = dropped_positions(client, [b for b, _ in valid], [r for _, r in valid], True,
                             contract.COLUMNS, "first")["_pos"].to_numpy()
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".parts-") as tmp:
        parts = [Path(tmp) / f"{i:06d}.csv" for i in range(len(valid))]
        kept = client.gather(client.compute(
            [delayed(_write_kept)(b, drop, str(p), i == 0) for i, ((b, _), p) in enumerate(zip(valid, parts))]))
        _join_parts(parts, out)
    for (block, _), n in zip(valid, kept):
        by_name[readable[block.file].name].rows_kept += n
    total = sum(kept)
    return records, total, sum(r.rows_read for r in records) - total


def ingest(cfg: config.Config, exclude: frozenset[str] | set[str] = frozenset()) -> ingestion.IngestionResult:
    """ingestion.ingest on the Dask cluster of `dask_scheduler`: the same outputs and records."""
    started = time.perf_counter()
    files = [c for c in sources.candidates(cfg.input_folder_path) if c.name not in exclude]
    files += [c for c in dbsource.extract_candidates(cfg) if c.name not in exclude]
    log.info("found %d CSV file(s) in %s; on Dask (%s)", len(files), cfg.input_folder_path,
             cfg.dask_scheduler)
    cfg.finaldata_path.parent.mkdir(parents=True, exist_ok=True)
    with cluster(cfg.dask_scheduler) as client:
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
    return ingestion.IngestionResult(cfg.finaldata_path, rows, dropped, records)


# --- batch scoring -----------------------------------------------------------------------

def _ranked_pieces(block: Block, model: Any, drop: np.ndarray, divisions: np.ndarray) -> list[Any]:
    """A block's kept rows scored, sorted by (risk, position), cut at `divisions` into one piece per range."""
    import pyarrow as pa

    frame = _parse(block, False)
    if frame is not None:
        frame = frame[~np.isin(frame["_pos"].to_numpy(), drop)]
    if frame is None or not len(frame):
        return [None] * (len(divisions) + 1)
    x = contract.feature_matrix(frame)
    millionths = _millionths(model, frame)
    key = ((TOP - millionths) << RISK_SHIFT) | frame["_pos"].to_numpy()
    order = np.argsort(key)
    table = pa.table({
        contract.ID: pa.array(frame[contract.ID], type=pa.string()).take(order),
        "millionths": millionths[order],
        "predicted_exit": np.asarray(model.predict(x)).astype(np.int64)[order],
        **{c: x[order, i] for i, c in enumerate(contract.FEATURES)},
        "_key": key[order],
    })
    cuts = [0, *np.searchsorted(table["_key"].to_numpy(), divisions).tolist(), len(table)]
    return [table.slice(lo, hi - lo) for lo, hi in zip(cuts[:-1], cuts[1:])]


def _write_range(number: int, first_rank: int, part: str, *pieces: Any) -> int:
    """One range of risk, its pieces merged in order, written as CSV with its ranks."""
    import pyarrow as pa

    pieces = [p for p in pieces if p is not None and p.num_rows]
    if not pieces:
        Path(part).write_bytes(b"" if number else ",".join(batchscore.RANKING_COLUMNS).encode() + b"\n")
        return 0
    table = pa.concat_tables(pieces)
    order = np.argsort(table["_key"].to_numpy())
    n = table.num_rows
    ranking = pa.table({
        "rank": np.arange(first_rank + 1, first_rank + n + 1),
        contract.ID: table[contract.ID].take(order),
        # k / 10**6 is the float np.round(p, 6) gives: the same values as the pandas path.
        "attrition_probability": table["millionths"].to_numpy()[order] / TOP,
        "predicted_exit": table["predicted_exit"].to_numpy()[order],
        **{c: pa.array(table[c].to_numpy()[order], from_pandas=True).cast(pa.int64())
           for c in contract.FEATURES},
    })
    Path(part).write_bytes(batchscore.ranking_csv(ranking, header=number == 0))
    return n


def rank_file(client: Client, model: Any, source: Path, out: Path, block_bytes: int | None = None,
              rows_per_partition: int = 1_000_000) -> int:
    """batchscore.score_csv on the cluster: the same ranked CSV; return its rows."""
    blocks = blocks_of([source], block_bytes)
    if len(blocks) >= 2 ** (RISK_SHIFT - BLOCK_SHIFT):
        raise ScaleoutError(f"{source}: too large for one ranking ({len(blocks)} blocks)")
    started = time.perf_counter()
    results, errors = survey(client, blocks, False, (contract.ID,), model)
    log.info("pass 1 (survey) of %d blocks: %.2f s", len(blocks), time.perf_counter() - started)
    if errors:
        raise contract.DataError(errors[0])
    if not any(r["rows"] for r in results):
        contract.read_csv(source, require_target=False)  # names the problem: header only
    # Each client's last row counts: the earlier ones are dropped, and the rest,
    # counted by rounded risk, give each range's size before anything is sorted.
    import pyarrow as pa
    listed = [(b, r) for b, r in zip(blocks, results) if r["rows"]]
    ids = pa.chunked_array([r["ids"] for _, r in listed], type=pa.string())
    hashes = pd.Series(np.concatenate([r.pop("hashes") for _, r in listed]))
    # Integers hash fast; only ids whose hash recurs are compared as text.
    candidates = np.flatnonzero(hashes.duplicated(keep=False).to_numpy())
    repeated = ids.take(candidates).to_pandas().duplicated(keep="last").to_numpy()
    earlier = np.zeros(len(hashes), dtype=bool)
    earlier[candidates[repeated]] = True
    del ids, hashes
    positions = np.concatenate([b.position + np.arange(r["rows"], dtype=np.int64) for b, r in listed])
    risk = np.concatenate([r.pop("risk") for _, r in listed])
    counts = np.bincount(risk[~earlier], minlength=TOP + 1)
    drop = positions[earlier]
    # Ranges of risk holding about rows_per_partition rows each, highest risk first; their
    # exact row counts give each range's first rank before anything is sorted.
    from_top = np.cumsum(counts[::-1])
    cuts = sorted({int(np.searchsorted(from_top, k * rows_per_partition))
                   for k in range(1, int(from_top[-1] // rows_per_partition) + 1)} - {0, TOP + 1})
    divisions = np.array([c << RISK_SHIFT for c in cuts], dtype=np.int64)
    offsets = [0, *(int(from_top[c - 1]) for c in cuts)]
    log.info("pass 2 (%d earlier rows of clients listed again): %.2f s", len(drop),
             time.perf_counter() - started)
    shared = client.scatter(model, broadcast=True)
    pieces = [delayed(_ranked_pieces, nout=len(offsets))(b, shared, drop, divisions) for b in blocks]
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".parts-") as tmp:
        parts = [str(Path(tmp) / f"{k:06d}.csv") for k in range(len(offsets))]
        written = [delayed(_write_range)(k, offsets[k], parts[k], *(p[k] for p in pieces))
                   for k in range(len(offsets))]
        rows = sum(client.gather(client.compute(written)))
        _join_parts([Path(p) for p in parts], out)
    return rows


def score_csv(address: str, model: Any, source: Path, out: Path) -> int:
    """Rank the clients of `source` into `out` on the cluster of `address`; return the rows."""
    started = time.perf_counter()
    out.parent.mkdir(parents=True, exist_ok=True)
    with cluster(address) as client:
        rows = rank_file(client, model, source, out)
    log.info("ranked %d clients of %s on Dask in %.2f s -> %s", rows, source,
             time.perf_counter() - started, out)
    return rows


def main(argv: list[str] | None = None) -> int:
    p = cli.parser(__doc__)
    p.add_argument("step", choices=("ingest", "score"))
    p.add_argument("--input", type=Path, help="score: the client CSV")
    p.add_argument("--output", type=Path, help="score: where the ranked CSV goes")
    args = p.parse_args(argv)
    if args.step == "score" and not (args.input and args.output):
        p.error("score needs --input and --output")
    cfg = cli.start(args.config)
    if cfg is None:
        return 2
    address = cfg.dask_scheduler or "local"
    try:
        if args.step == "ingest":
            print(ingestion.summary(ingest(cfg._replace(dask_scheduler=address))))
        else:
            model, manifest = artifacts.load_deployed_model(cfg.prod_deployment_path)
            rows = score_csv(address, model, args.input, args.output)
            print(f"ranked {rows} clients with {artifacts.version_name(manifest['version'])} on Dask "
                  f"-> {args.output}")
    except StepError as exc:
        return cli.failed(exc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
