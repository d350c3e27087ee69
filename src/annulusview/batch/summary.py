"""A one-page cohort summary: distributions of the key measurements and the flag counts.

The page is laid out once, as rectangles, lines and text in points (A4 landscape, y up), and
drawn by two painters: reportlab for the PDF (the library of the case report) and Pillow for
the PNG (reportlab's own bitmap renderer needs Cairo, which is not a dependency). Both use the
Bitstream Vera fonts that ship inside reportlab, so text measures and looks the same in both.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from annulusview import DISCLAIMER, __version__
from annulusview.batch.tables import CohortTable
from annulusview.batch.tasks import FAILED, OK, SKIPPED
from annulusview.core.atomic import atomic_write_with
from annulusview.core.flags import HIGH, INDETERMINATE, MET, MODERATE, NOT_ASSESSED, NOT_MET
from annulusview.core.presentation import STATUS_COLORS, STATUS_WORDS, flag_title

PAGE_W, PAGE_H = 842.0, 595.0  # A4 landscape, points
MARGIN = 36.0
BAR_COLOR = "#4477AA"
INK = "#222222"
GRID = "#BBBBBB"
GRADES = ("none", "mild", "moderate", "severe")
#: Flag outcomes in the order their bar segments are drawn.
OUTCOMES = (
    (MET, HIGH),
    (MET, MODERATE),
    (MET, None),
    (INDETERMINATE, None),
    (NOT_MET, None),
    (NOT_ASSESSED, None),
)


@dataclass(frozen=True)
class Bar:
    """One bar: its label and its stacked segments ``(count, #RRGGBB)``."""

    label: str
    segments: tuple[tuple[float, str], ...]

    @property
    def total(self) -> float:
        return sum(v for v, _ in self.segments)


@dataclass(frozen=True)
class Panel:
    """One chart: vertical bars (histogram, counts) or horizontal stacked bars (flags)."""

    title: str
    bars: tuple[Bar, ...]
    horizontal: bool = False
    note: str = ""


@dataclass(frozen=True)
class CohortSummary:
    """What the page shows."""

    title: str
    subtitle: str
    panels: tuple[Panel, ...]
    legend: tuple[tuple[str, str], ...] = field(default=())


def _histogram(values: Sequence[float | None], bins: int = 8) -> tuple[Bar, ...]:
    data = np.array([v for v in values if v is not None], dtype=float)
    if data.size == 0:
        return ()
    lo, hi = float(data.min()), float(data.max())
    if hi - lo < 1e-9:
        return (Bar(f"{lo:.1f}", ((float(data.size), BAR_COLOR),)),)
    counts, edges = np.histogram(data, bins=min(bins, data.size))
    # enough decimals that neighbouring bin edges read differently
    digits = max(0, min(3, 1 - math.floor(math.log10(float(edges[1] - edges[0])))))
    return tuple(
        Bar(f"{edges[n]:.{digits}f}-{edges[n + 1]:.{digits}f}", ((float(c), BAR_COLOR),))
        for n, c in enumerate(counts)
    )


def build_summary(table: CohortTable, manifest_name: str = "") -> CohortSummary:
    """The summary of the ok cases of ``table`` (failed and skipped ones are counted)."""
    ok_rows = [r for r in table.rows if r["status"] == OK]
    n_ok, n_failed, n_skipped = table.count(OK), table.count(FAILED), table.count(SKIPPED)
    grades = [r.get("lvot_calcium_grade") for r in ok_rows]
    grade_bars = [Bar(g, ((float(grades.count(g)), BAR_COLOR),)) for g in GRADES]
    not_graded = sum(1 for g in grades if g not in GRADES)
    if not_graded:
        grade_bars.append(Bar("not assessed", ((float(not_graded), "#4D4D4D"),)))
    flag_ids = [name[: -len(".status")] for name, _ in table.columns if name.endswith(".status")]
    flag_bars = []
    for flag_id in flag_ids:
        outcomes = [(r.get(f"{flag_id}.status"), r.get(f"{flag_id}.level")) for r in ok_rows]
        segments = tuple(
            (float(outcomes.count(outcome)), STATUS_COLORS[outcome]) for outcome in OUTCOMES
        )
        # Vera has no Greek: the delta of ΔMSID is spelled out
        flag_bars.append(Bar(flag_title(flag_id).replace("Δ", "delta-"), segments))
    panels = (
        Panel("Annulus area (mm²)", _histogram([r.get("annulus_area_mm2") for r in ok_rows])),
        Panel("LVOT calcium grade", tuple(grade_bars)),
        Panel(
            "Infra-annular membranous septum length (mm)",
            _histogram([r.get("ms_length_mm") for r in ok_rows]),
            note="cases without MS landmarks are left out",
        ),
        Panel("Risk flags (cases per outcome)", tuple(flag_bars), horizontal=True),
    )
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    subtitle = (
        f"{len(table.rows)} cases: {n_ok} ok, {n_failed} failed, {n_skipped} skipped"
        + (f" · {manifest_name}" if manifest_name else "")
        + f" · AnnulusView {__version__} · {when}"
    )
    legend = tuple((STATUS_WORDS[o], STATUS_COLORS[o]) for o in OUTCOMES)
    return CohortSummary("AnnulusView cohort summary", subtitle, panels, legend)


FONT_FILES = {False: "Vera.ttf", True: "VeraBd.ttf"}
FONT_NAMES = {False: "AnnulusView-Vera", True: "AnnulusView-VeraBd"}


def font_path(bold: bool) -> Path:
    """A Bitstream Vera font file shipped inside reportlab."""
    import reportlab

    return Path(reportlab.__file__).parent / "fonts" / FONT_FILES[bold]


@functools.cache
def _register_fonts() -> None:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    for bold in (False, True):
        pdfmetrics.registerFont(TTFont(FONT_NAMES[bold], str(font_path(bold))))


def text_width(text: str, size: float, bold: bool = False) -> float:
    """Width of ``text`` in points."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    _register_fonts()
    return float(stringWidth(text, FONT_NAMES[bold], size))


class Painter(Protocol):
    """Drawing primitives in page points, origin at the bottom left."""

    def rect(self, x: float, y: float, w: float, h: float, color: str) -> None: ...

    def line(self, x0: float, y0: float, x1: float, y1: float, color: str) -> None: ...

    def text(
        self, x: float, y: float, text: str, size: float, anchor: str = "start", bold: bool = False
    ) -> None: ...


def _fit(text: str, size: float, width: float) -> str:
    """``text``, cut with an ellipsis where needed to fit ``width`` points."""
    if text_width(text, size) <= width:
        return text
    while text and text_width(text + "…", size) > width:
        text = text[:-1]
    return text + "…"


def _draw_panel(p: Painter, panel: Panel, x: float, y: float, w: float, h: float) -> None:
    p.text(x, y + h - 12, panel.title, 11, bold=True)
    top = y + h - 24
    if panel.note:
        p.text(x, top, _fit(panel.note, 7, w), 7)
        top -= 10
    if not panel.bars or max(b.total for b in panel.bars) <= 0:
        p.text(x + w / 2, y + h / 2, "no case to show", 9, anchor="middle")
        return
    peak = max(b.total for b in panel.bars)
    if panel.horizontal:
        label_w = w * 0.5
        left, right = x + label_w, x + w - 24
        step = (top - y) / len(panel.bars)
        for n, bar in enumerate(panel.bars):
            by = top - (n + 1) * step + step * 0.2
            p.text(left - 4, by + step * 0.25, _fit(bar.label, 7.5, label_w - 6), 7.5, "end")
            cx = left
            for value, color in bar.segments:
                seg = (right - left) * value / peak
                if seg > 0:
                    p.rect(cx, by, seg, step * 0.6, color)
                cx += seg
            p.text(cx + 3, by + step * 0.2, f"{bar.total:.0f}", 7)
        p.line(left, y, left, top, INK)
        return
    bottom, plot_h = y + 22, top - y - 34
    slot = w / len(panel.bars)
    p.line(x, bottom, x + w, bottom, INK)
    for n, bar in enumerate(panel.bars):
        bx = x + n * slot + slot * 0.15
        cy = bottom
        for value, color in bar.segments:
            seg = plot_h * value / peak
            if seg > 0:
                p.rect(bx, cy, slot * 0.7, seg, color)
            cy += seg
        p.text(bx + slot * 0.35, cy + 3, f"{bar.total:.0f}", 7.5, "middle")
        p.text(bx + slot * 0.35, bottom - 10, _fit(bar.label, 7, slot), 7, "middle")


def draw_summary(p: Painter, summary: CohortSummary) -> None:
    """Lay the whole page out on ``p``."""
    p.text(MARGIN, PAGE_H - MARGIN - 8, summary.title, 16, bold=True)
    p.text(MARGIN, PAGE_H - MARGIN - 26, summary.subtitle, 9)
    grid_top = PAGE_H - MARGIN - 44
    grid_bottom = MARGIN + 40
    cell_w = (PAGE_W - 2 * MARGIN - 24) / 2
    cell_h = (grid_top - grid_bottom - 24) / 2
    for n, panel in enumerate(summary.panels[:4]):
        col, row = n % 2, n // 2
        x = MARGIN + col * (cell_w + 24)
        y = grid_top - (row + 1) * cell_h - row * 24
        _draw_panel(p, panel, x, y, cell_w, cell_h)
    lx = MARGIN
    for word, color in summary.legend:
        p.rect(lx, MARGIN + 22, 8, 8, color)
        p.text(lx + 11, MARGIN + 23, word, 7)
        lx += 11 + text_width(word, 7) + 12
    p.line(MARGIN, MARGIN + 14, PAGE_W - MARGIN, MARGIN + 14, GRID)
    p.text(MARGIN, MARGIN, _fit(DISCLAIMER, 7, PAGE_W - 2 * MARGIN), 7)


class _PdfPainter:
    def __init__(self, canvas: Any) -> None:
        from reportlab.lib.colors import HexColor

        self.canvas = canvas
        self.color = HexColor

    def rect(self, x: float, y: float, w: float, h: float, color: str) -> None:
        self.canvas.setFillColor(self.color(color))
        self.canvas.rect(x, y, w, h, stroke=0, fill=1)

    def line(self, x0: float, y0: float, x1: float, y1: float, color: str) -> None:
        self.canvas.setStrokeColor(self.color(color))
        self.canvas.setLineWidth(0.6)
        self.canvas.line(x0, y0, x1, y1)

    def text(
        self, x: float, y: float, text: str, size: float, anchor: str = "start", bold: bool = False
    ) -> None:
        self.canvas.setFillColor(self.color(INK))
        _register_fonts()
        self.canvas.setFont(FONT_NAMES[bold], size)
        draw = {
            "start": self.canvas.drawString,
            "middle": self.canvas.drawCentredString,
            "end": self.canvas.drawRightString,
        }[anchor]
        draw(x, y, text)


class _PngPainter:
    def __init__(self, scale: float) -> None:
        from PIL import Image, ImageDraw

        self.scale = scale
        self.image = Image.new("RGB", (round(PAGE_W * scale), round(PAGE_H * scale)), "white")
        self.draw = ImageDraw.Draw(self.image)
        self.fonts: dict[tuple[float, bool], Any] = {}

    def _xy(self, x: float, y: float) -> tuple[float, float]:
        return x * self.scale, (PAGE_H - y) * self.scale

    def _font(self, size: float, bold: bool) -> Any:
        from PIL import ImageFont

        key = (size, bold)
        if key not in self.fonts:
            self.fonts[key] = ImageFont.truetype(str(font_path(bold)), size * self.scale)
        return self.fonts[key]

    def rect(self, x: float, y: float, w: float, h: float, color: str) -> None:
        x0, y1 = self._xy(x, y)
        x1, y0 = self._xy(x + w, y + h)
        self.draw.rectangle((x0, y0, x1, y1), fill=color)

    def line(self, x0: float, y0: float, x1: float, y1: float, color: str) -> None:
        self.draw.line((*self._xy(x0, y0), *self._xy(x1, y1)), fill=color, width=1)

    def text(
        self, x: float, y: float, text: str, size: float, anchor: str = "start", bold: bool = False
    ) -> None:
        pil_anchor = {"start": "ls", "middle": "ms", "end": "rs"}[anchor]
        font = self._font(size, bold)
        self.draw.text(self._xy(x, y), text, fill=INK, font=font, anchor=pil_anchor)


def write_summary_pdf(path: Path, summary: CohortSummary) -> Path:
    """Write the one-page summary PDF atomically."""
    from reportlab.pdfgen.canvas import Canvas

    def write(tmp: Path) -> None:
        canvas = Canvas(str(tmp), pagesize=(PAGE_W, PAGE_H))
        canvas.setTitle(summary.title)
        canvas.setCreator(f"AnnulusView {__version__}")
        draw_summary(_PdfPainter(canvas), summary)
        canvas.showPage()
        canvas.save()

    atomic_write_with(path, write)
    return path


def write_summary_png(path: Path, summary: CohortSummary, scale: float = 2.0) -> Path:
    """Write the same page as a PNG (``scale`` pixels per point) atomically."""
    painter = _PngPainter(scale)
    draw_summary(painter, summary)
    atomic_write_with(path, lambda tmp: painter.image.save(tmp, format="PNG"))
    return path
