"""Screen annotations for exported pictures: case label, measurements, risk badges, distance
legend, scale bar, orientation letters and the disclaimer.

Everything is a VTK 2-D actor added to a pyvista plotter, so the window and the off-screen
export draw the same overlay. Sizes scale with the window height (reference 1080 px), so a
``--scale 2`` picture is the same picture at twice the resolution. What identity text may be
shown is decided by :mod:`annulusview.core.outputs.deid` only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

# the modules these annotations use, not the whole ``vtk`` package (0.3 s of start-up); the
# FreeType and OpenGL2 back ends register the text and 2D renderers
import vtkmodules.vtkRenderingFreeType
import vtkmodules.vtkRenderingOpenGL2  # noqa: F401
from pyvista import BasePlotter
from vtkmodules.vtkCommonCore import vtkLookupTable, vtkPoints, vtkUnsignedCharArray
from vtkmodules.vtkCommonDataModel import vtkCellArray, vtkPolyData
from vtkmodules.vtkRenderingCore import (
    vtkActor2D,
    vtkCoordinate,
    vtkPolyDataMapper2D,
    vtkTextActor,
)

from annulusview import DISCLAIMER
from annulusview.core.flags import INDETERMINATE, NOT_ASSESSED, Flag
from annulusview.core.outputs.deid import CaseIdentity
from annulusview.core.presentation import (
    STATUS_COLORS,
    flag_color,
    flag_rank,
    flag_title,
    flag_word,
    fmt,
)
from annulusview.core.results import Results
from annulusview.scene.build import CALCIUM_CLIM_MM, calcium_cmap
from annulusview.scene.state import COLOR_BY_TITLE

REFERENCE_HEIGHT_PX = 1080.0
TEXT_COLOR = "#F2F2F2"
PANEL_BG = "#1B1E24"
SCALE_BAR_CHOICES_MM = (1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0)


def rgb(color: str) -> tuple[float, float, float]:
    """``#RRGGBB`` as VTK floats."""
    c = color.lstrip("#")
    return (int(c[0:2], 16) / 255.0, int(c[2:4], 16) / 255.0, int(c[4:6], 16) / 255.0)


@dataclass
class ViewInfo:
    """What the annotations need to know about the view on screen.

    Attributes
    ----------
    name, title
        View name (``3d``, ``annulus``...) and its title for the header.
    px_per_mm
        Display pixels per mm in the plane of interest (parallel projection), or None.
    right_lps, up_lps
        Screen right and up as LPS directions (for the orientation letters), or None.
    subtitle
        Extra header line (e.g. C-arm angles).
    compact
        Leave out the measurement panel and the risk badges (small pictures of one plane,
        whose own numbers are in ``notes``): they would cover the image.
    """

    name: str
    title: str
    px_per_mm: float | None = None
    right_lps: npt.NDArray[np.float64] | None = None
    up_lps: npt.NDArray[np.float64] | None = None
    subtitle: str = ""
    legend_title: str = ""
    notes: list[str] = field(default_factory=list)
    compact: bool = False


def _unit(plotter: BasePlotter) -> float:
    """Pixels per reference pixel: window height / 1080."""
    _, h = plotter.window_size
    return max(float(h), 1.0) / REFERENCE_HEIGHT_PX


