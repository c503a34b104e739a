"""The benchmarks' entry point starts. Benchmarks are not tests: nothing here times anything."""
import subprocess
import sys

import pytest
from conftest import ROOT


@pytest.mark.slow
def test_bench_run_prints_its_usage():
    run = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--help"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "--quick" in run.stdout


@pytest.mark.slow
def test_every_benchmark_imports():
    """A benchmark left behind by a change of the code it measures fails here, not in the next bench run."""
    code = ("import importlib, pathlib, sys; sys.path[:0] = [sys.argv[1], sys.argv[2]]; "
            "[importlib.import_module(p.stem) for p in sorted(pathlib.Path(sys.argv[1]).glob('bench_*.py'))]")
    run = subprocess.run([sys.executable, "-c", code, str(ROOT / "bench"), str(ROOT)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
