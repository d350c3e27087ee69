"""The phantom's design: anatomy, lesions per case, and the landmarks that go with them.

All shapes are defined in the aortic annulus frame (clinical-model.md section 3) or, for the
mitral valve, in a mitral frame derived from it. Positions are LPS millimetres, attenuation HU.
Nothing here depends on the seed: the seed only drives the noise and the DICOM UIDs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt

from annulusview.phantom.geometry import (
    AnnulusFrame,
    FloatArray,
    ellipse_perimeter,
    ellipse_radius,
    unit,
)

CASES = ("tavr-contrast", "tavr-noncontrast", "mac", "normal", "neo-lvot")
BUILT_CASES = ("tavr-contrast", "tavr-noncontrast", "mac", "normal")
CUSP_ANGLES_DEG = {"RCC": 0.0, "LCC": 120.0, "NCC": 240.0}
COMMISSURE_ANGLES_DEG = {"RCC_LCC": 60.0, "LCC_NCC": 180.0, "NCC_RCC": 300.0}

BLUR_SIGMA_MM = 0.5
NOISE_SD_HU = 15.0
HALO_MM = 2.0  # tissue shell around each lesion: its blurred edge sees one background only


#: Height (mm) of the commissure landmarks: the tops of the crown-shaped leaflet attachment.
COMMISSURE_H_MM = 15.0
#: Rise (mm) of the scalloped sinus border from each cusp nadir to the commissures in the
#: seeded phantoms: from ``sinus_start_mm`` (1.5) up to the commissure height (15).
CROWN_SCALLOP_MM = 13.5

MS_SUPERIOR_H_MM = 3.0  # superior border of the membranous septum, above the annulus
# The membranous septum lies beneath the NCC-RCC interleaflet triangle, here a little to the NCC
# side of the commissure (300 deg).
MS_INFERIOR_THETA_DEG = 292.0


@dataclass(frozen=True)
class Materials:
    """Attenuation (HU) of each tissue for one acquisition (contrast or not)."""

    blood: float
    wall: float
    leaflet: float
    fat: float = -80.0
    soft_tissue: float = 40.0
    bone: float = 1000.0
    air: float = -1000.0


CONTRAST = Materials(blood=450.0, wall=100.0, leaflet=150.0)
NONCONTRAST = Materials(blood=40.0, wall=40.0, leaflet=40.0)


@dataclass(frozen=True)
class Anatomy:
    """Closed-form cardiac anatomy shared by every case (LPS mm).

    The annulus lumen at h = 0 is the ellipse (``a_mm``, ``b_mm``, major axis at ``phi_deg``
    from u); below it the LVOT is the same elliptic tube; above it the root bulges into three
    sinuses and blends into the round ascending aorta at the sinotubular junction (see
    :meth:`lumen_radius`). Each sinus's lower border is the crown-shaped leaflet attachment
    (:meth:`crown_height`): ``sinus_start_mm`` at the cusp nadirs (so the plane h = 0 and its
    blur neighbourhood see only the ellipse), rising by ``sinus_scallop_mm`` to the
    commissures; ``sinus_scallop_mm = 0`` is a flat border at ``sinus_start_mm`` for every
    angle (the standard cases), :data:`CROWN_SCALLOP_MM` brings the crown up to the commissure
    landmarks at :data:`COMMISSURE_H_MM` (the seeded cases).
    """

    origin: tuple[float, float, float] = (14.2, 21.7, -163.4)
    axis: tuple[float, float, float] = (-0.45, -0.35, 0.82)
    u_rotation_deg: float = 15.0  # u = projection of anterior, turned about n
    a_mm: float = 13.0
    b_mm: float = 11.0
    phi_deg: float = 30.0
    sinus_start_mm: float = 1.5
    sinus_scallop_mm: float = 0.0
    stj_mm: float = 20.0
    sinus_bulge_mm: float = 4.5
    ascending_radius_mm: float = 13.5
    root_wall_mm: float = 2.0
    lvot_wall_mm: float = 6.0
    lvot_wall_depth_mm: float = 14.0
    lvot_depth_mm: float = 30.0
    leaflet_thickness_mm: float = 0.8
    leaflet_h_mm: tuple[float, float] = (1.5, 14.0)
    leaflet_r0_mm: float = 11.5  # leaflet cone: r = r0 - slope (h - h0)
    leaflet_slope: float = 0.5
    lca_height_mm: float = 12.0
    rca_height_mm: float = 14.5
    coronary_radius_mm: float = 1.8
    coronary_length_mm: float = 42.0
    # mitral annulus: planar ellipse, anterior point at the aorto-mitral continuity
    mitral_anterior_hr_mm: tuple[float, float] = (-4.0, 26.0)  # (h, r) at theta = 180
    mitral_semi_ap_mm: float = 14.0
    mitral_semi_ic_mm: float = 17.0
    mitral_tilt: float = 0.66  # n_m = unit(0.75 n + tilt * e_mitral)
    mitral_ring_radius_mm: float = 2.5
    trigone_angle_deg: float = 35.0  # trigones at +-35 deg of the ellipse from MV_anterior

    def __post_init__(self) -> None:
        top = self.sinus_start_mm + self.sinus_scallop_mm
        if self.sinus_scallop_mm < 0 or top >= self.stj_mm:
            raise ValueError(
                f"sinus_scallop_mm {self.sinus_scallop_mm} must be >= 0 and keep the crown "
                f"(up to {top} mm) below the sinotubular junction stj_mm {self.stj_mm}"
            )

    @cached_property
    def frame(self) -> AnnulusFrame:
        n = unit(self.axis)
        anterior = np.array([0.0, -1.0, 0.0])
        u0 = unit(anterior - (anterior @ n) * n)
        v0 = np.cross(n, u0)
        t = math.radians(self.u_rotation_deg)
        u = unit(math.cos(t) * u0 + math.sin(t) * v0)
        return AnnulusFrame(np.asarray(self.origin, dtype=np.float64), n, u)

    @property
    def perimeter_mm(self) -> float:
        return ellipse_perimeter(self.a_mm, self.b_mm)

    @property
    def area_mm2(self) -> float:
        return math.pi * self.a_mm * self.b_mm

    @property
    def R_mm(self) -> float:
        """Region radius: D_perimeter / 2, also used as the hinge-circle radius."""
        return self.perimeter_mm / (2 * math.pi)

    # --- lumen radius as a function of (theta, h) --------------------------------------------
    def crown_height(self, theta_deg: npt.ArrayLike) -> FloatArray:
        """Height (mm) of the leaflet attachment at ``theta``: the sinus's lower border.

        ``b(theta) = sinus_start_mm + sinus_scallop_mm * (rho / 60)^2`` with ``rho`` the angle
        (deg, in [-60, 60)) from the nearest cusp centre (0, 120, 240): a parabolic scallop per
        cusp, lowest at the nadir (``rho = 0``: ``b = sinus_start_mm``, 1.5 mm) and pointed at
        the commissures (``rho = +-60``: ``b = sinus_start_mm + sinus_scallop_mm``, 15 mm with
        :data:`CROWN_SCALLOP_MM`). For example ``rho = 40`` gives ``1.5 + 13.5 * 4 / 9 = 7.5``.
        """
        theta = np.asarray(theta_deg, dtype=np.float64)
        rho = (theta + 60.0) % 120.0 - 60.0
        return np.asarray(self.sinus_start_mm + self.sinus_scallop_mm * (rho / 60.0) ** 2)

    def lumen_radius(self, theta_deg: npt.ArrayLike, h_mm: npt.ArrayLike) -> FloatArray:
        """Radius (mm) of the aortic lumen at ``(theta, h)`` for ``h >= -lvot_depth``.

        With ``h0 = sinus_start_mm``, ``h1 = stj_mm``, ``ell`` the annulus ellipse's radius at
        theta and ``rho`` the angle from the nearest cusp centre:

        - ``h <= h0``: ``ell`` (LVOT and annulus);
        - above: ``base + bulge``. ``base = (1 - s(t)) ell + s(t) ascending_radius_mm`` with
          ``t = clip((h - h0) / (h1 - h0), 0, 1)`` and the smoothstep ``s(t) = t^2 (3 - 2t)``;
          ``bulge = sinus_bulge_mm sin^2(pi t_b) cos^2(1.5 rho)`` with
          ``t_b = clip((h - b) / (h1 - b), 0, 1)`` and ``b = crown_height(theta)``: at each
          angle the sinus runs from its lower border b up to the STJ, deepest over the cusp
          centres and nil at the commissures. No bulge below the crown (``t_b = 0``); with a
          flat border (``sinus_scallop_mm = 0``) ``t_b = t``.
        """
        theta = np.asarray(theta_deg, dtype=np.float64)
        h = np.asarray(h_mm, dtype=np.float64)
        ell = ellipse_radius(theta, self.a_mm, self.b_mm, self.phi_deg)
        h0, h1 = self.sinus_start_mm, self.stj_mm
        t = np.clip((h - h0) / (h1 - h0), 0.0, 1.0)
        blend = t * t * (3 - 2 * t)
        base = (1 - blend) * ell + blend * self.ascending_radius_mm
        rel = (theta + 60.0) % 120.0 - 60.0  # angle from the nearest cusp centre
        lobe = np.cos(np.radians(1.5 * rel)) ** 2
        border = self.crown_height(theta)
        t_b = np.clip((h - border) / (h1 - border), 0.0, 1.0)
        bulge = self.sinus_bulge_mm * np.sin(np.pi * t_b) ** 2 * lobe
        return np.asarray(np.where(h <= h0, ell, base + bulge), dtype=np.float64)

    def wall_thickness(self, h_mm: npt.ArrayLike) -> FloatArray:
        """Wall thickness (mm): thick septal LVOT wall below, thin aortic wall above."""
        h = np.asarray(h_mm, dtype=np.float64)
        t = np.clip((h - 3.0) / 5.0, 0.0, 1.0)
        return np.asarray(self.lvot_wall_mm + t * (self.root_wall_mm - self.lvot_wall_mm))

    def leaflet_radius(self, h_mm: npt.ArrayLike, theta_deg: npt.ArrayLike = 0.0) -> FloatArray:
        """Radius (mm) of the leaflet surface at ``(theta, h)``.

        Every meridian of a leaflet starts on the crown (its attachment, at
        ``b = crown_height(theta)``) at ``leaflet_r0_mm`` and runs inward as the cone
        generator ``r = leaflet_r0_mm - leaflet_slope (h - b)`` up to the free edge at
        ``leaflet_h_mm[1]``. At the nadirs (and everywhere with a flat border) ``b`` is
        ``leaflet_h_mm[0]`` = ``sinus_start_mm``: the plain cone.
        """
        h = np.asarray(h_mm, dtype=np.float64)
        border = np.maximum(self.crown_height(theta_deg), self.leaflet_h_mm[0])
        return np.asarray(self.leaflet_r0_mm - self.leaflet_slope * (h - border))

    # --- mitral --------------------------------------------------------------------------------
    @cached_property
    def mitral(self) -> MitralGeometry:
        f = self.frame
        e = f.direction(180.0)
        n_m = unit(0.75 * f.n + self.mitral_tilt * e)
        h, r = self.mitral_anterior_hr_mm
        anterior = f.point(h, r, 180.0)
        e_ap = unit(e - (e @ n_m) * n_m)
        e_ic = np.cross(n_m, e_ap)
        if e_ic[0] < 0:  # +e_ic toward the patient's left: the anterolateral side
            e_ic = -e_ic
        centre = anterior + self.mitral_semi_ap_mm * e_ap
        return MitralGeometry(
            centre, n_m, e_ap, e_ic, self.mitral_semi_ap_mm, self.mitral_semi_ic_mm
        )

    def landmarks(self, ms_length_mm: float) -> dict[str, FloatArray]:
        """Named landmark positions (LPS mm), rounded to 1e-4 mm as the markups file keeps them."""
        f = self.frame
        R = self.R_mm
        pts: dict[str, FloatArray] = {}
        for cusp, theta in CUSP_ANGLES_DEG.items():
            pts[f"{cusp}_hinge"] = f.point(0.0, R, theta)
        for name, theta in COMMISSURE_ANGLES_DEG.items():
            h = COMMISSURE_H_MM
            pts[f"{name}_commissure"] = f.point(h, float(self.lumen_radius(theta, h)), theta)
        for name, theta, h in (
            ("LCA_ostium", 120.0, self.lca_height_mm),
            ("RCA_ostium", 0.0, self.rca_height_mm),
        ):
            pts[name] = f.point(h, float(self.lumen_radius(theta, h)), theta)
        # Where anatomy puts them: the superior border of the membranous septum above the
        # annular plane, the inferior border (on the muscular crest) ms_length_mm below it, so
        # the infra-annular MS length is ms_length_mm (clinical-model.md section 3).
        pts["MS_superior"] = f.point(MS_SUPERIOR_H_MM, R + 1.5, MS_INFERIOR_THETA_DEG)
        pts["MS_inferior"] = f.point(-ms_length_mm, R + 1.5, MS_INFERIOR_THETA_DEG)
        m = self.mitral
        pts["MV_anterior"] = m.point(0.0)
        pts["MV_posterior"] = m.point(180.0)
        pts["MV_AL_commissure"] = m.point(90.0)
        pts["MV_PM_commissure"] = m.point(270.0)
        pts["L_trigone"] = m.point(self.trigone_angle_deg)
        pts["R_trigone"] = m.point(360.0 - self.trigone_angle_deg)
        for k in range(16):
            pts[f"MA_{k + 1:02d}"] = m.point(22.5 * k)
        return {name: np.round(p, 4) for name, p in pts.items()}


@dataclass(frozen=True, eq=False)
class MitralGeometry:
    """Planar elliptic mitral annulus (LPS mm).

    ``point(phi)`` = centre - semi_ap cos(phi) e_ap + semi_ic sin(phi) e_ic: phi = 0 is the
    anterior annulus (aorto-mitral continuity), 90 the anterolateral commissure (patient left),
    180 the posterior annulus, 270 the posteromedial commissure.
    """

    centre: FloatArray
    normal: FloatArray
    e_ap: FloatArray
    e_ic: FloatArray
    semi_ap_mm: float
    semi_ic_mm: float

    def point(self, phi_deg: float | FloatArray) -> FloatArray:
        t = np.radians(np.asarray(phi_deg, dtype=np.float64))[..., None]
        return np.asarray(
            self.centre
            - self.semi_ap_mm * np.cos(t) * self.e_ap
            + self.semi_ic_mm * np.sin(t) * self.e_ic
        )

    @property
    def perimeter_mm(self) -> float:
        return ellipse_perimeter(self.semi_ic_mm, self.semi_ap_mm)

    @property
    def area_mm2(self) -> float:
        return math.pi * self.semi_ap_mm * self.semi_ic_mm

    def dense_curve(self, count: int = 4000) -> tuple[FloatArray, FloatArray, FloatArray]:
        """``(phi_deg, points, cumulative arc length)`` along the whole closed annulus."""
        phi = np.linspace(0.0, 360.0, count + 1)
        pts = self.point(phi)
        seg = np.linalg.norm(np.diff(pts, axis=0), axis=1)
        return phi, pts, np.concatenate([[0.0], np.cumsum(seg)])


@dataclass(frozen=True)
class SphereLesion:
    """A calcium sphere inside a tissue halo, placed in annulus-frame coordinates.

    ``name`` says what it models; distractors are outside the analysis region on purpose.
    """

    name: str
    h_mm: float
    r_mm: float
    theta_deg: float
    radius_mm: float
    hu: float
    distractor: bool = False
    halo_mm: float = HALO_MM


@dataclass(frozen=True)
class MacArc:
    """Mitral annular calcification: a tube of calcium along an arc of the annulus curve.

    The arc starts at the annulus angle ``start_phi_deg`` (a trigone) and runs toward
    increasing phi for ``extent_deg`` degrees of the curve's arc length; its ends are
    hemispherical caps (the set of points within ``radius_mm`` of the arc).
    """

    start_phi_deg: float
    extent_deg: float
    radius_mm: float
    hu: float
    halo_mm: float = HALO_MM


@dataclass(frozen=True)
class CaseSpec:
    """What makes one case: acquisition, MS length, lesions."""

    name: str
    contrast: bool
    ms_length_mm: float
    lesions: tuple[SphereLesion, ...]
    mac: MacArc | None = None
    description: str = ""

    @property
    def materials(self) -> Materials:
        return CONTRAST if self.contrast else NONCONTRAST


ANATOMY = Anatomy()


def _distractors(contrast: bool) -> tuple[SphereLesion, ...]:
    # Coronary calcification on the RCA, well outside r <= R + 12.
    rca_axis_h = ANATOMY.rca_height_mm + ANATOMY.coronary_radius_mm
    return (
        SphereLesion(
            "RCA coronary calcification (outside the analysis region)",
            rca_axis_h,
            32.0,
            0.0,
            1.5,
            900.0 if contrast else 600.0,
            distractor=True,
        ),
    )


def case_spec(case: str) -> CaseSpec:
    """The design of ``case`` (one of :data:`BUILT_CASES`)."""
    lesions: tuple[SphereLesion, ...]
    if case == "tavr-contrast":
        lesions = (
            SphereLesion("LCC leaflet nodule", 8.0, 8.25, 120.0, 2.5, 1100.0),
            SphereLesion(
                "RCC annulus nodule protruding into the lumen",
                0.0,
                8.8,
                0.0,
                1.6,
                1100.0,
                halo_mm=2.5,
            ),
            SphereLesion("NCC LVOT calcium in the conduction zone", -6.0, 13.2, 284.5, 2.3, 1000.0),
            SphereLesion(
                "RCC LVOT calcium below the RCC hinge (inside the v2 conduction zone)",
                -6.0,
                13.2,
                352.0,
                1.9,
                1000.0,
            ),
        )
        return CaseSpec(
            case,
            True,
            4.0,
            lesions + _distractors(True),
            description="Contrast TAVR CT: leaflet, protruding annulus and LVOT calcium",
        )
    if case == "tavr-noncontrast":
        lesions = (
            SphereLesion("RCC leaflet calcification", 10.5, 9.25, 0.0, 5.8, 480.0),
            SphereLesion("LCC leaflet calcification", 10.5, 9.25, 120.0, 5.8, 520.0),
            SphereLesion("NCC leaflet calcification", 10.5, 9.25, 240.0, 5.8, 500.0),
            SphereLesion(
                "NCC LVOT calcium away from the conduction zone", -6.0, 13.2, 230.0, 1.2, 600.0
            ),
        )
        return CaseSpec(
            case,
            False,
            2.5,
            lesions + _distractors(False),
            description="Non-contrast calcium-score CT: heavily calcified leaflets",
        )
    if case == "mac":
        lesions = (SphereLesion("NCC leaflet nodule (mild)", 8.0, 8.25, 240.0, 1.8, 1000.0),)
        return CaseSpec(
            case,
            True,
            5.0,
            lesions + _distractors(True),
            mac=MacArc(ANATOMY.trigone_angle_deg, 200.0, 3.0, 1000.0),
            description="Contrast CT with posterior mitral annular calcification",
        )
    if case == "normal":
        return CaseSpec(
            case, True, 8.0, _distractors(True), description="Contrast CT without valve calcium"
        )
    raise ValueError(f"unknown or unbuilt phantom case {case!r}")
