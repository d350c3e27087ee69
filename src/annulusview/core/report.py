"""The PDF case report (reportlab): summary, annulus, calcium, lesions, risk flags, parameters,
pictures, with the disclaimer on every page.

Pictures arrive as PNG bytes rendered by the scene layer, so this module stays free of VTK and
Qt. The document title is the de-identified case label; patient identity is printed only when
the :class:`~annulusview.core.deid.CaseIdentity` says the user opted in.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
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
from annulusview.core.deid import CaseIdentity

LEVEL_COLORS = {
    "high": colors.HexColor("#CC3311"),
    "moderate": colors.HexColor("#EE7733"),
    "low": colors.HexColor("#228833"),
    "not_assessed": colors.HexColor("#888888"),
}
UNITS = {"mm3": "mm³", "mm^3": "mm³", "mm2": "mm²", "mm^2": "mm²"}
HEADER_BG = colors.HexColor("#E8EAEE")
GRID = colors.HexColor("#B8BCC4")


@dataclass(frozen=True)
class ReportPicture:
    """A picture for the report: caption and PNG bytes."""

    caption: str
    png: bytes


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    try:
        return f"{float(value):.{digits}f}"
    except (TypeError, ValueError):
        return str(value)


def _esc(text: Any) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _styles() -> dict[str, ParagraphStyle]:
    base = getSampleStyleSheet()
    body = ParagraphStyle("body", parent=base["BodyText"], fontSize=9, leading=11.5)
    return {
        "title": ParagraphStyle("title", parent=base["Title"], fontSize=17, spaceAfter=2),
        "h2": ParagraphStyle("h2", parent=base["Heading2"], fontSize=11.5, spaceBefore=8),
        "body": body,
        "small": ParagraphStyle("small", parent=body, fontSize=7.5, leading=9.5),
        "cell": ParagraphStyle("cell", parent=body, fontSize=8, leading=10),
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


def _unit(unit: Any) -> str:
    return UNITS.get(str(unit or ""), str(unit or ""))


def report_story(
    res: Mapping[str, Any],
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
    thr = (res.get("parameters") or {}).get("threshold") or {}
    summary = [
        ["Case", identity.label],
        ["Series", f"{res.get('series_instance_uid') or '-'}"],
        ["Series description", series_description or "-"],
        [
            "Contrast",
            f"{_fmt(res.get('contrast'))} (LVOT lumen {_fmt(res.get('lumen_hu'), 0)} HU)",
        ],
        [
            "Calcium threshold",
            Paragraph(
                _esc(
                    f"{_fmt(res.get('threshold_hu'), 0)} HU, {res.get('threshold_method', '-')}: "
                    f"{thr.get('reference') or res.get('threshold_reference') or ''}"
                ),
                st["cell"],
            ),
        ],
        ["Software", f"AnnulusView {res.get('app_version') or __version__}"],
    ]
    story += [Spacer(1, 3 * mm), _table(summary, [40 * mm, width - 40 * mm], header=False)]

    # annulus
    a = res.get("annulus") or {}
    heights = res.get("coronary_heights_mm") or {}
    ann = [
        ["Annulus", "Value", "Annulus", "Value"],
        [
            "Area",
            f"{_fmt(a.get('area_mm2'))} mm²",
            "Perimeter",
            f"{_fmt(a.get('perimeter_mm'))} mm",
        ],
        ["D min", f"{_fmt(a.get('d_min_mm'))} mm", "D max", f"{_fmt(a.get('d_max_mm'))} mm"],
        [
            "D area-derived",
            f"{_fmt(a.get('d_area_mm'))} mm",
            "D perimeter-derived",
            f"{_fmt(a.get('d_perimeter_mm'))} mm",
        ],
        [
            "LCA height",
            f"{_fmt(heights.get('LCA'))} mm",
            "RCA height",
            f"{_fmt(heights.get('RCA'))} mm",
        ],
        [
            "Membranous septum",
            f"{_fmt(res.get('ms_length_mm'))} mm",
            "Method",
            a.get("method", "-"),
        ],
    ]
    story += [Paragraph("Annulus (SCCT 2019 conventions)", st["h2"])]
    story.append(_table(ann, [38 * mm, 36 * mm, 42 * mm, width - 116 * mm]))

    # calcium by region and cusp
    ca = res.get("calcium") or {}
    rows: list[list[Any]] = [["Calcium", "Volume", "Agatston"]]
    rows.append(
        [
            "Total (analysis region)",
            f"{_fmt(ca.get('volume_mm3'))} mm³",
            _fmt(ca.get("agatston"), 0),
        ]
    )
    for name, total in (ca.get("by_region") or {}).items():
        rows.append(
            [
                f"Region: {name}",
                f"{_fmt(total.get('volume_mm3'))} mm³",
                _fmt(total.get("agatston"), 0),
            ]
        )
    for name, total in (ca.get("by_cusp") or {}).items():
        rows.append(
            [
                f"Cusp sector: {name}",
                f"{_fmt(total.get('volume_mm3'))} mm³",
                _fmt(total.get("agatston"), 0),
            ]
        )
    if ca.get("leaflet_volume_850_mm3") is not None:
        rows.append(["Leaflet at 850 HU", f"{_fmt(ca.get('leaflet_volume_850_mm3'))} mm³", "-"])
    story += [Paragraph("Calcium by region and cusp", st["h2"])]
    story.append(_table(rows, [60 * mm, 35 * mm, 30 * mm]))

    # lesions
    lesions = res.get("lesions") or []
    rows = [["#", "Volume", "Max HU", "Region", "Cusp", "To LVOT", "To conduction", "Inward"]]
    for les in lesions:
        rows.append(
            [
                str(les.get("id")),
                f"{_fmt(les.get('volume_mm3'))} mm³",
                _fmt(les.get("max_hu"), 0),
                les.get("region", "-"),
                les.get("cusp", "-"),
                f"{_fmt(les.get('distance_to_lvot_mm'))} mm",
                f"{_fmt(les.get('distance_to_conduction_mm'))} mm",
                f"{_fmt(les.get('inward_extent_mm'))} mm",
            ]
        )
    story += [Paragraph(f"Lesions ({len(lesions)})", st["h2"])]
    story.append(
        _table(rows, [10 * mm, 24 * mm, 18 * mm, 22 * mm, 14 * mm, 24 * mm, 28 * mm, 22 * mm])
    )

    story += _mitral_story(res.get("mitral"), st, width)

    # risk flags
    flags = list(res.get("flags") or [])
    order = {"high": 0, "moderate": 1, "low": 2, "not_assessed": 3}
    flags.sort(key=lambda f: order.get(str(f.get("level")), 4))
    rows = [["Level", "Rule and finding", "Reference (N/A = not assessed)"]]
    extra: list[Any] = []
    for i, f in enumerate(flags, start=1):
        level = str(f.get("level"))
        finding = f"<b>{_esc(f.get('id'))}</b>: {_esc(f.get('message'))}"
        if f.get("reason") and str(f.get("reason")) not in str(f.get("message")):
            finding += f" <i>{_esc(f.get('reason'))}</i>"
        rows.append(
            [
                "N/A" if level == "not_assessed" else level.upper(),
                Paragraph(finding, st["cell"]),
                Paragraph(_esc(f.get("reference") or ""), st["small"]),
            ]
        )
        extra += [
            ("BACKGROUND", (0, i), (0, i), LEVEL_COLORS.get(level, colors.grey)),
            ("TEXTCOLOR", (0, i), (0, i), colors.white),
            ("FONT", (0, i), (0, i), "Helvetica-Bold", 8),
        ]
    story += [Paragraph("Risk flags", st["h2"])]
    story.append(_table(rows, [22 * mm, 78 * mm, width - 100 * mm], extra=extra))

    # parameters
    story += [Paragraph("Parameters used", st["h2"])]
    story.append(_table(parameter_rows(res), [55 * mm, width - 55 * mm], header=False))
    warnings = res.get("warnings") or []
    if warnings:
        story += [Paragraph("Warnings", st["h2"])]
        story += [Paragraph("• " + _esc(w), st["body"]) for w in warnings]

    # pictures: the first full width, the others two by two
    if pictures:
        first, rest = pictures[0], list(pictures[1:])
        story.append(KeepTogether([Paragraph("Pictures", st["h2"]), *_picture(first, width, st)]))
        half = (width - 4 * mm) / 2.0
        for i in range(0, len(rest), 2):
            pair = [_picture(pic, half, st) for pic in rest[i : i + 2]]
            if len(pair) == 1:
                pair.append([Spacer(1, 1)])
            grid = Table([pair], colWidths=[half + 2 * mm, half + 2 * mm], hAlign="LEFT")
            grid.setStyle(
                TableStyle(
                    [
                        ("VALIGN", (0, 0), (-1, -1), "TOP"),
                        ("LEFTPADDING", (0, 0), (-1, -1), 0),
                        ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                    ]
                )
            )
            story.append(grid)
    return story


def _mitral_story(mitral: Mapping[str, Any] | None, st: dict[str, Any], width: float) -> list[Any]:
    """Mitral annulus, MAC CT score with its components, neo-LVOT (clinical-model.md 8)."""
    if not mitral:
        return []
    rows: list[list[Any]] = [["Mitral", "Value"]]
    ann = mitral.get("annulus") or {}
    if ann:
        rows.append(
            [
                "Annulus",
                f"perimeter {_fmt(ann.get('perimeter_mm'))} mm, area {_fmt(ann.get('area_mm2'))} "
                f"mm², AP {_fmt(ann.get('ap_diameter_mm'))} mm, "
                f"intercommissural {_fmt(ann.get('ic_diameter_mm'))} mm",
            ]
        )
    mac = mitral.get("mac") or {}
    if mac:
        score = mac.get("score") or {}
        trig = mac.get("trigones") or {}
        rows.append(
            [
                "MAC",
                f"extent {_fmt(mac.get('extent_deg'), 0)}°, thickness mean "
                f"{_fmt(mac.get('thickness_mean_mm'))} / max {_fmt(mac.get('thickness_max_mm'))} "
                f"mm, trigones L {_fmt(trig.get('L'))} / R {_fmt(trig.get('R'))}, anterior "
                f"leaflet {_fmt(mac.get('anterior_leaflet'))}",
            ]
        )
        rows.append(
            [
                "MAC CT score",
                Paragraph(
                    _esc(
                        f"{score.get('total', '-')} ({score.get('grade', '-')}): thickness "
                        f"{score.get('thickness', '-')} + extent {score.get('extent', '-')} + "
                        f"trigones {score.get('trigones', '-')} + leaflets "
                        f"{score.get('leaflets', '-')}. {score.get('reference') or ''}"
                    ),
                    st["cell"],
                ),
            ]
        )
    neo = mitral.get("neo_lvot") or {}
    if neo:
        valve = neo.get("valve") or {}
        rows.append(
            [
                "Neo-LVOT",
                Paragraph(
                    _esc(
                        f"{_fmt(neo.get('area_mm2'), 0)} mm² at "
                        f"{_fmt(neo.get('distance_from_annulus_mm'))} mm below the aortic "
                        f"annulus; virtual valve {_fmt(valve.get('diameter_mm'))} mm x "
                        f"{_fmt(valve.get('height_mm'))} mm, "
                        f"{_fmt((valve.get('ventricular_share') or 0) * 100, 0)} % ventricular"
                    ),
                    st["cell"],
                ),
            ]
        )
    for part, reason in (mitral.get("not_assessed") or {}).items():
        rows.append([f"{part}", Paragraph(_esc(f"not assessed: {reason}"), st["cell"])])
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


def parameter_rows(res: Mapping[str, Any]) -> list[list[Any]]:
    """The settings that decided the numbers, as (name, value) rows."""
    p = res.get("parameters") or {}
    regions = p.get("regions") or {}
    area = p.get("analysis_region") or {}
    valve = p.get("valve") or {}
    sex = p.get("sex") or {}
    rows: list[list[Any]] = [
        ["Rules", str(p.get("rules_source", "-"))],
        ["Contrast if lumen >=", f"{_fmt(p.get('contrast_min_hu'), 0)} HU"],
        [
            "Annulus radius R",
            f"{_fmt(p.get('annulus_radius_mm'), 2)} mm ({p.get('annulus_radius_source', '-')})",
        ],
        [
            "Analysis region",
            f"r <= {_fmt(area.get('r_le_mm'))} mm, {_fmt(area.get('h_ge_mm'))} <= h <= "
            f"{_fmt(area.get('h_le_mm'))} mm",
        ],
        [
            "Minimum lesion",
            f"{_fmt(p.get('min_lesion_mm3'))} mm³ ({p.get('lesion_connectivity', '')})",
        ],
    ]
    for name in ("leaflet", "annulus", "lvot", "conduction"):
        spec = regions.get(name)
        if isinstance(spec, Mapping):
            text = ", ".join(
                f"{k.replace('_mm', '').replace('_deg', '')} {_fmt(v)}" for k, v in spec.items()
            )
            rows.append([f"Region {name}", text])
    if regions.get("ms_length_used_mm") is not None:
        rows.append(["MS length used", f"{_fmt(regions.get('ms_length_used_mm'))} mm"])
    rows.append(
        [
            "Planned valve",
            f"size {_fmt(valve.get('size_mm'))} mm, type {valve.get('type') or '-'}, "
            f"implant depth {_fmt(valve.get('implant_depth_mm'))} mm",
        ]
    )
    rows.append(
        [
            "Patient sex (for Agatston rule)",
            f"{sex.get('value') or '-'} ({sex.get('source') or '-'})",
        ]
    )
    return rows


def build_report_pdf(
    results: Any,
    identity: CaseIdentity,
    pictures: Sequence[ReportPicture] = (),
    series_description: str = "",
    compress: bool = True,
) -> bytes:
    """The report as PDF bytes.

    Parameters
    ----------
    results
        A ``Results`` (with ``to_dict()``) or the results JSON dict.
    identity
        What may be printed about the case; the PDF title is ``identity.title`` (the label).
    pictures
        Pictures to include (2 to 4 recommended), PNG bytes with captions.
    series_description
        The series description, printed in the summary.
    compress
        Compress page streams (off for tests that read the text without a PDF library).
    """
    res = results.to_dict() if hasattr(results, "to_dict") else dict(results)
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
        report_story(res, identity, pictures, series_description),
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
    results: Any,
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
