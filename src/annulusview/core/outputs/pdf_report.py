"""The PDF case report (reportlab): summary, annulus, calcium, lesions, risk flags, parameters,
pictures, with the disclaimer on every page.

Pictures arrive as PNG bytes rendered by the scene layer, so this module stays free of VTK and
Qt. The document title is the de-identified case label; patient identity is printed only when
the :class:`~annulusview.core.outputs.deid.CaseIdentity` says the user opted in.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reportlab.graphics.shapes import Circle, Drawing, Line, PolyLine, String
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    CondPageBreak,
    Image,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from annulusview import DISCLAIMER, __version__
from annulusview.core.atomic import atomic_write_with
from annulusview.core.flags import MET, NOT_ASSESSED, NOT_MET
from annulusview.core.fluoro import s_curve_cranial
from annulusview.core.mitral import MitralResults
from annulusview.core.outputs.deid import CaseIdentity
from annulusview.core.presentation import (
    EMPTY,
    coronary_rows,
    evidence_lines,
    flag_color,
    flag_rank,
    flag_title,
    flag_word,
    fluoro_rows,
    fmt,
    part_title,
    root_rows,
    sizing_rows,
)
from annulusview.core.reformat import format_carm
from annulusview.core.results import Results

HEADER_BG = colors.HexColor("#E8EAEE")
#: The evidence note (what the source does not support) is printed on met rules' cards only;
#: rules that were not met or not assessed print their source and scope in the outcome table.
#: Every card is whole in the results JSON.
NOTE_LABEL = "Not supported / note"
GRID = colors.HexColor("#B8BCC4")


@dataclass(frozen=True)
class ReportPicture:
    """A picture for the report: caption and PNG bytes."""

    caption: str
    png: bytes


def _technique_line(technique: dict[str, Any]) -> str:
    """kVp and slice thickness, and the slabs when the Agatston score was computed on them."""
    kvp = technique.get("kvp")
    line = (
        f"{'kVp not stated' if kvp is None else fmt(kvp, 0) + ' kVp'}, slice thickness "
        f"{fmt(technique.get('slice_thickness_mm'), 2, 'mm')}"
    )
    slab = technique.get("agatston_slab_mm")
    if slab:
        line += f"; Agatston on {fmt(slab, 2, 'mm')} slabs averaged from the slices"
    return line


def _scan_rows(res: Results) -> list[list[Any]]:
    """Cardiac phase, sampling and gating from the scan block (section 10)."""
    scan = res.scan
    if scan is None:
        return []
    row, column = scan.pixel_spacing_mm
    gating = {True: "ECG-gated", False: "not ECG-gated", None: "gating not stated"}
    return [
        ["Cardiac phase", scan.phase_text],
        [
            "Sampling",
            f"increment {fmt(scan.slice_increment_mm, 2, 'mm')}, pixels {row:.2f} x "
            f"{column:.2f} mm; {gating[scan.ecg_gated]}",
        ],
    ]


def _esc(text: Any) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _styles() -> dict[str, ParagraphStyle]:
    base = getSampleStyleSheet()
    body = ParagraphStyle("body", parent=base["BodyText"], fontSize=9, leading=11.5)
    return {
        "title": ParagraphStyle("title", parent=base["Title"], fontSize=17, spaceAfter=2),
        # keepWithNext: a heading never ends a page without what it heads
        "h2": ParagraphStyle(
            "h2", parent=base["Heading2"], fontSize=11.5, spaceBefore=8, keepWithNext=1
        ),
        "body": body,
        "small": ParagraphStyle("small", parent=body, fontSize=7.5, leading=9.5),
        "h2_split": ParagraphStyle(
            "h2_split", parent=base["Heading2"], fontSize=11.5, spaceBefore=8
        ),
        "card": ParagraphStyle("card", parent=body, fontSize=6.8, leading=8.4),
        "small_keep": ParagraphStyle(
            "small_keep", parent=body, fontSize=7.5, leading=9.5, keepWithNext=1
        ),
        "cell": ParagraphStyle("cell", parent=body, fontSize=8, leading=10),
        "cell_white": ParagraphStyle(
            "cell_white",
            parent=body,
            fontSize=7.5,
            leading=9.5,
            textColor=colors.white,
            fontName="Helvetica-Bold",
        ),
        "caption": ParagraphStyle(
            "caption", parent=body, fontSize=8, leading=10, alignment=TA_CENTER
        ),
    }


def _table(
    rows: list[list[Any]], widths: Sequence[float], header: bool = True, extra: Any = ()
) -> Table:
    t = Table(rows, colWidths=list(widths), hAlign="LEFT", repeatRows=1 if header else 0)
    style = [
        ("FONT", (0, 0), (-1, -1), "Helvetica", 8.5),
        ("GRID", (0, 0), (-1, -1), 0.4, GRID),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
    ]
    if header:
        style += [
            ("BACKGROUND", (0, 0), (-1, 0), HEADER_BG),
            ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 8.5),
        ]
    t.setStyle(TableStyle(style + list(extra)))
    return t


def _mm(value: float | None, digits: int = 1) -> str:
    return fmt(value, digits, "mm")


def report_story(
    res: Results,
    identity: CaseIdentity,
    pictures: Sequence[ReportPicture],
    series_description: str = "",
) -> list[Any]:
    """The report's flowables (exposed for tests and for a future HTML twin)."""
    st = _styles()
    width = A4[0] - 36 * mm
    story: list[Any] = []
    story.append(Paragraph("AnnulusView case report", st["title"]))
    story.append(Paragraph(_esc(" · ".join(identity.display_lines())), st["h2"]))

    # case summary
    summary = [
        ["Case", identity.label],
        ["Series", res.series_instance_uid or EMPTY],
        ["Series description", series_description or EMPTY],
        *_scan_rows(res),
        [
            "Contrast",
            f"{res.contrast_state.replace('_', '-')} (LVOT lumen {fmt(res.lumen_hu, 0, 'HU')}, "
            f"SD {fmt(res.lumen_hu_sd, 0, 'HU')})",
        ],
        [
            "Calcium",
            Paragraph(
                _esc(
                    "assessed"
                    if not res.calcium_not_assessed_reason
                    else f"NOT ASSESSED: {res.calcium_not_assessed_reason}"
                ),
                st["cell"],
            ),
        ],
        [
            "Technique",
            _technique_line(res.parameters.get("technique", {})),
        ],
        [
            "Calcium threshold",
            Paragraph(
                _esc(
                    f"{fmt(res.threshold_hu, 0, 'HU')}, {res.threshold_method}: "
                    f"{res.threshold_reference}"
                ),
                st["cell"],
            ),
        ],
        ["Software", f"AnnulusView {__version__}"],
    ]
    story += [Spacer(1, 3 * mm), _table(summary, [40 * mm, width - 40 * mm], header=False)]

    # annulus
    a = res.annulus
    heights = res.coronary_heights_mm
    ann = [
        ["Annulus", "Value", "Annulus", "Value"],
        ["Area", fmt(a.area_mm2, 1, "mm2"), "Perimeter", _mm(a.perimeter_mm)],
        ["D min", _mm(a.d_min_mm), "D max", _mm(a.d_max_mm)],
        ["D area-derived", _mm(a.d_area_mm), "D perimeter-derived", _mm(a.d_perimeter_mm)],
        ["LCA height", _mm(heights.get("LCA")), "RCA height", _mm(heights.get("RCA"))],
        ["Infra-annular MS", _mm(res.ms_length_mm), "Method", a.method],
    ]
    title = "Annulus (SCCT 2019 conventions)"
    if not a.sized:
        title += ": not sized (sizing needs a contrast CTA)"
    story += [Paragraph(title, st["h2"])]
    story.append(_table(ann, [38 * mm, 36 * mm, 42 * mm, width - 116 * mm]))
    story += _root_story(res, st, width)
    story += _coronary_story(res, st, width)
    story += _sizing_story(res, st, width)
    story += _fluoro_story(res, st, width)
    story += _pictures_story(pictures, st, width)

    # calcium by region (left) and by cusp sector (right)
    ca = res.calcium
    left: list[list[Any]] = [
        ["Total (analysis region)", fmt(ca.volume_mm3, 1, "mm3"), fmt(ca.agatston, 0)]
    ]
    left += [
        [f"Region: {name}", fmt(t.volume_mm3, 1, "mm3"), fmt(t.agatston, 0)]
        for name, t in ca.by_region.items()
    ]
    right: list[list[Any]] = [
        [f"Cusp sector: {name}", fmt(t.volume_mm3, 1, "mm3"), fmt(t.agatston, 0)]
        for name, t in ca.by_cusp.items()
    ]
    if ca.leaflet_volume_850_mm3 is not None:
        right.append(["Leaflet at 850 HU", fmt(ca.leaflet_volume_850_mm3, 1, "mm3"), EMPTY])
    if res.lvot_calcium_grade is not None:
        right.append(["LVOT calcium grade", str(res.lvot_calcium_grade["grade"]), EMPTY])
    n = max(len(left), len(right))
    left += [["", "", ""]] * (n - len(left))
    right += [["", "", ""]] * (n - len(right))
    rows: list[list[Any]] = [["Calcium", "Volume", "Agatston"] * 2]
    rows += [a + b for a, b in zip(left, right, strict=True)]
    story += [Paragraph("Calcium by region and cusp", st["h2"])]
    col = width / 2.0
    story.append(_table(rows, [col * 0.5, col * 0.28, col * 0.22] * 2))

    # lesions
    rows = [["#", "Volume", "Max HU", "Region", "Cusp", "To LVOT", "To conduction", "Inward"]]
    for les in res.lesions:
        rows.append(
            [
                str(les.id),
                fmt(les.volume_mm3, 1, "mm3"),
                fmt(les.max_hu, 0),
                les.region,
                les.cusp,
                _mm(les.distance_to_lvot_mm),
                _mm(les.distance_to_conduction_mm),
                _mm(les.inward_extent_mm),
            ]
        )
    story += _heading(f"Lesions ({len(res.lesions)})", st)
    story.append(
        _table(rows, [10 * mm, 24 * mm, 18 * mm, 22 * mm, 14 * mm, 24 * mm, 28 * mm, 22 * mm])
    )

    story += _mitral_story(res.mitral, st, width)

    story += _flags_story(res, st, width)

    # parameters two by two, then warnings
    params = parameter_rows(res)
    half_n = (len(params) + 1) // 2
    left, right = params[:half_n], params[half_n:]
    right += [["", ""]] * (len(left) - len(right))
    prow = [
        [Paragraph(_esc(x), st["card"]) for x in (a[0], a[1], b[0], b[1])]
        for a, b in zip(left, right, strict=True)
    ]
    col = width / 2.0
    story += _heading("Parameters used", st)
    story.append(_table(prow, [col * 0.34, col * 0.66] * 2, header=False))
    if res.warnings:
        story += _heading("Warnings", st, 20 * mm)
        story += [Paragraph("• " + _esc(w), st["small"]) for w in res.warnings]

    return story


