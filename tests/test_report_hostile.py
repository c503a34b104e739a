"""The report's PDF with the client names real extracts hold (issue 22, item 9): CJK and
Cyrillic names drawn as themselves, not '???', and long names kept inside their column."""
from __future__ import annotations

import pypdf
import pytest

from risk.model import scoring
from risk.reports import report_pdf, reporting

NAMES = ["株式会社", "ООО Рога", "Überseehandel GmbH & Co. KG Hamburg-Altona",
         "averyveryverylongclientnamewithoutanyspacesatall"]


@pytest.mark.slow
def test_the_report_draws_cjk_and_cyrillic_client_names(deployed_cfg):
    ranking, _ = scoring.read_call_list(deployed_cfg)
    ranking.loc[: len(NAMES) - 1, "corporation"] = NAMES
    scoring.write_ranking_csv(ranking, scoring.ranking_path(deployed_cfg))
    result = reporting.make_report(deployed_cfg)
    text = " ".join(p.extract_text() for p in pypdf.PdfReader(result["report"]).pages[:3])
    for name in NAMES[:2]:
        assert name in text
    assert "???" not in text


@pytest.mark.parametrize("name", NAMES)
def test_a_long_name_stays_inside_its_column(name):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    widths = [0.45, 0.85, 0.8, 0.55, 0.65, 4.4]  # the call list page's table
    with report_pdf.unicode_fonts():
        fig = report_pdf.figure()
        report_pdf.table(fig, 1.0, ["Rank", "Client", "Band"], [["1", name, "high"]],
                         widths[:3], "lll", size=8.5, clip_cols="1")
        renderer = FigureCanvasAgg(fig).get_renderer()
        band = next(t for t in fig.texts if t.get_text() == "high")
        band_left = band.get_window_extent(renderer).x0
        cells = [t for t in fig.texts if t.get_text() and t.get_text() not in ("Rank", "Client", "Band", "1", "high")]
        assert cells
        for t in cells:
            assert t.get_window_extent(renderer).x1 < band_left, t.get_text()
