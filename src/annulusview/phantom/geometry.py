"""Closed-form geometry behind the phantom: the annulus frame, the ellipse, blurred shapes.

Everything here is pure numpy/scipy and is used twice: to draw the phantom and to write its
truth, so the two cannot disagree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import optimize, special, stats

from annulusview.core.arrays import FloatArray


def unit(vector: npt.ArrayLike) -> FloatArray:
    """``vector`` scaled to length 1."""
    arr = np.asarray(vector, dtype=np.float64)
    return arr / float(np.linalg.norm(arr))


@dataclass(frozen=True, eq=False)
class AnnulusFrame:
    """The aortic annulus frame of clinical-model.md section 3 (LPS mm).

    Attributes
    ----------
    origin
        ``O``, centre of the hinge circle, LPS mm.
    n
        Unit valve axis, from the ventricle toward the ascending aorta.
    u
        Unit vector in the annulus plane toward the RCC hinge (theta = 0).
    """

    origin: FloatArray
    n: FloatArray
    u: FloatArray

    @property
    def v(self) -> FloatArray:
        """``n x u`` (theta = 90 deg)."""
        return np.cross(self.n, self.u)

    def direction(self, theta_deg: float | FloatArray) -> FloatArray:
        """In-plane unit vector(s) at ``theta_deg``, shape (..., 3)."""
        t = np.radians(np.asarray(theta_deg, dtype=np.float64))[..., None]
        return np.cos(t) * self.u + np.sin(t) * self.v

    def point(self, h_mm: float, r_mm: float, theta_deg: float) -> FloatArray:
        """LPS position of the cylindrical coordinates ``(h, r, theta)``."""
        return self.origin + h_mm * self.n + r_mm * self.direction(theta_deg)

    def cylindrical(
        self, x: npt.ArrayLike, y: npt.ArrayLike, z: npt.ArrayLike
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """``(h, r, theta_deg)`` of broadcastable LPS coordinate arrays ``x, y, z`` (mm)."""
        dx = np.asarray(x, dtype=np.float64) - self.origin[0]
        dy = np.asarray(y, dtype=np.float64) - self.origin[1]
        dz = np.asarray(z, dtype=np.float64) - self.origin[2]
        h = dx * self.n[0] + dy * self.n[1] + dz * self.n[2]
        pu = dx * self.u[0] + dy * self.u[1] + dz * self.u[2]
        v = self.v
        pv = dx * v[0] + dy * v[1] + dz * v[2]
        r = np.hypot(pu, pv)
        theta = np.degrees(np.arctan2(pv, pu)) % 360.0
        return h, r, theta


def ellipse_radius(
    theta_deg: npt.ArrayLike, a_mm: float, b_mm: float, phi_deg: float
) -> FloatArray:
    """Distance from the centre to an ellipse (semi-axes ``a >= b``, major axis at ``phi``)."""
    t = np.radians(np.asarray(theta_deg, dtype=np.float64) - phi_deg)
    return a_mm * b_mm / np.sqrt((b_mm * np.cos(t)) ** 2 + (a_mm * np.sin(t)) ** 2)


def ellipse_perimeter(a_mm: float, b_mm: float) -> float:
    """Exact perimeter ``4 a E(m)``, ``m = 1 - b^2/a^2`` (complete elliptic integral, mm)."""
    big, small = max(a_mm, b_mm), min(a_mm, b_mm)
    return float(4.0 * big * special.ellipe(1.0 - (small / big) ** 2))


def blurred_ball_profile(r_mm: npt.ArrayLike, radius_mm: float, sigma_mm: float) -> FloatArray:
    """Fraction of a unit ball of ``radius_mm`` seen at distance ``r_mm`` after a 3-D gaussian.

    ``f(r) = 0.5 [erf((a-r)/(s sqrt2)) + erf((a+r)/(s sqrt2))]
    - s/(r sqrt(2 pi)) [exp(-(a-r)^2/2s^2) - exp(-(a+r)^2/2s^2)]``, with its limit at r = 0.
    """
    r = np.abs(np.asarray(r_mm, dtype=np.float64))
    a, s = float(radius_mm), float(sigma_mm)
    root2 = math.sqrt(2.0)
    safe = np.where(r < 1e-9, 1.0, r)
    value = 0.5 * (special.erf((a - r) / (s * root2)) + special.erf((a + r) / (s * root2))) - (
        s / (safe * math.sqrt(2.0 * math.pi))
    ) * (np.exp(-((a - r) ** 2) / (2 * s * s)) - np.exp(-((a + r) ** 2) / (2 * s * s)))
    at_zero = special.erf(a / (s * root2)) - (2 * a / (s * math.sqrt(2 * math.pi))) * math.exp(
        -(a * a) / (2 * s * s)
    )
    return np.asarray(np.where(r < 1e-9, at_zero, value), dtype=np.float64)


def blurred_disc_profile(d_mm: npt.ArrayLike, radius_mm: float, sigma_mm: float) -> FloatArray:
    """Fraction of an infinite cylinder of ``radius_mm`` seen at distance ``d_mm`` from its axis
    after a gaussian of ``sigma_mm`` (the 2-D disc profile, a non-central chi-square cdf)."""
    d = np.asarray(d_mm, dtype=np.float64)
    s2 = sigma_mm * sigma_mm
    return np.asarray(
        stats.ncx2.cdf(radius_mm**2 / s2, 2, np.maximum(d * d, 1e-12) / s2), dtype=np.float64
    )


def _iso_level(lesion_hu: float, background_hu: float, threshold_hu: float) -> float:
    return (threshold_hu - background_hu) / (lesion_hu - background_hu)


def iso_radius_ball(
    radius_mm: float, sigma_mm: float, lesion_hu: float, background_hu: float, threshold_hu: float
) -> float:
    """Radius (mm) of the ``threshold_hu`` iso-surface of a blurred ball; 0 if never reached."""
    level = _iso_level(lesion_hu, background_hu, threshold_hu)
    if level <= 0:
        raise ValueError("threshold at or below the background: the iso-surface is unbounded")
    if float(blurred_ball_profile(0.0, radius_mm, sigma_mm)) <= level:
        return 0.0
    hi = radius_mm + 12 * sigma_mm
    return float(
        optimize.brentq(
            lambda r: float(blurred_ball_profile(r, radius_mm, sigma_mm)) - level,
            0.0,
            hi,
            xtol=1e-10,
        )
    )


def iso_radius_cylinder(
    radius_mm: float, sigma_mm: float, lesion_hu: float, background_hu: float, threshold_hu: float
) -> float:
    """Radius (mm) of the ``threshold_hu`` iso-surface of a blurred infinite cylinder."""
    level = _iso_level(lesion_hu, background_hu, threshold_hu)
    if float(blurred_disc_profile(0.0, radius_mm, sigma_mm)) <= level:
        return 0.0
    return float(
        optimize.brentq(
            lambda d: float(blurred_disc_profile(d, radius_mm, sigma_mm)) - level,
            1e-9,
            radius_mm + 12 * sigma_mm,
            xtol=1e-10,
        )
    )


def distance_to_annular_wedge(
    h_mm: float,
    r_mm: float,
    theta_deg: float,
    h_range: tuple[float, float],
    r_range: tuple[float, float],
    theta_range_deg: tuple[float, float],
) -> float:
    """Euclidean distance (mm) from a point to ``{h in h_range, r in r_range, theta in range}``.

    The set is a product of an h interval and an annular sector (< 180 deg wide) of the plane,
    so the distance splits into an axial and an in-plane part; outside the angular range the
    nearest in-plane point lies on one of the two bounding radial segments.
    """
    dh = max(h_range[0] - h_mm, 0.0, h_mm - h_range[1])
    t0, t1 = theta_range_deg
    width = (t1 - t0) % 360.0
    rel = (theta_deg - t0) % 360.0
    if rel <= width:
        dxy = max(r_range[0] - r_mm, 0.0, r_mm - r_range[1])
    else:
        p = r_mm * np.array([math.cos(math.radians(theta_deg)), math.sin(math.radians(theta_deg))])
        dxy = math.inf
        for edge in (t0, t1):
            e = np.array([math.cos(math.radians(edge)), math.sin(math.radians(edge))])
            s = min(max(float(p @ e), r_range[0]), r_range[1])
            dxy = min(dxy, float(np.linalg.norm(p - s * e)))
    return math.hypot(dh, dxy)


def distance_to_cylinder_slab(
    h_mm: float, r_mm: float, h_range: tuple[float, float], r_max_mm: float
) -> float:
    """Distance (mm) from a point to the solid cylinder ``{h in h_range, r <= r_max}``."""
    dh = max(h_range[0] - h_mm, 0.0, h_mm - h_range[1])
    return math.hypot(dh, max(0.0, r_mm - r_max_mm))


def sphere_points(center: FloatArray, radius_mm: float, count: int = 2000) -> FloatArray:
    """Near-uniform points on a sphere (Fibonacci lattice), shape (count, 3)."""
    k = np.arange(count, dtype=np.float64) + 0.5
    polar = np.arccos(1 - 2 * k / count)
    azimuth = math.pi * (1 + 5**0.5) * k
    dirs = np.stack(
        [np.cos(azimuth) * np.sin(polar), np.sin(azimuth) * np.sin(polar), np.cos(polar)], axis=-1
    )
    return np.asarray(center + radius_mm * dirs, dtype=np.float64)