def _picture_grid(rows: list[list[Any]], widths: list[float]) -> Table:
    grid = Table(rows, colWidths=widths, hAlign="LEFT")
    grid.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 2 * mm),
            ]
        )
    )
    return grid


def _pictures_story(
    pictures: Sequence[ReportPicture], st: dict[str, Any], width: float
) -> list[Any]:
    """The pictures: the first two (3D view, annulus plane) side by side, the others (LVOT
    long axis, then the measured root planes with their contours) four to a row below."""
    if not pictures:
        return []
    top = list(pictures[:2])
    small = list(pictures[2:])
    widths = [width * 0.58, width * 0.42] if len(top) == 2 else [width * 0.7]
    first = _picture_grid(
        [[_picture(pic, w - 2 * mm, st) for pic, w in zip(top, widths, strict=False)]], widths
    )
    story: list[Any] = [KeepTogether([Paragraph("Pictures", st["h2"]), first])]
    if small:
        quarter = width / 4.0
        cells = [_picture(pic, quarter - 2 * mm, st) for pic in small]
        cells += [[Spacer(1, 1)]] * ((4 - len(cells) % 4) % 4)
        rows = [cells[k : k + 4] for k in range(0, len(cells), 4)]
        story.append(_picture_grid(rows, [quarter] * 4))
    return story