def text_actor(
    text: str,
    x_px: float,
    y_px: float,
    size_px: float,
    *,
    color: str = TEXT_COLOR,
    background: str | None = None,
    background_opacity: float = 0.8,
    justify: str = "left",
    valign: str = "top",
    bold: bool = False,
    mono: bool = False,
) -> vtkTextActor:
    """A screen text at display pixel ``(x_px, y_px)`` (origin bottom-left)."""
    actor = vtkTextActor()
    actor.SetInput(text)
    actor.SetTextScaleModeToNone()
    actor.GetPositionCoordinate().SetCoordinateSystemToDisplay()
    actor.SetPosition(float(x_px), float(y_px))
    prop = actor.GetTextProperty()
    prop.SetFontSize(max(6, round(size_px)))
    prop.SetColor(*rgb(color))
    prop.SetBold(bold)
    prop.SetShadow(background is None)
    prop.SetLineSpacing(1.15)
    if mono:
        prop.SetFontFamilyToCourier()
    else:
        prop.SetFontFamilyToArial()
    {"left": prop.SetJustificationToLeft, "right": prop.SetJustificationToRight}.get(
        justify, prop.SetJustificationToCentered
    )()
    {
        "top": prop.SetVerticalJustificationToTop,
        "bottom": prop.SetVerticalJustificationToBottom,
    }.get(valign, prop.SetVerticalJustificationToCentered)()
    if background is not None:
        prop.SetBackgroundColor(*rgb(background))
        prop.SetBackgroundOpacity(background_opacity)
    return actor


def _add(plotter: BasePlotter, actor: Any, name: str) -> Any:
    plotter.add_actor(actor, name=name, reset_camera=False, pickable=False)
    return actor


def measurement_lines(res: Results) -> list[str]:
    """Key measurements: annulus area/perimeter/diameters and calcium totals."""
    a = res.annulus
    ca = res.calcium
    lines = [
        f"ANNULUS ({a.method})",
        f"Area          {fmt(a.area_mm2):>7} mm²",
        f"Perimeter     {fmt(a.perimeter_mm):>7} mm",
        f"D min / max   {fmt(a.d_min_mm)} / {fmt(a.d_max_mm)} mm",
        f"D area/perim  {fmt(a.d_area_mm)} / {fmt(a.d_perimeter_mm)} mm",
        "",
        f"CALCIUM       {fmt(ca.volume_mm3):>7} mm³",
    ]
    if ca.agatston is not None:
        lines.append(f"Agatston      {fmt(ca.agatston, 0):>7}")
    for name in ("leaflet", "annulus", "lvot", "conduction"):
        total = ca.by_region.get(name)
        if total is not None:
            lines.append(f"  {name:<11} {fmt(total.volume_mm3):>7} mm³")
    return lines


def flag_badge_text(flag: Flag) -> str:
    """``HIGH  PVL: LVOT calcium  66.4 mm³ (limit 40)`` for a raised flag."""
    detail = ""
    if flag.value is not None:
        detail = f"  {fmt(flag.value, 1, flag.unit)}"
        if flag.threshold is not None:
            detail += f" (limit {float(flag.threshold):g})"
    return f" {flag_word(flag)}  {flag_title(flag.id)}{detail} "


def distance_lut() -> vtkLookupTable:
    """The calcium distance colour map of the 3D scene as a VTK lookup table."""
    cmap = calcium_cmap()
    lut = vtkLookupTable()
    lut.SetNumberOfTableValues(256)
    lut.SetRange(*CALCIUM_CLIM_MM)
    for i in range(256):
        r, g, b, _ = cmap(i / 255.0)
        lut.SetTableValue(i, r, g, b, 1.0)
    lut.SetNanColor(0.73, 0.73, 0.73, 1.0)
    lut.Build()
    return lut


def distance_color(distance_mm: float | None) -> tuple[float, float, float]:
    """RGB (0-1) of a lesion coloured by its distance (grey when unknown)."""
    if distance_mm is None or not np.isfinite(distance_mm):
        return (0.73, 0.73, 0.73)
    lo, hi = CALCIUM_CLIM_MM
    t = (min(max(float(distance_mm), lo), hi) - lo) / (hi - lo)
    r, g, b, _ = calcium_cmap()(t)
    return (float(r), float(g), float(b))


