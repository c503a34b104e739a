"""The reliability chart: scoring.reliability's points, drawn by report_pdf.reliability_chart."""
import numpy as np

from risk.model import scoring
from risk.reports import report_pdf


def test_the_chart_draws_each_series_points_beside_the_diagonal():
    rng = np.random.default_rng(0)
    p = rng.random(5000)
    left = (rng.random(5000) < p).astype(int)  # calibrated by construction
    points = scoring.reliability(p, left)
    assert len(points) == 10 and sum(pt["rows"] for pt in points) == 5000
    assert max(abs(pt["observed"] - pt["predicted"]) for pt in points) < 0.05

    fig = report_pdf.figure((5, 5))
    ax = fig.add_subplot()
    report_pdf.reliability_chart(ax, {"default model": points}, "Shipped test data")
    diagonal, drawn = ax.get_lines()
    assert list(diagonal.get_xdata()) == [0, 1]
    assert list(drawn.get_xdata()) == [pt["predicted"] for pt in points]
    assert list(drawn.get_ydata()) == [pt["observed"] for pt in points]
    assert report_pdf.png(fig, dpi=40).startswith(b"\x89PNG")