def _heading(title: str, st: dict[str, Any], room: float = 35 * mm) -> list[Any]:
    """A heading over a long table that may split: a new page first when less than ``room``
    is left (so the heading never ends a page), without pulling the whole table along."""
    return [CondPageBreak(room), Paragraph(_esc(title), st["h2_split"])]


def short_source(reference: str) -> str:
    """``First author [et al.] year`` of a reference, for the outcome table."""
    head = reference.split(" et al")[0].split(".")[0].strip()
    year = re.search(r"\b(19|20)\d{2}\b", reference)
    return f"{head}{' et al.' if ' et al' in reference else ''} {year.group(0) if year else ''}"


def _card_lines(f: Any) -> list[tuple[str, str]]:
    """Evidence rows of a met or indeterminate rule's card (the note only when met)."""
    lines = evidence_lines(f)
    if f.status != MET:
        return [(k, v) for k, v in lines if k != NOTE_LABEL]
    return lines


def _flags_story(res: Results, st: dict[str, Any], width: float) -> list[Any]:
    """Every rule: an outcome table (what needs attention first), then the numbered evidence
    cards two by two (a card never splits; a met rule's card is whole)."""
    flags = sorted(res.flags, key=flag_rank)
    rows: list[list[Any]] = [["Outcome", "Rule and finding", "Source"]]
    extra: list[Any] = []
    cards: list[Any] = []
    for i, f in enumerate(flags, start=1):
        finding = f"<b>{_esc(flag_title(f.id))}</b> ({_esc(f.id)}): {_esc(f.message)}"
        if f.reason and f.reason not in f.message:
            finding += f" <i>{_esc(f.reason)}</i>"
        verified = "" if f.evidence.verified else " (not verified)"
        source = f"{short_source(f.reference)}{verified}"
        carded = f.status not in (NOT_MET, NOT_ASSESSED)
        if carded:
            # a rule that says something gets its whole evidence card below
            cards.append(
                [
                    Paragraph(
                        f"<b>{len(cards) + 1}. {_esc(flag_title(f.id))}</b> ({_esc(f.id)})",
                        st["small"],
                    ),
                    Paragraph(
                        "<br/>".join(f"<b>{_esc(k)}:</b> {_esc(v)}" for k, v in _card_lines(f)),
                        st["card"],
                    ),
                ]
            )
            source += f"; card {len(cards)}"
        else:
            # not met / not assessed: where the evidence applies (the JSON has the whole card)
            source += f". Applies to: {f.evidence.applies_to}"

        rows.append(
            [
                Paragraph(flag_word(f).replace(" · ", "<br/>"), st["cell_white"]),
                Paragraph(finding, st["cell"]),
                Paragraph(_esc(source), st["small"]),
            ]
        )
        # the word is a Paragraph (style cell_white): only the background is a table style
        extra += [("BACKGROUND", (0, i), (0, i), colors.HexColor(flag_color(f)))]
    story: list[Any] = [
        *_heading("Risk rules: outcome and evidence", st, 30 * mm),
        # the outcome column fits INDETERMINATE on one line
        _table(rows, [28 * mm, width - 78 * mm, 50 * mm], extra=extra),
        Paragraph(
            "Met = the published criterion holds (level: strength of its evidence); not met = "
            "the criterion does not hold, which is not a statement of low risk; indeterminate = "
            "the evidence does not decide; not assessed = inputs missing or outside the "
            "evidence's population.",
            st["small"],
        ),
    ]
    if cards:
        if len(cards) % 2:
            cards.append([Spacer(1, 1)])
        pairs: list[list[Any]] = [[Paragraph("Evidence cards", st["h2_split"]), ""]]
        pairs += [[cards[k], cards[k + 1]] for k in range(0, len(cards), 2)]
        half = width / 2.0
        # the heading is the table's repeated first row: it never ends a page alone
        grid = Table(pairs, colWidths=[half, half], hAlign="LEFT", repeatRows=1)
        grid.setStyle(
            TableStyle(
                [
                    ("SPAN", (0, 0), (1, 0)),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("LINEBELOW", (0, 0), (-1, -1), 0.3, GRID),
                    ("LEFTPADDING", (0, 0), (-1, -1), 2),
                    ("RIGHTPADDING", (0, 0), (-1, -1), 4),
                ]
            )
        )
        story.append(grid)
    return story


