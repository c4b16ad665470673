"""Matplotlib drawings for the run report, each returned as PNG bytes.

Figures are made with the object API and rendered by the Agg canvas directly, so drawing never touches
pyplot's global state or the user's display backend (workers and headless machines alike).
"""
import functools
import io
import logging
import os
from typing import Dict, List, Optional, Sequence, Tuple

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, NullLocator, PercentFormatter

BASE_FAMILY = "DejaVu Sans"  # matplotlib's own font: Latin, digits, arrows
# CJK families preferred when several are installed (Simplified Chinese first); any other installed font
# that draws the PROBE characters is used when none of these is there.
CJK_FAMILIES = ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "Source Han Sans CN",
                "WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "Noto Sans CJK TC", "Noto Sans CJK JP",
                "Droid Sans Fallback", "AR PL UMing CN", "AR PL UKai CN", "Noto Serif CJK SC")
PROBE = "的地是了"
NO_CJK_FONT_NOTE = ("No CJK font is installed, so the plots write Chinese characters as code points (U+7684); "
                    "the tables show the characters. Install one (apt-get install fonts-wqy-microhei, or "
                    "fonts-noto-cjk) and run `bertprep report PATH` to redraw.")
BAR_COLOR = "#4C72B0"
ACCENT_COLOR = "#DD8452"
COLORS = [BAR_COLOR, ACCENT_COLOR, "#55A868", "#C44E52", "#8172B3", "#937860"]
MAX_BARS = 40

logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)


def _charmap(path: str) -> set:
    from matplotlib.ft2font import FT2Font

    try:
        return set(FT2Font(path).get_charmap())
    except Exception:  # an unreadable or unsupported font file
        return set()


def _draws_chinese(path: str) -> bool:
    covered = _charmap(path)
    return all(ord(char) in covered for char in PROBE)


@functools.lru_cache(maxsize=None)
def cjk_font() -> Optional[str]:
    """The family name of an installed font that draws Chinese, found through matplotlib's font manager;
    None when there is none. Fonts installed after matplotlib built its font cache are added first."""
    import matplotlib
    from matplotlib import font_manager

    manager = font_manager.fontManager
    listed = {entry.fname for entry in manager.ttflist}
    try:
        system_fonts = font_manager.findSystemFonts()
    except Exception:  # fc-list missing or failing: the cached list is all there is
        system_fonts = []
    for path in sorted(set(system_fonts) - listed):
        if _draws_chinese(path):
            manager.addfont(path)
    # matplotlib ships no CJK font, and its "Last Resort" font maps every code point to a placeholder box.
    own = os.path.realpath(matplotlib.get_data_path())
    first_file = {}
    for entry in manager.ttflist:
        if not os.path.realpath(entry.fname).startswith(own):
            first_file.setdefault(entry.name, entry.fname)
    for family in CJK_FAMILIES:
        if family in first_file and _draws_chinese(first_file[family]):
            return family
    for family, path in sorted(first_file.items()):
        if family not in CJK_FAMILIES and _draws_chinese(path):
            return family
    return None


def font_families() -> List[str]:
    """matplotlib's font.family: each glyph from the first family that has it."""
    cjk = cjk_font()
    return [BASE_FAMILY] + ([cjk] if cjk else []) + ["sans-serif"]


@functools.lru_cache(maxsize=None)
def _codepoints_of(families: Tuple[str, ...]) -> frozenset:
    from matplotlib import font_manager

    covered = set()
    for family in families:
        try:
            covered.update(_charmap(font_manager.findfont(family, fallback_to_default=False)))
        except ValueError:  # not installed
            continue
    return frozenset(covered)


def _available_codepoints() -> frozenset:
    """Code points the report's fonts can draw."""
    return _codepoints_of(tuple(font_families()[:-1]))


def drawable(label: str) -> str:
    """`label` itself, or with each character no installed font has written as U+XXXX (no empty boxes)."""
    covered = _available_codepoints()
    if all(ord(c) in covered or c.isspace() for c in label):
        return label
    return "".join(c if ord(c) in covered or c.isspace() else "U+%04X" % ord(c) for c in label)


def _figure(width: float = 7.0, height: float = 3.4):
    import matplotlib

    figure = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(figure)
    with matplotlib.rc_context({"font.family": font_families()}):
        axes = figure.subplots()
    return figure, axes


