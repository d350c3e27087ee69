"""The annulus-plane and LVOT long-axis views of the window: their planes and overlays.

The planes come from :mod:`annulusview.core.reformat` (shared with the exported pictures); the
overlays show the measured contour and numbers, the conduction zone and the annulus plane.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from annulusview.app.slice_view import ObliqueSource, Overlay, SliceView
from annulusview.core.aortic.regions import RegionGeometry
from annulusview.core.presentation import fmt
from annulusview.core.reformat import annulus_view_plane, view_plane
from annulusview.core.results import Results
from annulusview.core.volume import Volume
from annulusview.scene import geometry


def update_oblique_views(
    views: Mapping[str, SliceView],
    volume: Volume | None,
    geom: RegionGeometry | None,
    results: Results | None,
) -> None:
    """Point the annulus and LVOT views at the planes of ``geom`` (the same planes the
    exported pictures use) and draw their overlays; clear them without a geometry."""
    if volume is None or geom is None:
        for name in ("annulus", "lvot"):
            views[name].set_source(None)
        return
    keep = views["annulus"].source is not None
    for name in ("annulus", "lvot"):
        plane = view_plane(name, geom, volume)
        source = ObliqueSource(
            volume,
            name,
            plane.origin,
            plane.right,
            plane.down,
            size_mm=plane.size_mm,
            pixel_mm=plane.pixel_mm,
        )
        views[name].set_source(source, keep_index=keep)
    _overlays(views, geom, results)


def _overlays(
    views: Mapping[str, SliceView], geom: RegionGeometry, results: Results | None
) -> None:
    res = results
    contour = geometry.annulus_contour_points(res, geom)
    ann_overlay = Overlay()
    if contour is not None:
        ann_overlay.polylines.append((contour, "#FFFFFF"))
    if res is not None:
        a = res.annulus
        ann_overlay.text = [
            f"Perimeter {fmt(a.perimeter_mm, 1, 'mm')}  Area {fmt(a.area_mm2, 0, 'mm2')}",
            f"Dmin {fmt(a.d_min_mm)}  Dmax {fmt(a.d_max_mm, 1, 'mm')}",
            f"Dperim {fmt(a.d_perimeter_mm)}  Darea {fmt(a.d_area_mm, 1, 'mm')}",
        ]
    else:
        ann_overlay.text = [
            f"Hinge circle Ø {fmt(2 * geom.annulus_radius_mm, 1, 'mm')} (no analysis yet)"
        ]
    views["annulus"].overlay = ann_overlay
    frame = geom.frame
    t0 = geom.conduction_angle_deg
    (h_lo, h_hi), (r_lo, r_hi) = geom.conduction_h_range_mm, geom.conduction_rho_range_mm
    corners = [
        frame.to_lps(h, r, t0) for r, h in ((r_lo, h_lo), (r_hi, h_lo), (r_hi, h_hi), (r_lo, h_hi))
    ]
    lvot_overlay = Overlay()
    lvot_overlay.polylines.append((np.array(corners), "#EE7733"))
    width = geom.annulus_radius_mm + 5.0
    plane = [frame.to_lps(0.0, width, t) for t in (t0, t0 + 180.0)]
    lvot_overlay.polylines.append((np.array(plane), "#FFFFFF"))
    lvot_overlay.text = ["orange: conduction zone, white: annulus plane"]
    if res is not None and res.ms_length_mm is not None:
        lvot_overlay.text.append(f"MS length {fmt(res.ms_length_mm, 1, 'mm')}")
    views["lvot"].overlay = lvot_overlay
    for name in ("annulus", "lvot"):
        views[name].update()


#: The measured root planes (clinical-model.md 4.2): key, title, the height key in its values,
#: the height shown when the plane was not found, and the contour colour.
ROOT_PLANES = (
    ("lvot", "LVOT (h = -4 mm)", "level_mm", -4.0, "#44AAFF"),
    ("sinus", "Sinus of Valsalva (largest section)", "height_mm", 12.0, "#88CCEE"),
    ("stj", "Sinotubular junction (smallest section)", "height_mm", 20.0, "#CCBB44"),
    ("ascending", "Ascending aorta (h = +40 mm)", "level_mm", 40.0, "#DDDDDD"),
)


class RootPlanesView(QWidget):
    """The LVOT, sinus, STJ and ascending-aorta planes, each with its measured lumen contour
    and numbers, so every root number can be checked against the image it came from."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plane_box = QComboBox()
        self.plane_box.setObjectName("root-plane")
        for _key, title, *_ in ROOT_PLANES:
            self.plane_box.addItem(title)
        self.plane_box.setToolTip("Plane parallel to the annulus, with its measured contour")
        # the longest title must not widen the window's minimum size
        self.plane_box.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.plane_box.setMinimumContentsLength(10)
        self.view = SliceView("root plane")
        top = QHBoxLayout()
        top.setContentsMargins(2, 2, 2, 0)
        top.addWidget(QLabel("Plane"))
        top.addWidget(self.plane_box, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.view, 1)
        self._inputs: tuple[Volume | None, RegionGeometry | None, Results | None] = (
            None,
            None,
            None,
        )
        self.plane_box.currentIndexChanged.connect(lambda _i: self._show())

    @property
    def plane_key(self) -> str:
        return ROOT_PLANES[max(0, self.plane_box.currentIndex())][0]

    def update_planes(
        self, volume: Volume | None, geom: RegionGeometry | None, results: Results | None
    ) -> None:
        """Follow the study: the chosen plane of the current results (cleared without them)."""
        self._inputs = (volume, geom, results)
        self._show()

    def select(self, key: str) -> None:
        """Show the plane ``key`` (``lvot``, ``sinus``, ``stj``, ``ascending``)."""
        keys = [k for k, *_ in ROOT_PLANES]
        self.plane_box.setCurrentIndex(keys.index(key))

    def _show(self) -> None:
        volume, geom, res = self._inputs
        if volume is None or geom is None:
            self.view.set_source(None)
            return
        key, title, height_key, default_h, colour = ROOT_PLANES[
            max(0, self.plane_box.currentIndex())
        ]
        root = None if res is None else res.root
        part = None if root is None else getattr(root, key)
        height = None if part is None else part.values.get(height_key)
        h = default_h if height is None else float(height)
        frame = geom.frame
        plane = annulus_view_plane(frame)
        origin = np.asarray(frame.origin_lps) + h * np.asarray(frame.normal_lps)
        source = ObliqueSource(
            volume, f"root-{key}", origin, plane.right, plane.down, size_mm=70.0,
            pixel_mm=0.25, half_depth_mm=5.0,
        )  # fmt: skip
        self.view.set_source(source)
        overlay = Overlay()
        if part is not None and part.contour is not None:
            contour = part.contour
            overlay.polylines.append((np.asarray(contour.contour_lps), colour))
            if key == "sinus":
                # each cusp's sinus-to-commissure chord through O, as it was measured
                for theta in frame.hinge_angles_deg.values():
                    ends = [
                        frame.to_lps(h, contour.radius_at(t), t) for t in (theta, theta + 180.0)
                    ]
                    overlay.polylines.append((np.asarray(ends), colour))
        overlay.text = [f"{title}, h = {h:+.1f} mm"]
        if part is None:
            overlay.text.append("no analysis yet")
        elif part.status != "measured":
            overlay.text.append(f"not measured: {part.reason}")
        else:
            overlay.text.append(_root_numbers(key, part.values))
        self.view.overlay = overlay
        self.view.update()


def _root_numbers(key: str, values: Mapping[str, object]) -> str:
    """One line of the plane's numbers, as the report prints them."""
    if key == "lvot":
        return (
            f"Area {fmt(values.get('area_mm2'), 0, 'mm2')}  Perim "
            f"{fmt(values.get('perimeter_mm'), 1, 'mm')}  D {fmt(values.get('d_min_mm'))} / "
            f"{fmt(values.get('d_max_mm'), 1, 'mm')}"
        )
    if key == "sinus":
        d = values.get("diameter_mm") or {}
        assert isinstance(d, Mapping)
        return f"Area {fmt(values.get('area_mm2'), 0, 'mm2')}  " + "  ".join(
            f"{cusp} {fmt(v, 1, 'mm')}" for cusp, v in d.items()
        )
    return (
        f"D {fmt(values.get('diameter_mm'), 1, 'mm')} (area-derived)  Area "
        f"{fmt(values.get('area_mm2'), 0, 'mm2')}"
    )