def _root_story(res: Results, st: dict[str, Any], width: float) -> list[Any]:
    """Root and LVOT dimensions (clinical-model.md 4.2): two columns of (measure, value, note)
    in SCCT order (down the left column, then the right), reasons in the notes."""
    cells = [
        [measure, value, Paragraph(_esc(note), st["small"])]
        for measure, value, note in root_rows(res.root, res.annulus.eccentricity)
    ]
    half = (len(cells) + 1) // 2
    left, right = cells[:half], cells[half:]
    right += [["", "", ""]] * (len(left) - len(right))
    rows: list[list[Any]] = [["Measure", "Value", "Plane / note"] * 2]
    rows += [a + b for a, b in zip(left, right, strict=True)]
    col = width / 2.0
    widths = [col * 0.42, col * 0.26, col * 0.32] * 2
    title = "Root and LVOT (planes parallel to the annulus, straight-axis approximation)"
    return [KeepTogether([Paragraph(title, st["h2"]), _table(rows, widths)])]


def _coronary_story(res: Results, st: dict[str, Any], width: float) -> list[Any]:
    """Coronary heights, that sinus and VTC with the obstruction rule's outcome (4.3, 7.2)."""
    rows: list[list[Any]] = [["Artery", "Ostium height", "Sinus (its cusp)", "VTC", "Rule"]]
    rows += [list(row) for row in coronary_rows(res)]
    note = (
        "VTC = ostium distance from the annulus axis minus half the planned valve size (the "
        "displaced leaflet as a cylinder of the valve's nominal size). Rule and evidence: see "
        "Risk rules (coronary.obstruction_LCA / _RCA)."
    )
    return [
        KeepTogether(
            [
                Paragraph("Coronary arteries", st["h2"]),
                _table(rows, [18 * mm, 28 * mm, 34 * mm, 42 * mm, width - 122 * mm]),
                Paragraph(_esc(note), st["small"]),
            ]
        )
    ]