# Margins of plots whose tick labels are numbers of known width: laying them out by measuring
# (tight_layout) draws the figure twice, the larger part of a report's time.
NUMERIC_MARGINS = {"left": 0.14, "right": 0.98, "bottom": 0.15, "top": 0.9}


def _png(figure, margins: Optional[Dict[str, float]] = None) -> bytes:
    """The figure as PNG bytes; its text labels go into the PNG's Description (see `png_labels`)."""
    import warnings

    import matplotlib
    from matplotlib.text import Text

    families = font_families()
    labels = []
    for text in figure.findobj(Text):
        # Texts made outside an rc_context (titles, category ticks) get the report's fonts here.
        text.set_fontfamily(families)
        if text.get_visible() and text.get_text().strip():
            labels.append(text.get_text())
    buffer = io.BytesIO()
    with matplotlib.rc_context({"font.family": families}), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Glyph missing from font": the label still says what it is
        if margins:
            figure.subplots_adjust(**margins)
        else:
            figure.tight_layout()
        figure.savefig(buffer, format="png", metadata={"Software": None, "Description": "\n".join(labels)})
    return buffer.getvalue()


def png_labels(png: bytes) -> List[str]:
    """The text labels a plot was drawn with (titles, axis labels, category ticks, annotations)."""
    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        return (image.text.get("Description") or "").split("\n")


# A title at a fixed height above the axes: placed automatically, matplotlib measures every tick label of
# the figure at each draw to keep the title clear of them (a third of a small run's drawing time), and the
# top of our plots holds no tick labels to avoid.
TITLE_Y = 1.02


def _style(axes, title: str, xlabel: str = "", ylabel: str = "") -> None:
    axes.set_title(title, fontsize=11, y=TITLE_Y)
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.grid(axis="y", alpha=0.3)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)


def _rebinned(values: Dict[float, float], most: int = 80, bins: int = 60) -> Dict[float, float]:
    """More than `most` distinct values become `bins` equal bins (keyed by their start), to stay readable."""
    if len(values) <= most:
        return values
    low, high = min(values), max(values)
    width = (high - low) / bins or 1.0
    merged: Dict[float, float] = {}
    for value, count in values.items():
        start = low + min(bins - 1, int((value - low) / width)) * width
        merged[start] = merged.get(start, 0) + count
    return merged