def orientation_letters(direction: npt.ArrayLike) -> str:
    """Patient-direction letters of a screen direction (LPS), strongest first, e.g. ``"LA"``."""
    d = np.asarray(direction, dtype=np.float64)
    d = d / max(float(np.linalg.norm(d)), 1e-12)
    letters = (("R", "L"), ("A", "P"), ("I", "S"))
    order = np.argsort(-np.abs(d))
    out = [letters[a][1 if d[a] > 0 else 0] for a in order if abs(d[a]) >= 0.3]
    return "".join(out[:2]) or letters[int(order[0])][1 if d[order[0]] > 0 else 0]


def nice_scale_bar_mm(px_per_mm: float, target_px: float) -> float:
    """The largest of 1, 2, 5, 10, 20, 50, 100 mm not longer than ``target_px``."""
    best = SCALE_BAR_CHOICES_MM[0]
    for mm in SCALE_BAR_CHOICES_MM:
        if mm * px_per_mm <= target_px:
            best = mm
    return best


def _line_actor(points_px: Sequence[tuple[float, float]], color: str, width: float) -> Any:
    pts = vtkPoints()
    for x, y in points_px:
        pts.InsertNextPoint(float(x), float(y), 0.0)
    lines = vtkCellArray()
    for i in range(len(points_px) - 1):
        lines.InsertNextCell(2)
        lines.InsertCellPoint(i)
        lines.InsertCellPoint(i + 1)
    poly = vtkPolyData()
    poly.SetPoints(pts)
    poly.SetLines(lines)
    mapper = vtkPolyDataMapper2D()
    mapper.SetInputData(poly)
    coord = vtkCoordinate()
    coord.SetCoordinateSystemToDisplay()
    mapper.SetTransformCoordinate(coord)
    actor = vtkActor2D()
    actor.SetMapper(mapper)
    actor.GetProperty().SetColor(*rgb(color))
    actor.GetProperty().SetLineWidth(float(width))
    return actor


def _rect_actor(x0: float, y0: float, x1: float, y1: float, color: str, opacity: float) -> Any:
    pts = vtkPoints()
    for x, y in ((x0, y0), (x1, y0), (x1, y1), (x0, y1)):
        pts.InsertNextPoint(x, y, 0.0)
    poly = vtkPolyData()
    poly.SetPoints(pts)
    cells = vtkCellArray()
    cells.InsertNextCell(4)
    for i in range(4):
        cells.InsertCellPoint(i)
    poly.SetPolys(cells)
    mapper = vtkPolyDataMapper2D()
    mapper.SetInputData(poly)
    actor = vtkActor2D()
    actor.SetMapper(mapper)
    actor.GetProperty().SetColor(*rgb(color))
    actor.GetProperty().SetOpacity(opacity)
    return actor


def add_legend(plotter: BasePlotter, title: str) -> None:
    """Horizontal distance colour legend (mm), bottom centre above the disclaimer."""
    u = _unit(plotter)
    w, _ = plotter.window_size
    lo, hi = CALCIUM_CLIM_MM
    x0, x1 = 0.34 * w, 0.66 * w
    y0, y1 = 62 * u, 80 * u
    steps = 64
    pts = vtkPoints()
    cells = vtkCellArray()
    colors = vtkUnsignedCharArray()
    colors.SetNumberOfComponents(3)
    for i in range(steps):
        xa = x0 + (x1 - x0) * i / steps
        xb = x0 + (x1 - x0) * (i + 1) / steps
        base = pts.GetNumberOfPoints()
        for x, y in ((xa, y0), (xb, y0), (xb, y1), (xa, y1)):
            pts.InsertNextPoint(x, y, 0.0)
        cells.InsertNextCell(4)
        for k in range(4):
            cells.InsertCellPoint(base + k)
        r, g, b = distance_color(lo + (hi - lo) * (i + 0.5) / steps)
        colors.InsertNextTuple3(r * 255, g * 255, b * 255)
    poly = vtkPolyData()
    poly.SetPoints(pts)
    poly.SetPolys(cells)
    poly.GetCellData().SetScalars(colors)
    mapper = vtkPolyDataMapper2D()
    mapper.SetInputData(poly)
    mapper.SetColorModeToDirectScalars()
    bar = vtkActor2D()
    bar.SetMapper(mapper)
    pad = 14 * u
    _add(
        plotter,
        _rect_actor(x0 - 3 * pad, 38 * u, x1 + 3 * pad, 112 * u, PANEL_BG, 0.8),
        "export_legend_bg",
    )
    _add(plotter, bar, "export_legend")
    for i, value in enumerate(np.linspace(lo, hi, 6)):
        x = x0 + (x1 - x0) * (value - lo) / (hi - lo)
        text = f"{value:g}" + (" mm" if i == 5 else "")
        tick = _line_actor([(x, y0 - 5 * u), (x, y0)], TEXT_COLOR, max(1.0, 1.5 * u))
        _add(plotter, tick, f"export_legend_tick_{i}")
        label = text_actor(text, x, y0 - 6 * u, 15 * u, justify="center")
        _add(plotter, label, f"export_legend_label_{i}")
    _add(
        plotter,
        text_actor(title, (x0 + x1) / 2, y1 + 6 * u, 17 * u, justify="center", valign="bottom"),
        "export_legend_title",
    )


