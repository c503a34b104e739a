"""Inline SVG charts for the pages: a line with dots, bars, a reliability chart; labels escaped, nothing fetched."""
from __future__ import annotations

import math
from html import escape
from typing import Any

from markupsafe import Markup

W, H, LEFT, BOTTOM, TOP, RIGHT = 720, 210, 44, 46, 12, 12


def _frame_svg(labels: list[str], y_max: float, unit: str, xs: list[float]) -> list[str]:
    """Axes, a few gridlines and at most 6 x labels, so labels never overlap."""
    parts = [f'<svg viewBox="0 0 {W} {H}" role="img" class="chart" aria-label="{escape(unit)}">']
    for i in range(5):
        v = y_max * i / 4
        y = H - BOTTOM - (H - BOTTOM - TOP) * i / 4
        parts.append(f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
                     f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{v:g}</text>')
    step = max(1, math.ceil(len(labels) / 6))
    for i in range(0, len(labels), step):
        parts.append(f'<text x="{xs[i]:.1f}" y="{H - BOTTOM + 18}" text-anchor="middle">'
                     f'{escape(labels[i])}</text>')
    parts.append(f'<text x="{LEFT}" y="{H - 6}" class="unit">{escape(unit)}</text>')
    return parts


def _y(value: float, y_max: float) -> float:
    return H - BOTTOM - (H - BOTTOM - TOP) * min(max(value / y_max, 0), 1)


def line_chart(points: list[tuple[str, float]], unit: str, y_max: float,
               alerts: list[bool] | None = None) -> Markup:
    """A line with a dot per point; dots in `alerts` drawn as alerts."""
    n = len(points)
    xs = [LEFT + (W - LEFT - RIGHT) * (i + 0.5) / n for i in range(n)]
    parts = _frame_svg([p[0] for p in points], y_max, unit, xs)
    coords = [(x, _y(v, y_max)) for x, (_, v) in zip(xs, points)]
    parts.append('<polyline class="line" points="' + " ".join(f"{x:.1f},{y:.1f}" for x, y in coords) + '"/>')
    for i, ((x, y), (label, v)) in enumerate(zip(coords, points)):
        alert = " alert" if alerts and alerts[i] else ""
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" class="dot{alert}">'
                     f'<title>{escape(label)}: {v:.2f}</title></circle>')
    return Markup("".join(parts) + "</svg>")


def bar_chart(points: list[tuple[str, float]], unit: str) -> Markup:
    n = len(points)
    y_max = max(20.0, math.ceil(max(v for _, v in points) / 20) * 20)  # ticks at round numbers
    slot = (W - LEFT - RIGHT) / n
    xs = [LEFT + slot * (i + 0.5) for i in range(n)]
    parts = _frame_svg([p[0] for p in points], y_max, unit, xs)
    for x, (label, v) in zip(xs, points):
        y = _y(v, y_max)
        parts.append(f'<rect x="{x - slot * 0.3:.1f}" y="{y:.1f}" width="{slot * 0.6:.1f}" '
                     f'height="{H - BOTTOM - y:.1f}" class="bar"><title>{escape(label)}: {v:.1f}</title></rect>')
    return Markup("".join(parts) + "</svg>")