def s_curve_drawing(res: Results, w: float = 80 * mm, h: float = 48 * mm) -> Drawing | None:
    """A small plot of the S-curve (cranial angle against LAO/RAO) with both named views
    marked, or None without a plan."""
    plan = res.fluoroscopy
    if plan is None or not plan.s_curve:
        return None
    normal = res.frame.normal_lps
    views = [
        (v.lao_deg, v.cranial_deg, label)
        for v, label in ((plan.coplanar, "3-cusp"), (plan.cusp_overlap, "overlap"))
        if v.lao_deg is not None and v.cranial_deg is not None
    ]
    lo = min([-40.0, *(a - 5.0 for a, _, _ in views)])
    hi = max([40.0, *(a + 5.0 for a, _, _ in views)])
    xs = [lo + (hi - lo) * i / 80.0 for i in range(81)]
    ys = [s_curve_cranial(normal, x) for x in xs]
    ymin, ymax = min([*ys, -10.0]), max([*ys, 10.0])
    pad_l, pad_b, pad_r, pad_t = 9 * mm, 7 * mm, 3 * mm, 3 * mm

    def px(x: float) -> float:
        return pad_l + (x - lo) / (hi - lo) * (w - pad_l - pad_r)

    def py(y: float) -> float:
        return pad_b + (y - ymin) / (ymax - ymin) * (h - pad_b - pad_t)

    d = Drawing(w, h)
    grey = colors.HexColor("#8C8C8C")
    d.add(Line(px(lo), py(0), px(hi), py(0), strokeColor=grey, strokeWidth=0.4))
    d.add(Line(px(0), py(ymin), px(0), py(ymax), strokeColor=grey, strokeWidth=0.4))
    d.add(String(px(lo), 1.5 * mm, f"RAO {abs(lo):.0f}", fontSize=6, fillColor=grey))
    d.add(String(px(hi), 1.5 * mm, f"LAO {hi:.0f}", fontSize=6, fillColor=grey, textAnchor="end"))
    d.add(String(1 * mm, py(ymax) - 2 * mm, f"CRA {ymax:.0f}", fontSize=6, fillColor=grey))
    d.add(String(1 * mm, py(ymin), f"CAU {abs(ymin):.0f}", fontSize=6, fillColor=grey))
    points: list[float] = []
    for x, y in zip(xs, ys, strict=True):
        points += [px(x), py(y)]
    d.add(PolyLine(points, strokeColor=colors.HexColor("#4477AA"), strokeWidth=1.2))
    for (a, b, label), colour in zip(views, ("#CC3311", "#228833"), strict=False):
        d.add(Circle(px(a), py(b), 1.6 * mm, fillColor=colors.HexColor(colour), strokeWidth=0))
        d.add(String(px(a) + 2.2 * mm, py(b) + 1 * mm, label, fontSize=6.5))
    return d