def histogram(values: Dict[float, float], title: str, xlabel: str, ylabel: str = "count",
              mark: Optional[float] = None, mark_label: str = "", integer: bool = False) -> bytes:
    """Bars of a {value: count} histogram over a numeric axis, with an optional vertical marker;
    `integer`: the values are whole numbers (sizes, counts), ticked as such."""
    figure, axes = _figure()
    values = _rebinned(values)
    if integer:
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_xlim(min(values) - 1, max(values) + 1)
    xs = sorted(values)
    widths = min((b - a for a, b in zip(xs, xs[1:])), default=1.0) * 0.9 or 0.9
    counts = [values[x] for x in xs]
    axes.bar(xs, counts, width=widths, color=BAR_COLOR)
    positive = sorted(count for count in counts if count > 0)
    if len(positive) > 2 and positive[-1] > 50 * positive[len(positive) // 2]:
        axes.set_yscale("log")  # one dominant bar (e.g. every full-length sequence) would hide the rest
        axes.yaxis.set_minor_locator(NullLocator())  # decades are enough, and unlabelled minor ticks are slow
        ylabel = "%s (log scale)" % ylabel
    if mark is not None:
        axes.axvline(mark, color=ACCENT_COLOR, linestyle="--", linewidth=1.5, label=mark_label)
        axes.legend(frameon=False)
    _style(axes, title, xlabel, ylabel)
    return _png(figure, NUMERIC_MARGINS)


def bars(items: Sequence[Tuple[str, float]], title: str, ylabel: str = "count", shares: bool = True,
         horizontal: bool = False) -> bytes:
    """One bar per (label, value); with `shares` each bar is annotated with its share of the total."""
    items = list(items)[:MAX_BARS]
    labels = [drawable(str(label)) for label, _ in items]
    values = [float(value) for _, value in items]
    total = sum(values)
    longest = max((len(x) for x in labels), default=0)
    figure, axes = _figure(7.0, max(3.0, 0.28 * len(items) + 1.0) if horizontal else 3.4)
    positions = list(range(len(items)))
    if horizontal:
        axes.barh(positions, values, color=BAR_COLOR)
        axes.set_yticks(positions, labels)
        axes.invert_yaxis()
        _style(axes, title, ylabel, "")
        axes.grid(axis="x", alpha=0.3)
    else:
        axes.bar(positions, values, color=BAR_COLOR)
        axes.set_xticks(positions, labels, rotation=30 if longest > 8 else 0, ha="right" if longest > 8 else "center")
        _style(axes, title, "", ylabel)
    if shares and total > 0:
        for position, value in zip(positions, values):
            text = "%.1f%%" % (100.0 * value / total)
            if horizontal:
                axes.annotate(text, (value, position), xytext=(3, 0), textcoords="offset points", va="center",
                              fontsize=8)
            else:
                axes.annotate(text, (position, value), xytext=(0, 2), textcoords="offset points", ha="center",
                              fontsize=8)
    margins = None  # measured layout for long or horizontal labels; fixed margins when they are short
    if not horizontal and longest <= 16:
        margins = dict(NUMERIC_MARGINS, bottom=0.3 if longest > 8 else 0.15)
    return _png(figure, margins)


def share_bar(parts: Sequence[Tuple[str, float]], title: str) -> bytes:
    """One horizontal stacked bar of shares, e.g. known tokens vs [UNK]."""
    figure, axes = _figure(7.0, 1.9)
    total = float(sum(value for _, value in parts)) or 1.0
    left = 0.0
    colors = [BAR_COLOR, ACCENT_COLOR, "#55A868", "#C44E52", "#8172B3", "#937860"]
    for index, (label, value) in enumerate(parts):
        share = value / total
        axes.barh([0], [share], left=left, color=colors[index % len(colors)], label="%s %.2f%%" % (label, 100 * share))
        left += share
    axes.set_xlim(0, 1)
    axes.set_yticks([])
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.25), ncol=min(len(parts), 4), frameon=False)
    axes.set_title(title, fontsize=11, y=TITLE_Y)
    for side in ("top", "right", "left"):
        axes.spines[side].set_visible(False)
    return _png(figure)


def curves(series: Dict[str, Sequence[Tuple[float, float]]], title: str, xlabel: str, ylabel: str,
           level: Optional[float] = None, level_label: str = "") -> bytes:
    """One line per named series of (x, y) points, with an optional horizontal reference line."""
    figure, axes = _figure()
    for index, (name, points) in enumerate(series.items()):
        axes.plot([float(x) for x, _ in points], [float(y) for _, y in points], color=COLORS[index % len(COLORS)],
                  linewidth=1.8, marker="." if len(points) < 40 else None, label=name)
    if level is not None:
        axes.axhline(level, color="#777777", linestyle="--", linewidth=1.2, label=level_label)
    if len(series) > 1 or level is not None:
        axes.legend(frameon=False)
    _style(axes, title, xlabel, ylabel)
    return _png(figure, NUMERIC_MARGINS)


def throughput(samples: List[Sequence[float]], title: str = "Records read over time") -> bytes:
    """Records read against elapsed seconds, with the rate between samples on a second axis."""
    figure, axes = _figure()
    times = [float(t) for t, _ in samples]
    records = [float(n) for _, n in samples]
    axes.plot(times, records, color=BAR_COLOR, linewidth=2, label="records read")
    _style(axes, title, "elapsed seconds", "records read")
    rates = []
    for (t0, n0), (t1, n1) in zip(zip(times, records), list(zip(times, records))[1:]):
        rates.append((t1, (n1 - n0) / (t1 - t0) if t1 > t0 else 0.0))
    if rates:
        other = axes.twinx()
        other.plot([t for t, _ in rates], [r for _, r in rates], color=ACCENT_COLOR, linewidth=1, alpha=0.8,
                   label="records/s")
        other.set_ylabel("records/s")
        other.spines["top"].set_visible(False)
        lines = axes.get_legend_handles_labels()[0] + other.get_legend_handles_labels()[0]
        axes.legend(lines, [line.get_label() for line in lines], frameon=False, loc="upper left")
    return _png(figure, dict(NUMERIC_MARGINS, right=0.88))


