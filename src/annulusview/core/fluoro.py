"""Fluoroscopic (C-arm) planning from the annulus plane (clinical-model v2 section 9).

S-curve: all C-arm angulations that show the annulus plane edge-on. With a = LAO
(negative = RAO) and b = cranial (negative = caudal), the view direction from
:func:`annulusview.core.reformat.carm_direction` is perpendicular to the annulus
normal n when tan b = (n_y cos a - n_x sin a) / n_z.  On this curve the hinge
points project onto one line; the coplanar (three-cusp) view puts the RCC hinge
midway between LCC and NCC, the cusp-overlap view superimposes RCC and LCC.
Geometric construction only; no outcome threshold is applied here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.optimize import brentq

from annulusview.core.arrays import FloatArray
from annulusview.core.reformat import format_carm

TABLE_LAO_DEG = tuple(range(-40, 41, 5))
_SCAN_STEP_DEG = 0.5
_SCAN_RANGE_DEG = 90.0


@dataclass(frozen=True)
class FluoroView:
    lao_deg: float | None
    cranial_deg: float | None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        label = None
        if self.lao_deg is not None and self.cranial_deg is not None:
            label = format_carm(self.lao_deg, self.cranial_deg)
        return {
            "lao_deg": self.lao_deg,
            "cranial_deg": self.cranial_deg,
            "label": label,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class FluoroPlan:
    s_curve: list[tuple[float, float]]
    coplanar: FluoroView
    cusp_overlap: FluoroView
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "s_curve": [{"lao_deg": a, "cranial_deg": b} for a, b in self.s_curve],
            "three_cusp": self.coplanar.to_dict(),
            "cusp_overlap": self.cusp_overlap.to_dict(),
            "reason": self.reason,
            "method": (
                "S-curve: C-arm angles that show the annular plane edge-on (straight-axis "
                "annulus normal); three-cusp view: RCC hinge projected midway between LCC and "
                "NCC; cusp-overlap view: RCC and LCC hinges superimposed (root finding on the "
                "S-curve)"
            ),
            "convention": "LAO positive / RAO negative, cranial positive / caudal negative",
        }


def s_curve_cranial(normal: npt.ArrayLike, lao_deg: float) -> float:
    """Cranial angle (deg) on the S-curve for a given LAO angle."""
    n = np.asarray(normal, dtype=np.float64)
    a = np.radians(lao_deg)
    return float(np.degrees(np.arctan((n[1] * np.cos(a) - n[0] * np.sin(a)) / n[2])))


def _hinge_offsets(
    normal: npt.ArrayLike, hinges: dict[str, npt.ArrayLike], lao_deg: npt.ArrayLike
) -> dict[str, FloatArray]:
    """Each hinge projected on the image's in-plane axis ``w = d x n`` for the S-curve view at
    each LAO angle (vectorised over ``lao_deg``)."""
    n = np.asarray(normal, dtype=np.float64)
    n = n / np.linalg.norm(n)
    a = np.radians(np.atleast_1d(np.asarray(lao_deg, dtype=np.float64)))
    b = np.arctan((n[1] * np.cos(a) - n[0] * np.sin(a)) / n[2])
    # view direction -p, p = (sin a cos b, -cos a cos b, sin b) (clinical-model.md section 9)
    d = -np.stack([np.sin(a) * np.cos(b), -np.cos(a) * np.cos(b), np.sin(b)], axis=1)
    w = np.cross(d, n)
    w /= np.linalg.norm(w, axis=1, keepdims=True)
    return {k: w @ np.asarray(v, dtype=np.float64) for k, v in hinges.items()}


def _solve(
    f: Callable[[FloatArray], FloatArray], prefer_lao_sign: float, normal: npt.ArrayLike
) -> FluoroView:
    grid = np.arange(-_SCAN_RANGE_DEG + _SCAN_STEP_DEG, _SCAN_RANGE_DEG, _SCAN_STEP_DEG)
    vals = f(grid)

    def scalar(a: float) -> float:
        return float(f(np.array([a]))[0])

    roots: list[float] = []
    for i in range(len(grid) - 1):
        if vals[i] == 0.0:
            roots.append(float(grid[i]))
        elif vals[i] * vals[i + 1] < 0:
            roots.append(float(brentq(scalar, grid[i], grid[i + 1], xtol=1e-9)))
    if not roots:
        return FluoroView(None, None, "no solution on the S-curve within LAO/RAO 90 deg")

    def score(a: float) -> tuple[int, float]:
        b = s_curve_cranial(normal, a)
        quadrant_ok = (a * prefer_lao_sign >= 0) and b <= 0
        return (0 if quadrant_ok else 1, abs(a) + abs(b))

    best = min(roots, key=score)
    return FluoroView(best, s_curve_cranial(normal, best))


def plan_fluoro(normal: npt.ArrayLike, hinges: dict[str, npt.ArrayLike]) -> FluoroPlan:
    """S-curve table, coplanar and cusp-overlap views.

    ``hinges`` maps "RCC", "LCC", "NCC" to nadir (hinge) points in LPS mm.
    """
    n = np.asarray(normal, dtype=np.float64)
    norm = float(np.linalg.norm(n))
    missing = {"RCC", "LCC", "NCC"} - set(hinges)
    if norm == 0.0 or abs(n[2] / norm) < 1e-3:
        none = FluoroView(
            None, None, "annulus normal ~perpendicular to the patient axis: S-curve undefined"
        )
        return FluoroPlan([], none, none, none.reason)
    n = n / norm
    table = [(float(a), s_curve_cranial(n, a)) for a in TABLE_LAO_DEG]
    if missing:
        why = f"hinge points missing: {sorted(missing)}"
        nv = FluoroView(None, None, why)
        return FluoroPlan(table, nv, nv, why)

    def coplanar(a: FloatArray) -> FloatArray:
        s = _hinge_offsets(n, hinges, a)
        return s["RCC"] - 0.5 * (s["LCC"] + s["NCC"])

    def overlap(a: FloatArray) -> FloatArray:
        s = _hinge_offsets(n, hinges, a)
        return s["RCC"] - s["LCC"]

    return FluoroPlan(table, _solve(coplanar, 1.0, n), _solve(overlap, -1.0, n))
