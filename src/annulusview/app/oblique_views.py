"""The annulus-plane and LVOT long-axis views of the window: their planes and overlays.

The planes come from :mod:`annulusview.core.reformat` (shared with the exported pictures); the
overlays show the measured contour and numbers, the conduction zone and the annulus plane.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from annulusview.app.slice_view import ObliqueSource, Overlay, SliceView
from annulusview.core.aortic.regions import RegionGeometry
from annulusview.core.presentation import fmt
from annulusview.core.reformat import view_plane
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
