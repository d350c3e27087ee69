"""Aortic regions in the annulus frame and closed-form distances to them (section 6).

``leaflet``, ``annulus`` and ``lvot`` are disjoint slabs of the cylinder ``r <= R + 5``;
``conduction`` is a sector from the inferior border of the membranous septum to just past the
right-coronary hinge, 10 mm deep from there, that overlaps ``annulus``/``lvot`` on purpose (the
conduction axis emerges at the inferior border of the membranous septum and the left bundle
runs down the septal LVOT a few mm from the RCC hinge). A lesion's ``region`` is therefore
chosen among the disjoint three (else ``other``); its conduction share still shows in
``volume_by_region_mm3`` and in ``distance_to_conduction_mm``.

Distances are exact per voxel centre, worked out in cylindrical coordinates, so no distance
transform over the volume is needed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from annulusview.core.aortic.frame import AnnulusFrame
from annulusview.core.arrays import BoolArray, FloatArray
from annulusview.core.errors import LandmarkError
from annulusview.core.landmarks import Landmarks
from annulusview.core.rules import Rules, default_rules

DISJOINT_REGIONS = ("leaflet", "annulus", "lvot")
REGIONS = (*DISJOINT_REGIONS, "conduction")
OTHER = "other"


@dataclass(frozen=True, eq=False)
class RegionGeometry:
    """Region bounds in the annulus frame, mm and degrees.

    Attributes
    ----------
    frame
        The annulus frame the bounds live in (positions in LPS go through it).
    annulus_radius_mm
        ``R``: D_perimeter / 2 of the measured annulus, else the hinge-circle radius.
    conduction_theta_start_deg, conduction_theta_span_deg
        The conduction sector, counter-clockwise from its start (section 6): from 20 degrees
        before ``MS_inferior`` (else the NCC-RCC commissure) to 10 degrees past the RCC hinge,
        along the side that does not pass the LCC hinge.
    conduction_h_top_mm, conduction_depth_mm
        The zone runs from ``h_top = min(0, h(MS_inferior) + 1)`` down by the depth (10 mm).
    conduction_estimated
        True when ``MS_inferior`` was not placed (the zone starts at the commissure, h_top 0).
    radius_table_mm
        ``R(theta)`` every degree from the measured lumen contour, or None (then ``R``).
    """

    frame: AnnulusFrame
    annulus_radius_mm: float
    radial_margin_mm: float
    leaflet_h_min_mm: float
    leaflet_h_max_mm: float
    annulus_half_height_mm: float
    lvot_h_min_mm: float
    conduction_theta_start_deg: float
    conduction_theta_span_deg: float
    conduction_h_top_mm: float
    conduction_depth_mm: float
    conduction_r_inner_mm: float
    conduction_r_outer_mm: float
    conduction_estimated: bool
    radius_table_mm: FloatArray | None = None

    def radius_at(self, theta_deg: npt.ArrayLike) -> FloatArray:
        """``R(theta)``: the contour's radius at each angle (``R`` without a contour), mm."""
        theta = np.asarray(theta_deg, dtype=np.float64)
        if self.radius_table_mm is None:
            return np.full(theta.shape, self.annulus_radius_mm)
        table = self.radius_table_mm
        angles = np.arange(len(table)) * 360.0 / len(table)
        return np.interp(theta, angles, table, period=360.0)

    @classmethod
    def from_rules(
        cls,
        rules: Rules,
        annulus_radius_mm: float,
        frame: AnnulusFrame,
        landmarks: Landmarks,
        radius_table_mm: FloatArray | None = None,
    ) -> RegionGeometry:
        """Region bounds from ``rules.regions`` with ``R``, the frame and ``MS_inferior``."""
        ms_inferior = landmarks.get("MS_inferior")
        if ms_inferior is not None:
            h_inf, _, theta_c = (float(x) for x in frame.cylindrical(ms_inferior))
            h_top = min(0.0, h_inf + rules.number("regions.conduction_top_offset_mm"))
        else:
            theta_c = float(frame.commissure_angles_deg["NCC_RCC_commissure"])
            h_top = 0.0
        before = rules.number("regions.conduction_before_deg")
        past = rules.number("regions.conduction_past_rcc_deg")
        rcc = float(frame.hinge_angles_deg["RCC_hinge"])
        lcc = float(frame.hinge_angles_deg["LCC_hinge"])
        if (lcc - theta_c) % 360.0 > (rcc - theta_c) % 360.0:
            # counter-clockwise from theta_c the RCC hinge comes before the LCC hinge
            start, end = theta_c - before, rcc + past
        else:
            start, end = rcc - past, theta_c + before
        return cls(
            frame=frame,
            annulus_radius_mm=float(annulus_radius_mm),
            radial_margin_mm=rules.number("regions.radial_margin_mm"),
            leaflet_h_min_mm=rules.number("regions.leaflet_h_min_mm"),
            leaflet_h_max_mm=rules.number("regions.leaflet_h_max_mm"),
            annulus_half_height_mm=rules.number("regions.annulus_half_height_mm"),
            lvot_h_min_mm=rules.number("regions.lvot_h_min_mm"),
            conduction_theta_start_deg=start % 360.0,
            conduction_theta_span_deg=(end - start) % 360.0,
            conduction_h_top_mm=h_top,
            conduction_depth_mm=rules.number("regions.conduction_depth_mm"),
            conduction_r_inner_mm=rules.number("regions.conduction_r_inner_mm"),
            conduction_r_outer_mm=rules.number("regions.conduction_r_outer_mm"),
            conduction_estimated=ms_inferior is None,
            radius_table_mm=radius_table_mm,
        )

    @property
    def conduction_angle_deg(self) -> float:
        """Centre of the conduction sector, degrees."""
        return (self.conduction_theta_start_deg + self.conduction_theta_span_deg / 2.0) % 360.0

    @property
    def conduction_half_angle_deg(self) -> float:
        return self.conduction_theta_span_deg / 2.0

    @classmethod
    def preview(cls, landmarks: Landmarks, rules: Rules | None = None) -> RegionGeometry | None:
        """The regions as far as the landmarks alone define them (before any analysis): the
        hinge-circle radius stands in for ``R``. None without a usable hinge triangle."""
        try:
            frame = AnnulusFrame.from_landmarks(landmarks)
        except LandmarkError:
            return None
        return cls.from_rules(rules or default_rules(), frame.hinge_radius_mm, frame, landmarks)

    # Derived bounds, in one place so masks and distances cannot disagree.
    @property
    def r_max_mm(self) -> float:
        return self.annulus_radius_mm + self.radial_margin_mm

    @property
    def lvot_h_max_mm(self) -> float:
        return -self.annulus_half_height_mm

    @property
    def conduction_h_min_mm(self) -> float:
        return self.conduction_h_top_mm - self.conduction_depth_mm

    @property
    def conduction_rho_range_mm(self) -> tuple[float, float]:
        return (
            max(0.0, self.annulus_radius_mm - self.conduction_r_inner_mm),
            self.annulus_radius_mm + self.conduction_r_outer_mm,
        )

    @property
    def lvot_r_range_mm(self) -> tuple[float, float]:
        return (0.0, self.r_max_mm)

    @property
    def conduction_theta_range_deg(self) -> tuple[float, float]:
        return (
            self.conduction_angle_deg - self.conduction_half_angle_deg,
            self.conduction_angle_deg + self.conduction_half_angle_deg,
        )

    @property
    def conduction_h_range_mm(self) -> tuple[float, float]:
        return (self.conduction_h_min_mm, self.conduction_h_top_mm)

    def conduction_centre_lps(self) -> FloatArray:
        """A point in the middle of the conduction zone (for labels and views)."""
        rho_lo, rho_hi = self.conduction_rho_range_mm
        h_mid = (self.conduction_h_min_mm + self.conduction_h_top_mm) / 2.0
        return self.frame.to_lps(h_mid, (rho_lo + rho_hi) / 2.0, self.conduction_angle_deg)

    def hinge_circle_lps(self, n: int = 96, radius_mm: float | None = None) -> FloatArray:
        """``n`` points of the circle of radius ``R`` (or ``radius_mm``) in the annulus plane."""
        theta = np.linspace(0.0, 360.0, n + 1)[:-1]
        radius = self.annulus_radius_mm if radius_mm is None else radius_mm
        return self.frame.to_lps(np.zeros_like(theta), np.full_like(theta, radius), theta)

    def masks(self, h: FloatArray, r: FloatArray, theta_deg: FloatArray) -> dict[str, BoolArray]:
        """Membership of each point in each region (same shape as the inputs)."""
        in_radius = r <= self.r_max_mm
        half = self.annulus_half_height_mm
        rho_lo, rho_hi = self.conduction_rho_range_mm
        return {
            "leaflet": in_radius & (h > self.leaflet_h_min_mm) & (h <= self.leaflet_h_max_mm),
            "annulus": in_radius & (h >= -half) & (h <= half),
            "lvot": in_radius & (h >= self.lvot_h_min_mm) & (h < -half),
            "conduction": (self.angle_outside_conduction_deg(theta_deg) == 0.0)
            & (h >= self.conduction_h_min_mm)
            & (h <= self.conduction_h_top_mm)
            & (r >= rho_lo)
            & (r <= rho_hi),
        }

    def angle_outside_conduction_deg(self, theta_deg: FloatArray) -> FloatArray:
        """Angular distance from the conduction sector (0 inside), degrees in [0, 180]."""
        off = np.abs((np.asarray(theta_deg) - self.conduction_angle_deg + 180.0) % 360.0 - 180.0)
        return np.maximum(0.0, off - self.conduction_half_angle_deg)

    def distance_to_lvot(
        self, h: FloatArray, r: FloatArray
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Distance (mm) to the LVOT slab and the closest point's ``(h*, r*)`` (same theta).

        The slab is the solid cylinder ``r <= R + 5``, ``lvot_h_min <= h <= -2``; its closest
        point clamps h and r independently, so ``d = hypot(max(0, r - (R+5)),
        max(0, h_min - h, h - h_max))``.
        """
        h_star = np.clip(h, self.lvot_h_min_mm, self.lvot_h_max_mm)
        r_star = np.minimum(r, self.r_max_mm)
        return np.hypot(r - r_star, h - h_star), h_star, r_star

    def distance_to_conduction(
        self, h: FloatArray, r: FloatArray, theta_deg: FloatArray
    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """Distance (mm) to the conduction wedge and the closest point ``(h*, rho*, theta*)``.

        The closest point lies on the nearer edge half-plane of the sector (or at the point's
        own angle inside it). With ``dtheta`` the angle outside the sector, the point projects
        onto that half-plane at radius ``r cos(dtheta)``; clamping to the wedge's radial and
        height ranges gives ``rho*``, ``h*`` and
        ``d^2 = r^2 + rho*^2 - 2 r rho* cos(dtheta) + (h - h*)^2`` (law of cosines).
        """
        theta = np.asarray(theta_deg, dtype=np.float64)
        dtheta = self.angle_outside_conduction_deg(theta)
        rad = np.radians(dtheta)
        rho_lo, rho_hi = self.conduction_rho_range_mm
        rho_star = np.clip(r * np.cos(rad), rho_lo, rho_hi)
        h_star = np.clip(h, self.conduction_h_min_mm, self.conduction_h_top_mm)
        d2 = r * r + rho_star * rho_star - 2.0 * r * rho_star * np.cos(rad) + (h - h_star) ** 2
        # Edge angle toward the point: step back by dtheta toward the sector centre.
        signed = (theta - self.conduction_angle_deg + 180.0) % 360.0 - 180.0
        theta_star = (theta - np.sign(signed) * dtheta) % 360.0
        return np.sqrt(np.maximum(d2, 0.0)), h_star, rho_star, theta_star

    def to_dict(self) -> dict[str, object]:
        """The region definitions with R and L filled in (recorded in ``parameters``)."""
        rho_lo, rho_hi = self.conduction_rho_range_mm
        return {
            "annulus_radius_mm": self.annulus_radius_mm,
            "leaflet": {
                "h_gt_mm": self.leaflet_h_min_mm,
                "h_le_mm": self.leaflet_h_max_mm,
                "r_le_mm": self.r_max_mm,
            },
            "annulus": {
                "h_ge_mm": -self.annulus_half_height_mm,
                "h_le_mm": self.annulus_half_height_mm,
                "r_le_mm": self.r_max_mm,
            },
            "lvot": {
                "h_ge_mm": self.lvot_h_min_mm,
                "h_lt_mm": self.lvot_h_max_mm,
                "r_le_mm": self.r_max_mm,
            },
            "conduction": {
                "theta_start_deg": self.conduction_theta_start_deg,
                "theta_span_deg": self.conduction_theta_span_deg,
                "theta_center_deg": self.conduction_angle_deg,
                "theta_half_width_deg": self.conduction_half_angle_deg,
                "h_ge_mm": self.conduction_h_min_mm,
                "h_le_mm": self.conduction_h_top_mm,
                "estimated": self.conduction_estimated,
                "anchor": "MS_inferior" if not self.conduction_estimated else "NCC-RCC commissure",
                "r_ge_mm": rho_lo,
                "r_le_mm": rho_hi,
            },
            "region_assignment": (
                "A lesion's 'region' is the largest share among the disjoint regions leaflet, "
                "annulus and lvot, else 'other'. 'conduction' overlaps annulus and lvot on "
                "purpose; it is reported in volume_by_region_mm3, calcium.by_region and "
                "distance_to_conduction_mm, never as a lesion's region."
            ),
        }


def largest_share(shares: Mapping[str, float], default: str) -> str:
    """The key with the largest positive value (first wins on ties), else ``default``."""
    best, best_value = default, 0.0
    for key, value in shares.items():
        if value > best_value:
            best, best_value = key, value
    return best