def add_scale_bar(plotter: BasePlotter, px_per_mm: float, note: str = "") -> None:
    """A scale bar (mm) bottom left, above the disclaimer line."""
    u = _unit(plotter)
    w, _ = plotter.window_size
    mm = nice_scale_bar_mm(px_per_mm, 0.14 * w)
    length = mm * px_per_mm
    x0, y0 = 40 * u, 70 * u
    tick = 8 * u
    pts = [(x0, y0 + tick), (x0, y0), (x0 + length, y0), (x0 + length, y0 + tick)]
    _add(plotter, _line_actor(pts, TEXT_COLOR, max(2.0, 3 * u)), "export_scale_bar")
    label = f"{mm:g} mm" + (f"  {note}" if note else "")
    _add(plotter, text_actor(label, x0, y0 + 12 * u, 18 * u, valign="bottom"), "export_scale_text")


def add_orientation(plotter: BasePlotter, right_lps: npt.ArrayLike, up_lps: npt.ArrayLike) -> None:
    """Patient-direction letters at the middle of the four screen edges."""
    u = _unit(plotter)
    w, h = plotter.window_size
    right = np.asarray(right_lps, dtype=np.float64)
    up = np.asarray(up_lps, dtype=np.float64)
    size = 26 * u
    color = "#FFE066"
    spots = (
        (orientation_letters(right), w - 30 * u, h / 2, "right", "center"),
        (orientation_letters(-right), 30 * u, h / 2, "left", "center"),
        (orientation_letters(up), w / 2, h - 14 * u, "center", "top"),
        (orientation_letters(-up), w / 2, 150 * u, "center", "bottom"),
    )
    for i, (text, x, y, justify, valign) in enumerate(spots):
        actor = text_actor(text, x, y, size, color=color, justify=justify, valign=valign, bold=True)
        _add(plotter, actor, f"export_orientation_{i}")