def _fluoro_story(res: Results, st: dict[str, Any], width: float) -> list[Any]:
    """The C-arm views (section 9): the two named views and a small S-curve plot."""
    rows = fluoro_rows(res)
    if not rows:
        return []
    table: list[list[Any]] = [["View", "C-arm", "Shows"]]
    table += [[v, angles, Paragraph(_esc(shows), st["small"])] for v, angles, shows in rows]
    plan = res.fluoroscopy
    table.append(
        [
            "S-curve",
            Paragraph(
                _esc(
                    "; ".join(
                        format_carm(a, b) for a, b in (plan.s_curve if plan else [])
                        if a in (-30, 0, 30)
                    )
                ),
                st["small"],
            ),
            Paragraph(_esc("LAO (+) / RAO (-): cranial (+) / caudal (-), annulus edge-on"),
                      st["small"]),
        ]
    )  # fmt: skip
    left = width - 84 * mm
    inner = _table(table, [left * 0.32, left * 0.3, left * 0.38])
    drawing = s_curve_drawing(res)
    grid = Table([[inner, drawing or ""]], colWidths=[left + 2 * mm, 82 * mm], hAlign="LEFT")
    grid.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 0),
            ]
        )
    )
    return [
        KeepTogether(
            [
                Paragraph("C-arm views (annular plane edge-on)", st["h2"]),
                grid,
                Paragraph(
                    _esc(
                        "Geometry from the annulus plane and the hinge points (straight axis); "
                        "check on the first aortogram."
                    ),
                    st["small"],
                ),
            ]
        )
    ]


def _sizing_story(res: Results, st: dict[str, Any], width: float) -> list[Any]:
    """Every device family's suggested size with its convention and oversizing."""
    rows: list[list[Any]] = [["Family", "Sized by", "Measured", "Suggested", "Oversizing per size"]]
    for family, by, measured, suggested, detail in sizing_rows(res.sizing):
        # the last column wraps inside its cell (oversizing list or the reason)
        rows.append([family, by, measured, suggested, Paragraph(_esc(detail), st["cell"])])
    if len(rows) == 1:
        return []
    sources = "; ".join(f"{row['name']}: {row['source']}" for row in res.sizing)
    return [
        KeepTogether(
            [
                Paragraph("Valve sizing by family (instructions for use)", st["h2"]),
                _table(rows, [34 * mm, 20 * mm, 24 * mm, 30 * mm, width - 108 * mm]),
                Paragraph(_esc(sources), st["small"]),
            ]
        )
    ]


