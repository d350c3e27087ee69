"""The PDF case report (reportlab): summary, annulus, calcium, lesions, risk flags, parameters,
pictures, with the disclaimer on every page.

Pictures arrive as PNG bytes rendered by the scene layer, so this module stays free of VTK and
Qt. The document title is the de-identified case label; patient identity is printed only when
the :class:`~annulusview.core.outputs.deid.CaseIdentity` says the user opted in.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    Paragraph,
    SimpleDocTemplate,
    Spacer,
)

from annulusview import DISCLAIMER, __version__
from annulusview.core.atomic import atomic_write_with
from annulusview.core.outputs.deid import CaseIdentity
from annulusview.core.outputs.report_layout import (
    ReportPicture,
    _esc,
    _heading,
    _mm,
    _styles,
    _table,
)
from annulusview.core.outputs.report_sections import (
    NOTE_LABEL,
    _coronary_story,
    _flags_story,
    _fluoro_story,
    _mitral_story,
    _pictures_story,
    _root_story,
    _sizing_story,
    s_curve_drawing,
    short_source,
)
from annulusview.core.presentation import (
    EMPTY,
    fmt,
    plane_range,
)
from annulusview.core.results import Results

__all__ = [
    "NOTE_LABEL",
    "ReportPicture",
    "build_report_pdf",
    "report_story",
    "s_curve_drawing",
    "short_source",
    "write_report_pdf",
]


#: Lesions listed in the report (the largest by volume), so that a heavily calcified root
#: keeps the report at four pages; the results JSON lists every lesion.
REPORT_LESIONS = 10


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

    # case summary: identifiers and long texts across the page, short facts two by two
    calcium = (
        "assessed"
        if not res.calcium_not_assessed_reason
        else f"NOT ASSESSED: {res.calcium_not_assessed_reason}"
    )
    pairs: list[list[Any]] = [
        ["Case", identity.label],
        *_scan_rows(res),
        [
            "Contrast",
            f"{res.contrast_state.replace('_', '-')} (LVOT lumen {fmt(res.lumen_hu, 0, 'HU')}, "
            f"SD {fmt(res.lumen_hu_sd, 0, 'HU')})",
        ],
        ["Technique", _technique_line(res.parameters.get("technique", {}))],
        ["Software", f"AnnulusView {__version__}"],
    ]
    if len(pairs) % 2:
        pairs.append(["", ""])
    short = [
        [
            pairs[k][0],
            Paragraph(_esc(pairs[k][1]), st["cell"]),
            pairs[k + 1][0],
            Paragraph(_esc(pairs[k + 1][1]), st["cell"]),
        ]
        for k in range(0, len(pairs), 2)
    ]
    wide: list[list[Any]] = []
    if res.landmarks_proposed:
        # on the first page, not only among the warnings: the numbers rest on them
        wide.append(
            [
                "Landmarks",
                Paragraph(
                    "<b>"
                    + _esc(
                        f"{len(res.landmarks_proposed)} proposed by the program and not yet "
                        "confirmed by a person"
                    )
                    + "</b>"
                    + _esc(
                        f" ({', '.join(res.landmarks_proposed)}): every number and rule that "
                        "uses them is unconfirmed until they are reviewed."
                    ),
                    st["cell"],
                ),
            ]
        )
    wide += [
        ["Series", res.series_instance_uid or EMPTY],
        ["Series description", series_description or EMPTY],
        ["Calcium", Paragraph(_esc(calcium), st["cell"])],
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
    ]
    half = width / 2.0
    story += [
        Spacer(1, 3 * mm),
        _table(short, [28 * mm, half - 28 * mm, 28 * mm, half - 28 * mm], header=False),
        _table(wide, [28 * mm, width - 28 * mm], header=False),
    ]

    # annulus
    a = res.annulus
    heights = res.coronary_heights_mm
    check = "check" if a.plane_check_mm is None else f"\u00b1{a.plane_check_mm:g} mm"
    ann = [
        ["Annulus", "Value", "Annulus", "Value"],
        ["Area", fmt(a.area_mm2, 1, "mm2"), "Perimeter", _mm(a.perimeter_mm)],
        ["D min", _mm(a.d_min_mm), "D max", _mm(a.d_max_mm)],
        ["D area-derived", _mm(a.d_area_mm), "D perimeter-derived", _mm(a.d_perimeter_mm)],
        [
            f"Area, plane {check}",
            plane_range(a.area_plane_range_mm2, "mm2"),
            f"Perimeter, plane {check}",
            plane_range(a.perimeter_plane_range_mm, "mm"),
        ],
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
        grade = str(res.lvot_calcium_grade["grade"])
        above = res.lvot_calcium_grade.get("grade_above_noise_floor")
        if above is not None and above != grade:
            grade += f" ({above} above the noise floor)"
        right.append(["LVOT calcium grade", grade, EMPTY])
    n = max(len(left), len(right))
    left += [["", "", ""]] * (n - len(left))
    right += [["", "", ""]] * (n - len(right))
    rows: list[list[Any]] = [["Calcium", "Volume", "Agatston"] * 2]
    rows += [a + b for a, b in zip(left, right, strict=True)]
    story += [Paragraph("Calcium by region and cusp", st["h2"])]
    col = width / 2.0
    story.append(_table(rows, [col * 0.5, col * 0.28, col * 0.22] * 2))

    # lesions: the largest REPORT_LESIONS (a heavily calcified root has dozens; every one is
    # in the results JSON and in the window)
    shown = sorted(res.lesions, key=lambda les: -les.volume_mm3)[:REPORT_LESIONS]
    shown.sort(key=lambda les: les.id)
    rows = [["#", "Volume", "Max HU", "Region", "Cusp", "To LVOT", "To conduction", "Inward"]]
    faint = res.faint_lesion_ids
    for les in shown:
        rows.append(
            [
                str(les.id),
                fmt(les.volume_mm3, 1, "mm3"),
                fmt(les.max_hu, 0) + (" (faint)" if les.id in faint else ""),
                les.region,
                les.cusp,
                _mm(les.distance_to_lvot_mm),
                _mm(les.distance_to_conduction_mm),
                _mm(les.inward_extent_mm),
            ]
        )
    title = f"Lesions ({len(res.lesions)})"
    if len(shown) < len(res.lesions):
        title = (
            f"Lesions ({len(res.lesions)}; the {len(shown)} largest listed, every lesion in "
            "the results JSON)"
        )
    story += _heading(title, st, 25 * mm)
    story.append(
        _table(rows, [10 * mm, 24 * mm, 18 * mm, 22 * mm, 14 * mm, 24 * mm, 28 * mm, 22 * mm])
    )

    story += _mitral_story(res.mitral, st, width)

    story += _flags_story(res, st, width)

    # parameters as one compact paragraph (each setting named), then warnings
    params = "; ".join(f"<b>{_esc(name)}</b> {_esc(value)}" for name, value in parameter_rows(res))
    story += _heading("Parameters used", st, 20 * mm)
    story.append(Paragraph(params, st["card"]))
    if res.warnings:
        story += _heading("Warnings", st, 20 * mm)
        story += [Paragraph("• " + _esc(w), st["bullet"]) for w in res.warnings]

    return story


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
        topMargin=13 * mm,
        bottomMargin=19 * mm,
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
