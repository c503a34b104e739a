"""Benchmark: ingestion and batch scoring on a 2-worker Dask LocalCluster, 1 M to 10 M rows, beside pandas on 1 M.

Generates client CSVs of 1 M and 10 M rows (seeded, 1 M-row chunks; not
timed) and a model trained on 10,000 other clients. Times, after imports and
one warm-up on the cluster:
  - pandas: batchscore.score_csv on 1 M rows (the reference, same run);
  - Dask, a LocalCluster of 2 worker processes, 1 thread and 1 GB each:
    scaleout.rank_file (read, validate, keep each client's last row,
    probabilities, rank, write) on 1 M and 10 M rows, and
    scaleout.compile_files (read, validate, drop duplicate rows, write
    finaldata.csv) and scaleout.write_records (records.csv) on 10 M rows;
and reports rows per second, the cost per row from 1 M to 10 M, and each
worker's peak resident memory (ru_maxrss in the worker; the cluster must
end with the workers it started: a worker over its limit would be restarted).

Targets (issue 14): 10 M rows ingested and scored with peak memory <= 1 GB per
worker; Dask's throughput within 2x of the pandas path on 1 M rows.

    python bench/bench_dask.py [--quick] [--json PATH]
"""
from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

import generate_data  # noqa: E402
from risk.data import (
    contract,  # noqa: E402
    sources,  # noqa: E402
)
from risk.model import (
    batchscore,  # noqa: E402
    training,  # noqa: E402
)

SIZES = (1_000_000, 10_000_000)
CHUNK = 1_000_000
WORKERS, MEMORY_LIMIT = 2, "1GB"
TARGET_PEAK_MB = 1000  # 1 GB, as Dask counts it
TARGET_RATIO = 0.5  # Dask rows/s >= half of pandas'


def write_clients(path: Path, rows: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    with open(path, "wb") as f:
        for start in range(0, rows, CHUNK):
            data = contract.write_csv(generate_data.clients(rng, min(CHUNK, rows - start)))
            f.write(data if start == 0 else data[data.index(b"\n") + 1:])


def timed(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def worker_peaks_mb(client) -> dict[str, float]:
    def peak() -> float:
        import resource
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return client.run(peak)


def measure(quick: bool = False) -> dict:
    from distributed import Client, LocalCluster

    from risk.scale import scaleout

    repeats = 1 if quick else 3
    logging.getLogger("distributed").setLevel(logging.ERROR)
    model = training.train_model(generate_data.clients(np.random.default_rng(0), 10_000))
    out: dict = {"sizes": list(SIZES), "repeats_1m": repeats, "workers": WORKERS,
                 "memory_limit": MEMORY_LIMIT}
    with tempfile.TemporaryDirectory(prefix="bench-dask-") as tmp:
        files = {n: Path(tmp) / f"clients_{n}.csv" for n in SIZES}
        for n, path in files.items():
            write_clients(path, n, seed=n)
        ranked = Path(tmp) / "ranked.csv"
        batchscore.score_csv(model, files[SIZES[0]], ranked)  # warm
        pandas_s = timed(lambda: batchscore.score_csv(model, files[SIZES[0]], ranked), repeats)
        out["pandas_1m_s"] = statistics.median(pandas_s)
        pandas_bytes = ranked.read_bytes()
        with LocalCluster(n_workers=WORKERS, threads_per_worker=1, memory_limit=MEMORY_LIMIT,
                          processes=True, dashboard_address=None) as cluster, Client(cluster) as client:
            workers = sorted(client.scheduler_info()["workers"])
            scaleout.rank_file(client, model, files[SIZES[0]], ranked)  # warm: imports in the workers
            out["same_bytes_as_pandas_1m"] = ranked.read_bytes() == pandas_bytes
            score: dict[int, list[float]] = {}
            for n in SIZES:
                score[n] = timed(lambda: scaleout.rank_file(client, model, files[n], ranked),
                                 repeats if n == SIZES[0] else 1)
            final = Path(tmp) / "finaldata.csv"
            big = [c for c in sources.candidates(Path(tmp)) if c.path == files[SIZES[-1]]]
            ingest_s = timed(lambda: scaleout.compile_files(client, big, final), 1)
            records_s = timed(lambda: scaleout.write_records(client, big, Path(tmp) / "records.csv"), 1)
            out["worker_peak_mb"] = sorted(worker_peaks_mb(client).values())
            out["workers_restarted"] = sorted(client.scheduler_info()["workers"]) != workers
    for n in SIZES:
        out[f"dask_score_{n}_s"] = statistics.median(score[n])
    big, small = SIZES[-1], SIZES[0]
    out["dask_ingest_10m_s"] = ingest_s[0]
    out["dask_records_10m_s"] = records_s[0]
    out["pandas_1m_rows_per_s"] = small / out["pandas_1m_s"]
    out["dask_score_10m_rows_per_s"] = big / out[f"dask_score_{big}_s"]
    out["dask_score_1m_rows_per_s"] = small / out[f"dask_score_{small}_s"]
    out["dask_ingest_10m_rows_per_s"] = big / ingest_s[0]
    out["cost_per_row_10m_vs_1m"] = (out[f"dask_score_{big}_s"] / big) / (out[f"dask_score_{small}_s"] / small)
    out["ratio_vs_pandas"] = out["dask_score_10m_rows_per_s"] / out["pandas_1m_rows_per_s"]
    out["holds_memory"] = max(out["worker_peak_mb"]) <= TARGET_PEAK_MB and not out["workers_restarted"]
    out["holds_throughput"] = out["ratio_vs_pandas"] >= TARGET_RATIO
    return out


def table(r: dict) -> str:
    big, small = r["sizes"][-1], r["sizes"][0]
    return "\n".join([
        f"pandas batchscore, {small:,} rows       {r['pandas_1m_s']:7.2f} s  {r['pandas_1m_rows_per_s']:>12,.0f} rows/s",
        f"Dask rank_file, {small:,} rows          {r[f'dask_score_{small}_s']:7.2f} s  "
        f"{r['dask_score_1m_rows_per_s']:>12,.0f} rows/s (same bytes as pandas: {r['same_bytes_as_pandas_1m']})",
        f"Dask rank_file, {big:,} rows         {r[f'dask_score_{big}_s']:7.2f} s  "
        f"{r['dask_score_10m_rows_per_s']:>12,.0f} rows/s; cost per row x{r['cost_per_row_10m_vs_1m']:.2f} of 1 M",
        f"Dask compile_files, {big:,} rows     {r['dask_ingest_10m_s']:7.2f} s  "
        f"{r['dask_ingest_10m_rows_per_s']:>12,.0f} rows/s",
        f"Dask write_records, {big:,} rows     {r['dask_records_10m_s']:7.2f} s  "
        f"{big / r['dask_records_10m_s']:>12,.0f} rows/s (records.csv: ingestion's second product)",
        f"worker peak RSS {', '.join(f'{m:.0f}' for m in r['worker_peak_mb'])} MB "
        f"(limit {r['memory_limit']}; restarted: {r['workers_restarted']}): "
        f"{'holds' if r['holds_memory'] else 'MISSED'}",
        f"Dask 10 M vs pandas 1 M throughput {r['ratio_vs_pandas']:.2f} (target >= {TARGET_RATIO}): "
        f"{'holds' if r['holds_throughput'] else 'MISSED'}",
    ])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument("--quick", action="store_true", help="1 repeat on 1 M rows (else 3)")
    p.add_argument("--json", type=Path, default=Path(__file__).with_name("bench_dask.json"))
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    result = measure(args.quick)
    print(table(result))
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