def _mitral_story(mitral: MitralResults | None, st: dict[str, Any], width: float) -> list[Any]:
    """Mitral annulus, MAC CT score with its components, neo-LVOT (clinical-model.md 8)."""
    if mitral is None:
        return []
    rows: list[list[Any]] = [["Mitral", "Value"]]
    ann = mitral.annulus
    if ann is not None:
        rows.append(
            [
                "Annulus",
                f"perimeter {_mm(ann.perimeter_mm)}, area {fmt(ann.area_mm2, 1, 'mm2')}, "
                f"AP {_mm(ann.ap_diameter_mm)}, intercommissural {_mm(ann.ic_diameter_mm)}",
            ]
        )
    dsh = mitral.d_shape
    if dsh is not None:
        rows.append(
            [
                "D-shaped annulus",
                Paragraph(
                    _esc(
                        f"TT {_mm(dsh.tt_mm)}, SL {_mm(dsh.sl_mm)}, IC {_mm(dsh.ic_mm)}, "
                        f"D area {fmt(dsh.d_area_mm2, 0, 'mm2')}, D perimeter "
                        f"{_mm(dsh.d_perimeter_mm)}, saddle perimeter "
                        f"{_mm(dsh.saddle_perimeter_mm)} (Blanke et al., JACC Cardiovasc "
                        "Imaging 2015)"
                    ),
                    st["cell"],
                ),
            ]
        )
    if mitral.aorto_mitral_angle_deg is not None:
        rows.append(["Aorto-mitral angle", fmt(mitral.aorto_mitral_angle_deg, 0, "deg")])
    mac = mitral.mac
    if mac is not None:
        score = mac.score
        trig = mac.trigones
        rows.append(
            [
                "MAC",
                f"extent {fmt(mac.extent_deg, 0, 'deg')}, thickness mean "
                f"{fmt(mac.thickness_mean_mm)} / max {_mm(mac.thickness_max_mm)}, "
                f"trigones L {fmt(trig.get('L'))} / R {fmt(trig.get('R'))}, anterior "
                f"leaflet {fmt(mac.anterior_leaflet)}",
            ]
        )
        rows.append(
            [
                "MAC CT score",
                Paragraph(
                    _esc(
                        f"{score.total} ({score.grade}): thickness {score.thickness} + extent "
                        f"{score.extent} + trigones {score.trigones} + leaflets "
                        f"{score.leaflets}. {score.to_dict().get('reference') or ''}"
                    ),
                    st["cell"],
                ),
            ]
        )
    neo = mitral.neo_lvot
    if neo is not None:
        valve = neo.valve
        rows.append(
            [
                "Neo-LVOT",
                Paragraph(
                    _esc(
                        f"{fmt(neo.area_mm2, 0, 'mm2')} at "
                        f"{_mm(neo.distance_from_annulus_mm)} below the aortic "
                        f"annulus; virtual valve {_mm(valve.diameter_mm)} x "
                        f"{_mm(valve.height_mm)}, "
                        f"{fmt(valve.ventricular_share * 100, 0, 'pct')} ventricular"
                    ),
                    st["cell"],
                ),
            ]
        )
    for part, reason in mitral.not_assessed.items():
        rows.append([part_title(part), Paragraph(_esc(f"not assessed: {reason}"), st["cell"])])
    if len(rows) == 1:
        return []
    return [
        Paragraph("Mitral annulus, MAC and neo-LVOT", st["h2"]),
        _table(rows, [30 * mm, width - 30 * mm]),
    ]


def _picture(pic: ReportPicture, width: float, st: dict[str, ParagraphStyle]) -> list[Any]:
    img = Image(io.BytesIO(pic.png))
    img.drawHeight = img.imageHeight * width / float(img.imageWidth)
    img.drawWidth = width
    return [Spacer(1, 2 * mm), img, Paragraph(_esc(pic.caption), st["caption"])]


