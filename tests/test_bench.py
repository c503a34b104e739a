"""The benchmarks' entry point starts. Benchmarks are not tests: nothing here times anything."""
import subprocess
import sys

from conftest import ROOT


def test_bench_run_prints_its_usage():
    run = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--help"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "--quick" in run.stdout
