"""Benchmark: rejecting a CSV of 1,000,000 columns (9.9 MB) from its header (issue 13 item 5).

Times `contract.parse_csv` on the hostile file (one header of a million column
names and one data row), which must be refused before pandas reads anything,
against the same call on a valid client CSV of the same size in the same run
(what reading 9.9 MB of good data costs). Before the header check the hostile
file took 103 s and 2.2 GB in ingestion. Target: rejected in <= 50 ms.

    python bench/bench_wide.py [--repeats N]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import generate_data  # noqa: E402
from risk.data import contract  # noqa: E402

TARGET_S = 0.050


def wide_csv(columns: int = 1_000_000) -> bytes:
    return (",".join(f"c{i}" for i in range(columns)) + "\n" + "1," * (columns - 1) + "1\n").encode()


def valid_csv(size: int) -> bytes:
    """A valid client CSV of about `size` bytes."""
    sample = contract.write_csv(generate_data.clients(np.random.default_rng(0), 10_000, "base"))
    header, body = sample.split(b"\n", 1)
    return header + b"\n" + body * max(1, size // len(body))


def timed(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def measure(repeats: int = 5) -> dict:
    wide = wide_csv()
    good = valid_csv(len(wide))

    def reject() -> None:
        try:
            contract.parse_csv(wide, "wide.csv")
        except contract.DataError:
            return
        raise AssertionError("the 1,000,000-column file was accepted")

    rejected = timed(reject, repeats)
    parsed = timed(lambda: contract.parse_csv(good, "good.csv"), repeats)
    return {
        "wide_bytes": len(wide), "good_bytes": len(good), "repeats": repeats,
        "reject_median_s": statistics.median(rejected), "reject_min_s": min(rejected),
        "reject_max_s": max(rejected),
        "parse_median_s": statistics.median(parsed), "parse_min_s": min(parsed),
        "parse_max_s": max(parsed), "target_s": TARGET_S,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    r = measure(p.parse_args(argv).repeats)
    print(json.dumps(r, indent=2))
    print(f"rejected {r['wide_bytes'] / 1e6:.1f} MB of 1,000,000 columns in "
          f"{r['reject_median_s'] * 1000:.1f} ms (parsing {r['good_bytes'] / 1e6:.1f} MB of valid rows: "
          f"{r['parse_median_s'] * 1000:.0f} ms); target <= {TARGET_S * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