def parameter_rows(res: Results) -> list[list[Any]]:
    """The settings that decided the numbers, as (name, value) rows (from the record of the
    settings used, ``res.parameters``)."""
    p = res.parameters
    regions = p.get("regions") or {}
    area = p.get("analysis_region") or {}
    valve = p.get("valve") or {}
    sex = p.get("sex") or {}
    rows: list[list[Any]] = [
        ["Rules", str(p.get("rules_source", EMPTY))],
        ["Contrast if lumen >=", f"{fmt(p.get('contrast_min_hu'), 0)} HU"],
        [
            "Annulus radius R",
            f"{fmt(p.get('annulus_radius_mm'), 2)} mm ({p.get('annulus_radius_source', EMPTY)})",
        ],
        [
            "Analysis region",
            f"r <= {fmt(area.get('r_le_mm'))} mm, {fmt(area.get('h_ge_mm'))} <= h <= "
            f"{fmt(area.get('h_le_mm'))} mm",
        ],
        [
            "Minimum lesion",
            f"{fmt(p.get('min_lesion_mm3'))} mm³ ({p.get('lesion_connectivity', '')})",
        ],
    ]
    for name in ("leaflet", "annulus", "lvot", "conduction"):
        spec = regions.get(name)
        if isinstance(spec, Mapping):
            text = ", ".join(
                f"{k.replace('_mm', '').replace('_deg', '')} {fmt(v)}" for k, v in spec.items()
            )
            rows.append([f"Region {name}", text])
    zone = regions.get("conduction") or {}
    if zone:
        rows.append(["Conduction zone anchored at", str(zone.get("anchor", EMPTY))])
    rows.append(
        [
            "Planned valve",
            f"size {fmt(valve.get('size_mm'))} mm, type {valve.get('type') or EMPTY}, "
            f"implant depth {fmt(valve.get('implant_depth_mm'))} mm",
        ]
    )
    rows.append(
        [
            "Patient sex (for Agatston rule)",
            f"{sex.get('value') or EMPTY} ({sex.get('source') or EMPTY})",
        ]
    )
    return rows


def build_report_pdf(
    results: Results,
    identity: CaseIdentity,
    pictures: Sequence[ReportPicture] = (),
    series_description: str = "",
    compress: bool = True,
) -> bytes:
    """The report as PDF bytes.

    Parameters
    ----------
    results
        The analysis results.
    identity
        What may be printed about the case; the PDF title is ``identity.title`` (the label).
    pictures
        Pictures to include (2 to 4 recommended), PNG bytes with captions.
    series_description
        The series description, printed in the summary.
    compress
        Compress page streams (off for tests that read the text without a PDF library).
    """
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=22 * mm,
        title=identity.title,
        author=f"AnnulusView {__version__}",
        subject="Structural-heart CT planning report (decision support, not a diagnosis)",
        creator=f"AnnulusView {__version__}",
        keywords="",
        pageCompression=1 if compress else 0,
    )
    footer_label = identity.label

    def on_page(canvas: Canvas, document: Any) -> None:
        canvas.saveState()
        canvas.setFont("Helvetica", 7.5)
        canvas.setFillColor(colors.HexColor("#444444"))
        lines = simpleSplit(DISCLAIMER, "Helvetica", 7.5, A4[0] - 36 * mm)
        y = 8 * mm + 9.0 * len(lines)
        for line in lines:
            canvas.drawString(18 * mm, y, line)
            y -= 9.0
        canvas.drawString(
            18 * mm,
            8 * mm - 9.0,
            f"AnnulusView {__version__}  ·  {footer_label}  ·  page {document.page}",
        )
        canvas.restoreState()

    doc.build(
        report_story(results, identity, pictures, series_description),
        onFirstPage=on_page,
        onLaterPages=on_page,
    )
    return buffer.getvalue()


def _write_file(tmp: Path, data: bytes) -> None:
    """Write the bytes to the temporary file (the step a full disk would break)."""
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()


def write_report_pdf(
    path: str | Path,
    results: Results,
    identity: CaseIdentity,
    pictures: Sequence[ReportPicture] = (),
    series_description: str = "",
    compress: bool = True,
) -> Path:
    """Build the report and write it atomically. Returns the path."""
    data = build_report_pdf(results, identity, pictures, series_description, compress)
    p = Path(path).expanduser()
    atomic_write_with(p, lambda tmp: _write_file(tmp, data))
    return p
