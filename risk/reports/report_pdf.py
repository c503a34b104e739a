"""Drawing the report: A4 pages of text, tables, charts and the confusion matrix, as PDF bytes.

reporting.py decides what the report says; this module only draws. Pages
are bare matplotlib Figures (no pyplot: no global figure registry, no GUI
backend, safe in threads). Text uses the PDF's built-in Helvetica
(`pdf.use14corefonts`): nothing to embed or subset, which halves the time
a page takes to write compared with embedding DejaVu Sans.

matplotlib is imported inside the functions: it costs most of a second, and
importing reporting.py (the API does) must not pay it.

A page whose text the core fonts cannot show (a client named in Cyrillic or
CJK) is drawn instead with DejaVu Sans (matplotlib's own, Latin, Greek and
Cyrillic) and a CJK font where one is installed (Debian's fonts-droid-fallback
or fonts-noto-cjk; without one, CJK letters show as boxes and the log says which
package to install). Table cells named in `clip_cols` (client names) are cut
to two lines that fit their column, with an ellipsis, whatever the script.
"""
from __future__ import annotations

import contextlib
import io
import logging
import textwrap
import unicodedata
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

A4 = (8.27, 11.69)  # inches, portrait
MARGIN = 0.7
INK = "#1f3b63"
GREY = "#555555"
# No math mode: recorded text (client and file names, reasons) is drawn as it is,
# where a '$' pair would otherwise start a formula.
STYLE = {"pdf.use14corefonts": True, "pdf.compression": 6, "text.parse_math": False, "axes.titlesize": 11,
         "axes.labelsize": 9.5, "xtick.labelsize": 8.5, "ytick.labelsize": 8.5}