def add_annotations(
    plotter: BasePlotter,
    results: Results | None,
    identity: CaseIdentity,
    view: ViewInfo,
) -> None:
    """Draw every export annotation for ``view`` onto ``plotter``.

    Parameters
    ----------
    plotter
        A pyvista plotter already holding the scene (3D or 2D view).
    results
        The analysis results (None: only label, orientation and disclaimer).
    identity
        What may be printed about the case (from
        :func:`annulusview.core.outputs.deid.case_identity`).
    view
        The view on screen (title, scale, orientation).
    """
    u = _unit(plotter)
    w, h = plotter.window_size
    res = results
    margin = 24 * u

    # header, top left: case label (never the patient's identity unless opted in)
    id_lines = identity.display_lines()
    _add(
        plotter,
        text_actor(
            "\n".join(f" {s} " for s in id_lines),
            margin,
            h - margin,
            30 * u,
            bold=True,
            background=PANEL_BG,
        ),
        "export_case_label",
    )
    info = [view.title]
    if view.subtitle:
        info.append(view.subtitle)
    if res is not None:
        contrast = "contrast CT" if res.contrast else "non-contrast CT"
        info.append(
            f"{contrast}, calcium >= {fmt(res.threshold_hu, 0, 'HU')} ({res.threshold_method})"
        )
        if res.scan is not None:
            info.append(f"cardiac phase {res.scan.phase_text}")
    info.extend(view.notes)
    if res is not None and res.landmarks_proposed:
        # Numbers on program-made landmarks: the picture says so, as the results do.
        info.append(
            f"LANDMARKS PROPOSED BY THE PROGRAM, NOT CONFIRMED ({len(res.landmarks_proposed)}):"
            " review before use"
        )
    header_h = (30 * 1.35 * len(id_lines) + 10) * u
    _add(
        plotter,
        text_actor("\n".join(info), margin, h - margin - header_h, 19 * u),
        "export_view_info",
    )

    # measurements and risk badges, top right
    if res is not None and not view.compact:
        lines = measurement_lines(res)
        size = 19 * u
        _add(
            plotter,
            text_actor(
                "\n".join(f" {s:<30}" for s in lines),
                w - margin,
                h - margin,
                size,
                justify="right",
                background=PANEL_BG,
                mono=True,
            ),
            "export_measurements",
        )
        y = h - margin - (len(lines) * size * 1.15 * 1.18 + 20 * u)
        # met criteria and indeterminate ones; "not met" is no badge (it is not "safe")
        raised = sorted(
            (f for f in res.flags if f.raised or f.status == INDETERMINATE), key=flag_rank
        )
        badge = 17 * u
        _add(
            plotter,
            text_actor("RISK RULES", w - margin, y, badge, justify="right", bold=True),
            "export_flags_title",
        )
        y -= badge * 1.6
        if res.calcium_not_assessed_reason:
            _add(
                plotter,
                text_actor(
                    " CALCIUM NOT ASSESSED: see the report ",
                    w - margin,
                    y,
                    badge,
                    justify="right",
                    background=STATUS_COLORS[(NOT_ASSESSED, None)],
                    color="#FFFFFF",
                    bold=True,
                ),
                "export_flag_calcium",
            )
            y -= badge * 1.75
        if not raised:
            _add(
                plotter,
                text_actor(
                    " no criterion met (the report lists each rule) ",
                    w - margin,
                    y,
                    badge,
                    justify="right",
                ),
                "export_flag_none",
            )
        for i, flag in enumerate(raised):
            actor = text_actor(
                flag_badge_text(flag),
                w - margin,
                y,
                badge,
                justify="right",
                background=flag_color(flag),
                background_opacity=0.95,
                color="#FFFFFF",
                bold=True,
            )
            _add(plotter, actor, f"export_flag_{i}")
            y -= badge * 1.75

    if view.legend_title and res is not None and res.lesions:
        add_legend(plotter, view.legend_title)
    if view.px_per_mm:
        add_scale_bar(plotter, view.px_per_mm)
    if view.right_lps is not None and view.up_lps is not None:
        add_orientation(plotter, view.right_lps, view.up_lps)

    # disclaimer strip along the bottom edge
    strip = 34 * u
    _add(plotter, _rect_actor(0, 0, w, strip, "#000000", 0.75), "export_disclaimer_strip")
    _add(
        plotter,
        text_actor(DISCLAIMER, w / 2, strip / 2, 15 * u, justify="center", valign="center"),
        "export_disclaimer",
    )


def legend_title(color_by: str) -> str:
    """Title of the distance legend for the colouring in use."""
    return "Calcium colour: distance " + COLOR_BY_TITLE.get(color_by, "(mm)").lower()
