"""The planning sections of the PDF report: root and LVOT, coronary arteries, valve sizing, C-arm
views with the S-curve plot, pictures, mitral, and the risk rules with their evidence cards."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from reportlab.graphics.shapes import Circle, Drawing, Line, PolyLine, String
from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.platypus import (
    BalancedColumns,
    KeepTogether,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from annulusview.core.flags import MET, NOT_ASSESSED, NOT_MET
from annulusview.core.fluoro import s_curve_cranial
from annulusview.core.mitral import MitralResults
from annulusview.core.outputs.report_layout import (
    ReportPicture,
    _esc,
    _heading,
    _mm,
    _picture,
    _picture_grid,
    _table,
)
from annulusview.core.presentation import (
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

#: The evidence note (what the source does not support) is printed on met rules' cards only;
#: rules that were not met or not assessed print their source and scope in the outcome table.
#: Every card is whole in the results JSON.
NOTE_LABEL = "Not supported / note"


def _pictures_story(
    pictures: Sequence[ReportPicture], st: dict[str, Any], width: float
) -> list[Any]:
    """The pictures: the first two (3D view, annulus plane) side by side, the others (LVOT
    long axis, then the measured root planes with their contours) four to a row below."""
    if not pictures:
        return []
    top = list(pictures[:2])
    small = list(pictures[2:])
    widths = [width * 0.56, width * 0.40] if len(top) == 2 else [width * 0.7]
    first = _picture_grid(
        [[_picture(pic, w - 2 * mm, st) for pic, w in zip(top, widths, strict=False)]], widths
    )
    story: list[Any] = [KeepTogether([Paragraph("Pictures", st["h2"]), first])]
    if small:
        quarter = width / 4.0
        cells = [_picture(pic, quarter - 4 * mm, st) for pic in small]
        cells += [[Spacer(1, 1)]] * ((4 - len(cells) % 4) % 4)
        rows = [cells[k : k + 4] for k in range(0, len(cells), 4)]
        story.append(_picture_grid(rows, [quarter] * 4))
    return story


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


def _card_body(lines: list[tuple[str, str]]) -> str:
    """The card's rows as one paragraph; whether the source was read follows the source on
    its line (one row less per card)."""
    verified = dict(lines).get("Verified")
    parts: list[str] = []
    for label, text in lines:
        if label == "Verified":
            continue
        part = f"<b>{_esc(label)}:</b> {_esc(text)}"
        if label == "Source" and verified:
            # "yes (abstract or text read)": the legend above the cards says what yes means
            part += f" <b>Verified:</b> {_esc(verified.split(' (')[0])}"
        parts.append(part)
    return "<br/>".join(parts)


def _shared_title(titles: list[str]) -> str:
    """One title for a card that several rules share: their family named once
    ("Coronary: left main ... / right coronary ...")."""
    family = {t.partition(": ")[0] for t in titles}
    if len(titles) > 1 and len(family) == 1 and all(": " in t for t in titles):
        return f"{family.pop()}: " + " / ".join(t.partition(": ")[2] for t in titles)
    return " / ".join(dict.fromkeys(titles))


def _flags_story(res: Results, st: dict[str, Any], width: float) -> list[Any]:
    """Every rule: an outcome table (what needs attention first), then the numbered evidence
    cards two by two (a card never splits; a met rule's card is whole). Rules that share one
    evidence (the same source, scope and note: the left and right coronary rules) share one
    card."""
    flags = sorted(res.flags, key=flag_rank)
    rows: list[list[Any]] = [["Outcome", "Rule and finding", "Source"]]
    extra: list[Any] = []
    # card number -> (rule ids, evidence rows), in the order the rules are listed
    cards: list[tuple[list[str], list[tuple[str, str]]]] = []
    for i, f in enumerate(flags, start=1):
        finding = f"<b>{_esc(flag_title(f.id))}</b> ({_esc(f.id)}): {_esc(f.message)}"
        if f.reason and f.reason not in f.message:
            finding += f" <i>{_esc(f.reason)}</i>"
        verified = "" if f.evidence.verified else " (not verified)"
        source = f"{short_source(f.reference)}{verified}"
        carded = f.status not in (NOT_MET, NOT_ASSESSED)
        if carded:
            # a rule that says something gets its whole evidence card below
            lines = _card_lines(f)
            number = next((k for k, (_, ls) in enumerate(cards, 1) if ls == lines), 0)
            if number:
                cards[number - 1][0].append(f.id)
            else:
                cards.append(([f.id], lines))
                number = len(cards)
            source += f"; card {number}"
        else:
            # not met / not assessed: where the evidence applies, under the finding (the wide
            # column); the JSON has the whole card
            finding += f"<br/><i>Applies to: {_esc(f.evidence.applies_to)}</i>"

        rows.append(
            [
                Paragraph(flag_word(f).replace(" · ", "<br/>"), st["cell_white"]),
                Paragraph(finding, st["cell"]),
                Paragraph(_esc(source), st["small"]),
            ]
        )
        # the word is a Paragraph (style cell_white): only the background is a table style
        extra += [("BACKGROUND", (0, i), (0, i), colors.HexColor(flag_color(f)))]
    cells: list[Any] = []
    for number, (ids, lines) in enumerate(cards, start=1):
        titles = _shared_title([flag_title(i) for i in ids])
        names = ", ".join(_esc(i) for i in ids)
        cells.append(
            [
                Paragraph(f"<b>{number}. {_esc(titles)}</b> ({names})", st["card_title"]),
                Paragraph(_card_body(lines), st["card"]),
            ]
        )
    story: list[Any] = [
        *_heading("Risk rules: outcome and evidence", st, 30 * mm),
        # the outcome column fits INDETERMINATE on one line
        _table(rows, [27 * mm, width - 73 * mm, 46 * mm], extra=extra),
        Paragraph(
            "Met = the published criterion holds (level: strength of its evidence); not met = "
            "the criterion does not hold, which is not a statement of low risk; indeterminate = "
            "the evidence does not decide; not assessed = inputs missing or outside the "
            "evidence's population. Verified (on the cards) = the source's abstract or text was "
            "read; a rule whose source was not verified has its level capped.",
            st["small"],
        ),
    ]
    if cells:
        # the cards flow down two balanced columns (a short card leaves no gap beside a long
        # one); a card's title stays with its text
        flow: list[Any] = []
        for title, body in cells:
            title.keepWithNext = 1
            flow += [title, body, Spacer(1, 2.5 * mm)]
        story += _heading("Evidence cards", st, 60 * mm)
        story.append(BalancedColumns(flow, nCols=2, innerPadding=4 * mm, topPadding=0))
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
        # the last three columns wrap inside their cells (the plane check's range and sizes,
        # the oversizing list or the reason)
        rows.append(
            [
                family,
                by,
                *(Paragraph(_esc(text), st["cell"]) for text in (measured, suggested, detail)),
            ]
        )
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