# CJK fonts Debian installs, in order of preference, as (file, family name).
CJK_FONTS = (("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf", "Droid Sans Fallback"),
             ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", "Noto Sans CJK JP"))
CORE_ENCODING = "cp1252"  # what the core Helvetica can show
CLIP_LINES = 2

log = logging.getLogger("report")


def _cjk_families() -> list[str]:
    """The installed CJK fonts' family names, registered with matplotlib by file."""
    from matplotlib import font_manager
    found = []
    for path, family in CJK_FONTS:
        if Path(path).is_file():
            font_manager.fontManager.addfont(path)  # its cache may predate the font's install
            found.append(family)
    return found


@contextlib.contextmanager
def unicode_fonts(figures: Sequence[Figure] = ()) -> Iterator[None]:
    """Draw with embedded fonts that have Cyrillic, Greek and (if installed) CJK letters:
    figures made inside, and the texts of `figures` made before."""
    import matplotlib
    from matplotlib.text import Text
    families = ["DejaVu Sans", *_cjk_families()]
    if len(families) == 1:
        log.warning("no CJK font installed: CJK letters in the report show as boxes "
                    "(Debian: apt-get install fonts-droid-fallback)")
    for fig in figures:
        for t in fig.findobj(Text):  # a text keeps the font family it was made with
            t.set_fontfamily(families)
    with matplotlib.rc_context({"pdf.use14corefonts": False, "pdf.fonttype": 42, "font.family": families}):
        yield


def core_fonts_suffice(fig: Figure) -> bool:
    """Whether every text on the page can be written in the PDF's built-in Helvetica."""
    from matplotlib.text import Text
    try:
        for t in fig.findobj(Text):
            t.get_text().encode(CORE_ENCODING)
    except UnicodeEncodeError:
        return False
    return True


def figure(size: tuple[float, float] = A4) -> Figure:
    from matplotlib.figure import Figure
    return Figure(figsize=size)


def render(pages: Sequence[Callable[[], Figure]], metadata: dict[str, Any]) -> bytes:
    """The pages (functions drawing one Figure each) as one PDF."""
    import matplotlib
    from matplotlib.backends.backend_pdf import PdfPages

    buf = io.BytesIO()
    # The core Helvetica has a "medium" weight only; matplotlib says so on every
    # text it lays out. Nothing to act on: quiet it while drawing.
    fonts = logging.getLogger("matplotlib.font_manager")
    level = fonts.level
    fonts.setLevel(logging.ERROR)
    try:
        with matplotlib.rc_context(STYLE):
            # One choice of fonts for the whole file: the PDF writes its fonts at the end.
            figures = [page() for page in pages]
            core = all(core_fonts_suffice(fig) for fig in figures)
            with contextlib.nullcontext() if core else unicode_fonts(figures), \
                    PdfPages(buf, metadata=metadata) as pdf:
                for fig in figures:
                    pdf.savefig(fig)
    finally:
        fonts.setLevel(level)
    return buf.getvalue()


def png(fig: Figure, dpi: int = 150) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def when(text_or_time: str | datetime) -> str:
    """A time as people read it: 30 Nov 2026, 21:50 UTC."""
    t = datetime.fromisoformat(text_or_time) if isinstance(text_or_time, str) else text_or_time
    return f"{t.astimezone(timezone.utc):%d %b %Y, %H:%M} UTC"


def wrap(text: str, width_in: float, size: float) -> str:
    """`text` with each line wrapped to fit `width_in` inches at `size` points.

    matplotlib does not wrap text to a width; Helvetica averages a little under
    half an em per character on English text.
    """
    chars = max(12, int(width_in * 72 / (size * 0.48)))
    return "\n".join(
        textwrap.fill(line, chars, subsequent_indent="   " if line.startswith("•") else "")
        for line in text.splitlines()
    )


def _em(ch: str) -> float:
    """A character's width in ems, roughly: full-width (CJK) 1, others a little over DejaVu Sans' average."""
    return 1.0 if unicodedata.east_asian_width(ch) in ("W", "F") else 0.62


def clip(text: str, width_in: float, size: float, lines: int = CLIP_LINES) -> str:
    """`text` broken into at most `lines` lines that fit `width_in` inches, '…' if cut."""
    room = width_in * 72 / size  # in ems
    out, line, used = [], "", 0.0
    for ch in text.replace("\n", " "):
        if used + _em(ch) > room:
            out.append(line)
            line, used = "", 0.0
            if len(out) == lines:
                break
        line += ch
        used += _em(ch)
    else:
        return "\n".join([*out, line])
    last = out[-1]
    while last and sum(map(_em, last)) + _em("…") > room:
        last = last[:-1]
    return "\n".join([*out[:-1], last + "…"])


def line_height(size: float, linespacing: float = 1.3) -> float:
    """Inches one line of text takes."""
    return size * linespacing * 1.15 / 72


def text(fig: Figure, top: float, words: str, size: float = 10, linespacing: float = 1.3,
         left: float = MARGIN, width: float | None = None, **kw: Any) -> float:
    """Write `words`, wrapped, at `top` inches from the page top; return the inches below it."""
    w, h = fig.get_figwidth(), fig.get_figheight()
    lines = wrap(words, width or (w - left - MARGIN), size).split("\n")
    step = line_height(size, linespacing)
    # One text per line on its baseline: with the core fonts, matplotlib's
    # multi-line layout spaces lines unevenly.
    for i, line in enumerate(lines):
        fig.text(left / w, 1 - (top + size * 0.8 / 72 + i * step) / h, line, fontsize=size,
                 va="baseline", **kw)
    return top + len(lines) * step


def heading(fig: Figure, top: float, words: str, size: float = 13) -> float:
    return text(fig, top, words, size=size, fontweight="bold", color=INK) + 0.08


def note(fig: Figure, top: float, words: str, size: float = 9.5, **kw: Any) -> float:
    return text(fig, top, words, size=size, color="#333333", **kw)


def table(fig: Figure, top: float, header: Sequence[str], rows: Sequence[Sequence[str]],
          widths: Sequence[float], align: str, size: float = 9, wrap_cols: str = "",
          colors: Sequence[Sequence[str | None]] | None = None, clip_cols: str = "") -> float:
    """A table `top` inches from the page top; `align` has 'l' or 'r' per column.

    Columns whose index is in `wrap_cols` wrap their text, those in `clip_cols`
    are cut to fit (`clip`); a row is as tall as its tallest cell. `colors` optionally gives each cell's text colour.
    Returns the inches below the table.
    """
    w, h = fig.get_figwidth(), fig.get_figheight()
    inner = w - 2 * MARGIN
    inches = [inner * x / sum(widths) for x in widths]
    lefts = np.concatenate([[MARGIN], MARGIN + np.cumsum(inches)[:-1]])
    pad, lh = 0.06, line_height(size, 1.2)
    ascent = size * 0.8 / 72

    def cells(values: Sequence[str]) -> list[str]:
        return [wrap(v, inches[c] - 2 * pad, size) if str(c) in wrap_cols
                else clip(v, inches[c] - 2 * pad, size) if str(c) in clip_cols else v
                for c, v in enumerate(values)]

    def draw_row(values: Sequence[str], y: float, bold: bool, fill: str | None,
                 tint: Sequence[str | None] | None) -> float:
        values = cells(values)
        height = max(v.count("\n") + 1 for v in values) * lh + 2 * pad
        if fill:
            fig.patches.append(_rect(fig, MARGIN, y, inner, height, fill))
        for c, v in enumerate(values):
            x = lefts[c] + pad if align[c] == "l" else lefts[c] + inches[c] - pad
            # One text per line on its baseline: with the core fonts, matplotlib's
            # multi-line and top-aligned layouts place lines unevenly.
            for i, line in enumerate(v.split("\n")):
                fig.text(x / w, 1 - (y + pad + ascent + i * lh) / h, line, fontsize=size, va="baseline",
                         ha="left" if align[c] == "l" else "right",
                         fontweight="bold" if bold else "normal",
                         color=(tint[c] if tint and tint[c] else "black"))
        return y + height

    y = draw_row(header, top, True, "#e8eef6", None)
    for r, row in enumerate(rows):
        y = draw_row(row, y, False, "#f5f5f5" if r % 2 else None, colors[r] if colors else None)
    return y


def _rect(fig: Figure, left: float, top: float, width: float, height: float, color: str) -> Any:
    from matplotlib.patches import Rectangle
    w, h = fig.get_figwidth(), fig.get_figheight()
    return Rectangle((left / w, 1 - (top + height) / h), width / w, height / h,
                     transform=fig.transFigure, facecolor=color, edgecolor="none", zorder=-1)


def axes(fig: Figure, top: float, height: float, left: float = 1.0) -> Axes:
    """Axes `height` inches tall, `top` inches from the page top, `left` inches in."""
    w, h = fig.get_figwidth(), fig.get_figheight()
    return fig.add_axes((left / w, 1 - (top + height) / h, (w - left - MARGIN) / w, height / h))


# --- charts -----------------------------------------------------------------------

def confusion_matrix(ax: Axes, counts: np.ndarray, labels: Sequence[str], title: str) -> None:
    """`counts` (rows actual, columns predicted) as a grid: right answers green, wrong ones red."""
    from matplotlib import colormaps

    total = max(int(counts.sum()), 1)
    share = counts / total
    rgba = np.zeros((2, 2, 4))
    for i in range(2):
        for j in range(2):
            cmap = colormaps["Greens" if i == j else "Reds"]
            shade = 0.25 + 0.6 * share[i, j] / max(share.max(), 1e-9)
            rgba[i, j] = cmap(shade)
            ax.text(j, i, f"{'right' if i == j else 'wrong'}\n{counts[i, j]:,}\n{share[i, j]:.1%}",
                    ha="center", va="center", fontsize=12,
                    color="white" if shade > 0.6 else "black")
    ax.imshow(rgba)
    ax.set_xticks([0, 1], labels)
    ax.set_yticks([0, 1], labels)
    ax.set_xlabel("Predicted by the model", fontsize=10.5)
    ax.set_ylabel("What the client did", fontsize=10.5)
    ax.tick_params(length=0, labelsize=10.5)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_xticks([0.5], minor=True)
    ax.set_yticks([0.5], minor=True)
    ax.grid(which="minor", color="white", linewidth=3)
    ax.set_title(title, fontsize=11.5, pad=10)


def reliability_chart(ax: Axes, series: dict[str, Sequence[dict[str, Any]]], title: str) -> None:
    """Predicted risk against the share who left, per bin (scoring.reliability's points), one line per series.

    A calibrated model's points lie on the diagonal: of the clients shown at 70 %, 70 % left.
    """
    ax.plot([0, 1], [0, 1], color="#bbbbbb", linewidth=1, linestyle="--", label="perfectly calibrated")
    for (name, points), (color, marker) in zip(series.items(), ((INK, "o"), ("#c0392b", "s"), (GREY, "^"))):
        ax.plot([p["predicted"] for p in points], [p["observed"] for p in points],
                color=color, marker=marker, markersize=5, linewidth=1.5, label=name)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")
    ticks = np.linspace(0, 1, 6)
    ax.set_xticks(ticks, [f"{t:.0%}" for t in ticks])
    ax.set_yticks(ticks, [f"{t:.0%}" for t in ticks])
    ax.set_xlabel("Risk shown on the list (mean of each tenth of clients)")
    ax.set_ylabel("Share of those clients who left")
    ax.grid(color="#eeeeee")
    ax.legend(loc="upper left", fontsize=8.5, frameon=False)
    ax.set_title(title, pad=8)


def dates(rows: Sequence[dict[str, Any]], key: str = "run_at") -> list[datetime]:
    return [datetime.fromisoformat(r[key]) for r in rows]


def time_axis(ax: Axes, title: str, ylabel: str, times: Sequence[datetime]) -> None:
    """Title, labels and a date axis (or a note that nothing is recorded) for a trend."""
    import matplotlib.dates as mdates

    ax.set_title(title, loc="left")
    ax.set_ylabel(ylabel)
    ax.grid(True, color="#e5e5e5")
    ax.spines[["top", "right"]].set_visible(False)
    if not times:
        ax.text(0.5, 0.5, "nothing recorded yet", ha="center", va="center",
                transform=ax.transAxes, color="#888888")
        ax.set_xticks([])
        return
    if min(times) == max(times):
        # One moment only: matplotlib would spread the axis over years.
        ax.set_xlim(min(times) - timedelta(hours=12), max(times) + timedelta(hours=12))
    locator = mdates.AutoDateLocator(minticks=3, maxticks=7)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, show_offset=True))
    ax.set_xlabel("date (UTC)")


def marker(n: int, symbol: str) -> str | None:
    """`symbol` for a short series; none for a long one, where markers would blot out the line."""
    return symbol if n <= 40 else None


def label_points(ax: Axes, times: Sequence[datetime], ys: Sequence[float], labels: Sequence[str],
                 min_gap: float = 0.09) -> None:
    """Label points, newest first, skipping a label that would sit on the one drawn before it."""
    import matplotlib.dates as mdates

    if not times:
        return
    x = mdates.date2num(list(times))
    span = (x.max() - x.min()) or 1.0
    last = None
    for xi, y, label in reversed(list(zip(x, ys, labels))):
        if last is not None and (last - xi) / span < min_gap:
            continue
        ax.annotate(label, (xi, y), textcoords="offset points", xytext=(0, 7), ha="center",
                    fontsize=7.5, color="#444444")
        last = xi
