"""The parts the scripts at the top level are built of.

    risk/            shared parts: config, errors, the command line, artifacts, the run history
    risk/data/       data in: the contract, folder and database sources, ingestion, quality gate, drift
    risk/model/      the model: training, scoring and the call list, reasons, batch scoring
    risk/scale/      the choice of engine, and Dask for data beyond one machine
    risk/loop/       the retraining loop: challenger, decisions, deployment and rollback
    risk/reports/    diagnostics, the dependency check, the PDF report
    risk/serving/    the Flask API, the managers' page, the API's client

Imports run one way, down this list (tests/test_layout.py checks it).
"""
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the checkout: the scripts, config.json, data folders

from risk import interpreter as _interpreter  # noqa: E402  (standard library only)

_interpreter.guard(ROOT)