def lines_chart(labels: list[str], series: dict[str, list[float | None]], unit: str) -> Markup:
    """A few named lines over the same labels (a missing value breaks its line), with a legend;
    the y axis from 0 to a round number above the largest value."""
    n = len(labels)
    top = max((v for values in series.values() for v in values if v is not None), default=1.0)
    step = 10 ** max(0, math.floor(math.log10(top))) if top > 0 else 1
    y_max = max(1.0, math.ceil(top / step) * step)
    xs = [LEFT + (W - LEFT - RIGHT) * (i + 0.5) / n for i in range(n)]
    parts = _frame_svg(labels, y_max, unit, xs)
    for k, (name, values) in enumerate(series.items()):
        runs: list[list[tuple[float, float]]] = [[]]
        for x, v in zip(xs, values):
            if v is None:
                runs.append([])
            else:
                runs[-1].append((x, _y(v, y_max)))
        for run in runs:
            if len(run) > 1:
                parts.append(f'<polyline class="line series-{k}" points="'
                             + " ".join(f"{x:.1f},{y:.1f}" for x, y in run) + '"/>')
        for (x, v), label in zip(zip(xs, values), labels):
            if v is not None:
                parts.append(f'<circle cx="{x:.1f}" cy="{_y(v, y_max):.1f}" r="4" class="dot series-{k}">'
                             f'<title>{escape(label)}: {escape(name)} {v:,.0f}</title></circle>')
        lx = LEFT + 10 + 230 * k
        parts.append(f'<line x1="{lx}" x2="{lx + 22}" y1="{TOP + 6}" y2="{TOP + 6}" class="line series-{k}"/>'
                     f'<text x="{lx + 28}" y="{TOP + 10}" class="legend">{escape(name)}</text>')
    return Markup("".join(parts) + "</svg>")


RW, RH, RPAD = 420, 340, 46  # the reliability chart: square plot area, room for the axes' words


def reliability_chart(series: dict[str, list[dict[str, Any]]]) -> Markup:
    """Risk shown (x) against the share who left (y), 0-100 %, one line of dots per series
    (scoring.reliability's points, as the report's appendix E draws them), beside the diagonal
    where a shown 70 % means 70 % leave."""
    side = RW - 2 * RPAD + 10
    x0, y0 = RPAD, RH - RPAD

    def at(p: float, o: float) -> tuple[float, float]:
        return x0 + side * min(max(p, 0), 1), y0 - (RH - 2 * RPAD + 10) * min(max(o, 0), 1)

    top_y = at(0, 1)[1]
    parts = [f'<svg viewBox="0 0 {RW} {RH}" role="img" class="chart reliability" '
             f'aria-label="risk shown against the share who left">']
    for i in range(6):
        v = i / 5
        x, y = at(v, v)
        parts.append(f'<line x1="{x0}" x2="{x0 + side:.1f}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
                     f'<text x="{x0 - 6}" y="{y + 4:.1f}" text-anchor="end">{100 * v:.0f}</text>'
                     f'<text x="{x:.1f}" y="{y0 + 16}" text-anchor="middle">{100 * v:.0f}</text>')
    (dx0, dy0), (dx1, dy1) = at(0, 0), at(1, 1)
    parts.append(f'<line x1="{dx0}" y1="{dy0}" x2="{dx1:.1f}" y2="{dy1:.1f}" class="diagonal"/>')
    parts.append(f'<text x="{x0 + side / 2:.1f}" y="{RH - 8}" text-anchor="middle" class="unit">'
                 f'risk shown, %</text>')
    parts.append(f'<text x="12" y="{(top_y + y0) / 2:.1f}" text-anchor="middle" class="unit" '
                 f'transform="rotate(-90 12 {(top_y + y0) / 2:.1f})">% who left</text>')
    for k, (name, points) in enumerate(series.items()):
        cls = f" series{k}"
        coords = [at(pt["predicted"], pt["observed"]) for pt in points]
        if coords:
            parts.append(f'<polyline class="line{cls}" points="'
                         + " ".join(f"{x:.1f},{y:.1f}" for x, y in coords) + '"/>')
        for (x, y), pt in zip(coords, points):
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" class="dot{cls}"><title>{escape(name)}: '
                         f'shown {100 * pt["predicted"]:.0f} %, left {100 * pt["observed"]:.0f} % '
                         f'of {pt["rows"]:,} clients</title></circle>')
        ly = top_y + 4 + 16 * k
        parts.append(f'<circle cx="{x0 + 12}" cy="{ly:.1f}" r="4" class="dot{cls}"/>'
                     f'<text x="{x0 + 22}" y="{ly + 4:.1f}" class="legend">{escape(name)}</text>')
    return Markup("".join(parts) + "</svg>")