def stage_spans(stages: Sequence[dict], elapsed: float, title: str = "Stages over time") -> bytes:
    """One horizontal bar per stage ({"stage", "name", "start", "end"} seconds), from its start to its end,
    on the run's time axis; bars of one kind share a colour."""
    import matplotlib

    kinds = list(dict.fromkeys(stage["stage"] for stage in stages))
    colours = matplotlib.colormaps["tab10"]
    figure, axes = _figure(height=max(2.0, 0.9 + 0.32 * len(stages)))
    for row, stage in enumerate(stages):
        width = max(float(stage["end"]) - float(stage["start"]), elapsed / 400.0)  # an instant stays visible
        axes.barh(row, width, left=float(stage["start"]), color=colours(kinds.index(stage["stage"]) % 10))
    axes.set_yticks(range(len(stages)))
    axes.set_yticklabels([drawable(stage["name"]) for stage in stages])
    axes.invert_yaxis()
    axes.set_xlim(0, max(elapsed, max(float(stage["end"]) for stage in stages)))
    _style(axes, title, "elapsed seconds")
    return _png(figure, dict(NUMERIC_MARGINS, left=0.38))


def timing_bars(elapsed: float, rates: Sequence[Tuple[str, float]], title: str) -> bytes:
    """Elapsed time and records/s side by side, for runs without a progress timeline."""
    import matplotlib

    with matplotlib.rc_context({"font.family": font_families()}):
        figure = Figure(figsize=(7.0, 3.0), dpi=100)
        FigureCanvasAgg(figure)
        left, right = figure.subplots(1, 2, gridspec_kw={"width_ratios": [1, 2]})
    left.bar([0], [elapsed], color=ACCENT_COLOR)
    left.set_xticks([0], ["elapsed"])
    _style(left, "Elapsed %.1f s" % elapsed, "", "seconds")
    positions = list(range(len(rates)))
    right.bar(positions, [value for _, value in rates], color=BAR_COLOR)
    right.set_xticks(positions, [label for label, _ in rates])
    _style(right, title, "", "records/s")
    for position, (_, value) in zip(positions, rates):
        right.annotate(format(int(value), ","), (position, value), xytext=(0, 2), textcoords="offset points",
                       ha="center", fontsize=8)
    return _png(figure)


def stacked_bars(items: Sequence[Tuple[str, Sequence[float]]], parts: Sequence[str], title: str,
                 xlabel: str = "count") -> bytes:
    """Horizontal bars, one per label, each split into `parts` (e.g. found by this source only / also by
    another); the total is written at the end of each bar."""
    items = list(items)[:MAX_BARS]
    labels = [drawable(str(label)) for label, _ in items]
    figure, axes = _figure(7.0, max(2.4, 0.4 * len(items) + 1.4))
    positions = list(range(len(items)))
    left = [0.0] * len(items)
    for index, part in enumerate(parts):
        values = [float(values[index]) for _, values in items]
        axes.barh(positions, values, left=left, color=COLORS[index % len(COLORS)], label=part)
        left = [a + b for a, b in zip(left, values)]
    for position, total in zip(positions, left):
        axes.annotate(format(int(total), ","), (total, position), xytext=(3, 0), textcoords="offset points",
                      va="center", fontsize=8)
    axes.set_yticks(positions, labels)
    axes.invert_yaxis()
    _style(axes, title, xlabel, "")
    axes.grid(axis="y", visible=False)
    axes.grid(axis="x", alpha=0.3)
    axes.legend(frameon=False, fontsize=8, loc="lower right")
    return _png(figure)


def curve(points: Dict[float, float], title: str, xlabel: str, ylabel: str, percent: bool = True,
          mark: Optional[float] = None, mark_label: str = "") -> bytes:
    """y against x as a line with markers (e.g. coverage against set size), y as a percentage of 1."""
    figure, axes = _figure()
    xs = sorted(points)
    axes.plot(xs, [points[x] for x in xs], color=BAR_COLOR, linewidth=2, marker="o", markersize=3)
    if percent:
        axes.yaxis.set_major_formatter(PercentFormatter(1.0))
        axes.set_ylim(max(0.0, min(points.values()) - 0.05), min(1.0, max(points.values())) + 0.02)
    if mark is not None:
        axes.axvline(mark, color=ACCENT_COLOR, linestyle="--", linewidth=1.5, label=mark_label)
        axes.legend(frameon=False, loc="lower right")
    _style(axes, title, xlabel, ylabel)
    return _png(figure, NUMERIC_MARGINS)
