"""Draw docs/reliability.png: the reliability chart of the default and the course model (docs/model.md).

Left: both models trained on the shipped sourcedata/, judged on the shipped
testdata/testdata.csv (2,000 clients). Right: both trained on 10,000 clients
of the generator's `cliff` law (seeded), judged on 50,000 fresh ones.
Prints the figures it draws (calibration error, exits caught in the top 100).

    python docs/reliability.py
"""
from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import generate_data  # noqa: E402
from risk.data import contract  # noqa: E402
from risk.model import scoring, training  # noqa: E402
from risk.reports import report_pdf  # noqa: E402

NAMES = {"additive": "default model (additive, calibrated)", "course": "course model (raw counts)"}


def panel(train: pd.DataFrame, judged: pd.DataFrame) -> dict[str, list[dict]]:
    x, y = contract.feature_matrix(judged), judged[contract.TARGET].to_numpy()
    out = {}
    for kind, name in NAMES.items():
        p = training.train_model(train, kind=kind).predict_proba(x)[:, 1]
        m = scoring.list_measure(p, y, 100)
        print(f"  {name}: calibration error {m['calibration_error']:.3f}, "
              f"{m['exits_in_top']} exits in the top 100, AUC {m['auc']:.3f}")
        out[name] = scoring.reliability(p, y)
    return out


def main() -> int:
    root = HERE.parent
    source = pd.concat([contract.read_csv(p) for p in sorted((root / "sourcedata").glob("*.csv"))])
    test = contract.read_csv(root / "testdata" / "testdata.csv")
    print("shipped data (2,000 test clients):")
    shipped = panel(source, test)
    rng = np.random.default_rng(19)
    print("cliff law (50,000 fresh clients):")
    cliff = panel(generate_data.clients(rng, 10_000, "cliff"), generate_data.clients(rng, 50_000, "cliff"))

    import matplotlib

    fig = report_pdf.figure((10, 5))
    with matplotlib.rc_context(report_pdf.STYLE):
        left, right = fig.subplots(1, 2)
        report_pdf.reliability_chart(left, shipped, "Shipped test data (2,000 clients)")
        report_pdf.reliability_chart(right, cliff, "A law with a cliff in activity (50,000 clients)")
        fig.tight_layout()
        (HERE / "reliability.png").write_bytes(report_pdf.png(fig, dpi=110))
    print(HERE / "reliability.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
