"""The aortic annulus frame (clinical-model.md section 3) and landmark checks.

``O`` is the centre of the circle through the three hinge points, ``n`` the normal of their
plane pointing from the ventricle toward the aorta, ``u`` toward the RCC hinge and ``v = n x u``.
Every region, distance and sector of the analysis is expressed in the cylindrical coordinates
``(h, r, theta)`` of this frame.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from annulusview.core.arrays import FloatArray
from annulusview.core.errors import LandmarkError
from annulusview.core.landmarks import AORTIC_OPTIONAL, AORTIC_REQUIRED, Landmarks
from annulusview.core.rules import Rules
from annulusview.core.volume import Volume

CUSPS = ("RCC", "LCC", "NCC")
# Commissure between each cusp and the next one counter-clockwise (seen from the aorta).
COMMISSURES = ("RCC_LCC_commissure", "LCC_NCC_commissure", "NCC_RCC_commissure")
# Sector of each cusp: (start commissure, end commissure), counter-clockwise.
CUSP_SECTORS = {
    "RCC": ("NCC_RCC_commissure", "RCC_LCC_commissure"),
    "LCC": ("RCC_LCC_commissure", "LCC_NCC_commissure"),
    "NCC": ("LCC_NCC_commissure", "NCC_RCC_commissure"),
}
_NEIGHBOUR_HINGES = {
    "RCC_LCC_commissure": ("RCC_hinge", "LCC_hinge"),
    "LCC_NCC_commissure": ("LCC_hinge", "NCC_hinge"),
    "NCC_RCC_commissure": ("NCC_hinge", "RCC_hinge"),
}

# Landmark tolerances. Hinges closer than 1 mm cannot be told apart at CT resolution
# (0.3-0.6 mm voxels, landmark placement error about 1 mm); a hinge within 1 mm of the line
# through the other two defines no plane; a hinge circle wider than 40 mm radius (80 mm
# annulus) is not an aortic annulus but nearly collinear points.
HINGE_MIN_SEPARATION_MM = 1.0
HINGE_MIN_LINE_DISTANCE_MM = 1.0
HINGE_MAX_RADIUS_MM = 40.0


def circumcentre(a: FloatArray, b: FloatArray, c: FloatArray) -> FloatArray:
    """Centre of the circle through three 3-D points (in their plane), mm."""
    ac, bc = a - c, b - c
    cross = np.cross(ac, bc)
    denom = 2.0 * float(cross @ cross)
    return c + np.cross(float(ac @ ac) * bc - float(bc @ bc) * ac, cross) / denom


def check_hinges(landmarks: Landmarks) -> None:
    """Raise :class:`LandmarkError` when hinges are missing, coincident or collinear."""
    missing = landmarks.missing_aortic
    if missing:
        raise LandmarkError(
            f"Missing required landmark(s) {', '.join(missing)}.",
            "Place the three hinge points (RCC_hinge, LCC_hinge, NCC_hinge).",
        )
    pts = [np.asarray(landmarks[n], dtype=np.float64) for n in AORTIC_REQUIRED]
    for x in range(3):
        for y in range(x + 1, 3):
            dist = float(np.linalg.norm(pts[x] - pts[y]))
            if dist < HINGE_MIN_SEPARATION_MM:
                raise LandmarkError(
                    f"Hinge points {AORTIC_REQUIRED[x]} and {AORTIC_REQUIRED[y]} coincide "
                    f"({dist:.2f} mm apart, minimum {HINGE_MIN_SEPARATION_MM} mm).",
                    "Place each hinge at the nadir of its own cusp.",
                )
    for x in range(3):
        p, q, s = pts[x], pts[(x + 1) % 3], pts[(x + 2) % 3]
        line = (s - q) / np.linalg.norm(s - q)
        off = (p - q) - float((p - q) @ line) * line
        if float(np.linalg.norm(off)) < HINGE_MIN_LINE_DISTANCE_MM:
            raise LandmarkError(
                f"Hinge points are collinear: {AORTIC_REQUIRED[x]} lies within "
                f"{HINGE_MIN_LINE_DISTANCE_MM} mm of the line through the other two.",
                "The three hinges must span the annulus plane.",
            )
    radius = float(np.linalg.norm(circumcentre(*pts) - pts[0]))
    if radius > HINGE_MAX_RADIUS_MM:
        raise LandmarkError(
            f"Hinge points are nearly collinear: their circle has radius {radius:.0f} mm "
            f"(maximum {HINGE_MAX_RADIUS_MM:.0f} mm).",
            "The three hinges must span the annulus plane.",
        )


def check_landmarks(landmarks: Landmarks, volume: Volume) -> tuple[str, ...]:
    """Check the aortic landmarks against the volume; return warnings.

    Raises
    ------
    LandmarkError
        Missing, coincident or collinear hinges; an aortic landmark outside the volume.
    """
    check_hinges(landmarks)
    for name in AORTIC_REQUIRED + AORTIC_OPTIONAL:
        pos = landmarks.get(name)
        if pos is not None and not volume.contains_lps(pos):
            raise LandmarkError(
                f"Landmark {name} at LPS ({pos[0]:.1f}, {pos[1]:.1f}, {pos[2]:.1f}) mm lies "
                "outside the CT volume.",
                "Check that the landmark file belongs to this series (LPS vs RAS).",
            )
    warnings = [
        f"Unknown landmark label {name!r} was kept but not used."
        for name in landmarks.unknown_names
    ]
    if ("MS_superior" in landmarks) != ("MS_inferior" in landmarks):
        warnings.append(
            "Only one membranous septum landmark is present; MS length needs both "
            "MS_superior and MS_inferior."
        )
    return tuple(warnings)


def check_on_aortic_root(frame: AnnulusFrame, centre_hu: float | None, rules: Rules) -> None:
    """Refuse hinges that cannot lie on an adult aortic root of this study.

    Landmarks in RAS read as LPS are mirrored (x, y -> -x, -y) and may still lie inside the
    volume; every number would then describe fat, lung or bone. The bounds are the
    ``[hinge_plausibility]`` rules (plausibility bounds, with their rationale in the file).

    Parameters
    ----------
    frame
        The frame built from the hinges.
    centre_hu
        Median HU in a ``hinge_plausibility.centre_sphere_radius_mm`` sphere at ``O``; None
        when no voxel lies there (not judged).
    rules
        The rules.

    Raises
    ------
    LandmarkError
        The hinge circle's radius, or the attenuation at its centre, is not that of an aortic
        annulus.
    """
    low_r = rules.number("hinge_plausibility.radius_min_mm")
    high_r = rules.number("hinge_plausibility.radius_max_mm")
    low_hu = rules.number("hinge_plausibility.centre_min_hu")
    high_hu = rules.number("hinge_plausibility.centre_max_hu")
    radius = frame.hinge_radius_mm
    problem = ""
    if not low_r <= radius <= high_r:
        problem = (
            f"the circle through the hinges has a radius of {radius:.1f} mm, outside the "
            f"{low_r:g}-{high_r:g} mm of an adult aortic annulus"
        )
    elif centre_hu is not None and not low_hu <= centre_hu <= high_hu:
        tissue = "fat, lung or air" if centre_hu < low_hu else "bone or metal"
        sphere = rules.number("hinge_plausibility.centre_sphere_radius_mm")
        problem = (
            f"the annulus centre reads {centre_hu:.0f} HU (median within {sphere:g} mm), which "
            f"is {tissue}, not blood ({low_hu:g} to {high_hu:g} HU)"
        )
    if problem:
        raise LandmarkError(
            f"The landmarks do not lie on an aortic root: {problem}.",
            "Check that they are in LPS (not RAS) and belong to this study.",
        )


def infra_annular_ms_length_mm(landmarks: Landmarks, frame: AnnulusFrame) -> float | None:
    """``IAMS = max(0, -h(MS_inferior))``: the membranous septum below the annular plane, mm
    (the published measure, Hamdan 2015 / Hokken 2021); None without ``MS_inferior``."""
    inf = landmarks.get("MS_inferior")
    if inf is None:
        return None
    return float(max(0.0, -float(frame.cylindrical(inf)[0])))


def ms_inferior_warning(landmarks: Landmarks, frame: AnnulusFrame) -> str:
    """A warning when ``MS_inferior`` lies above the annular plane (empty otherwise)."""
    inf = landmarks.get("MS_inferior")
    if inf is None:
        return ""
    h = float(frame.cylindrical(inf)[0])
    if h > 0:
        return (
            f"MS_inferior lies {h:.1f} mm above the annular plane: the infra-annular membranous "
            "septum is 0 mm. Check its placement (the inferior border of the membranous septum, "
            "where it meets the muscular septum, coronal view)."
        )
    return ""


def membranous_septum_height_mm(landmarks: Landmarks) -> float | None:
    """``|MS_superior - MS_inferior|``, mm (reported only; no rule uses it)."""
    sup, inf = landmarks.get("MS_superior"), landmarks.get("MS_inferior")
    if sup is None or inf is None:
        return None
    return float(np.linalg.norm(np.asarray(sup, dtype=np.float64) - np.asarray(inf)))


def _circular_midpoint_deg(a: float, b: float) -> float:
    """Midpoint of the shorter arc between two angles, degrees in [0, 360)."""
    diff = (b - a + 180.0) % 360.0 - 180.0
    return (a + diff / 2.0) % 360.0


@dataclass(frozen=True, eq=False)
class AnnulusFrame:
    """Annulus frame: origin, axes and the angles of hinges and commissures.

    Attributes
    ----------
    origin_lps
        ``O``, circumcentre of the hinges, LPS mm.
    normal_lps, u_lps, v_lps
        Unit vectors ``n`` (toward the aorta), ``u`` (toward the RCC hinge), ``v = n x u``.
    hinge_radius_mm
        Radius of the circle through the hinges, mm.
    hinge_angles_deg
        Angle ``theta`` of each hinge (RCC is 0 by construction), degrees.
    commissure_angles_deg
        Angle of each commissure, degrees in [0, 360).
    commissure_estimated
        True for a commissure placed at the circular midpoint of its hinges (no landmark).
    """

    origin_lps: FloatArray
    normal_lps: FloatArray
    u_lps: FloatArray
    v_lps: FloatArray
    hinge_radius_mm: float
    hinge_angles_deg: Mapping[str, float] = field(default_factory=dict)
    commissure_angles_deg: Mapping[str, float] = field(default_factory=dict)
    commissure_estimated: Mapping[str, bool] = field(default_factory=dict)

    @classmethod
    def from_landmarks(cls, landmarks: Landmarks) -> AnnulusFrame:
        """Build the frame from the hinge (and optional commissure) landmarks.

        Raises
        ------
        LandmarkError
            Missing, coincident or collinear hinges.
        """
        check_hinges(landmarks)
        r, lcc, ncc = (np.asarray(landmarks[n], dtype=np.float64) for n in AORTIC_REQUIRED)
        origin = circumcentre(r, lcc, ncc)
        normal = np.cross(lcc - r, ncc - r)
        normal /= np.linalg.norm(normal)
        u = (r - origin) - float((r - origin) @ normal) * normal
        u /= np.linalg.norm(u)
        v = np.cross(normal, u)
        frame = cls(origin, normal, u, v, float(np.linalg.norm(r - origin)))
        hinge_angles = {
            name: float(frame.cylindrical(landmarks[name])[2]) for name in AORTIC_REQUIRED
        }
        angles: dict[str, float] = {}
        estimated: dict[str, bool] = {}
        for name in COMMISSURES:
            pos = landmarks.get(name)
            if pos is not None:
                angles[name] = float(frame.cylindrical(pos)[2])
                estimated[name] = False
            else:
                a, b = _NEIGHBOUR_HINGES[name]
                angles[name] = _circular_midpoint_deg(hinge_angles[a], hinge_angles[b])
                estimated[name] = True
        for arr in (origin, normal, u, v):
            arr.setflags(write=False)
        return cls(
            origin,
            normal,
            u,
            v,
            frame.hinge_radius_mm,
            hinge_angles,
            angles,
            estimated,
        )

    def cylindrical(self, points: npt.ArrayLike) -> tuple[FloatArray, FloatArray, FloatArray]:
        """``(h, r, theta_deg)`` of ``(..., 3)`` LPS points (mm, mm, degrees in [0, 360))."""
        d = np.asarray(points, dtype=np.float64) - self.origin_lps
        h = d @ self.normal_lps
        x = d @ self.u_lps
        y = d @ self.v_lps
        theta = np.degrees(np.arctan2(y, x)) % 360.0
        return h, np.hypot(x, y), theta

    def to_lps(self, h: npt.ArrayLike, r: npt.ArrayLike, theta_deg: npt.ArrayLike) -> FloatArray:
        """LPS points (..., 3) of cylindrical coordinates (mm, mm, degrees)."""
        h_arr = np.asarray(h, dtype=np.float64)[..., None]
        t = np.radians(np.asarray(theta_deg, dtype=np.float64))[..., None]
        r_arr = np.asarray(r, dtype=np.float64)[..., None]
        return (
            self.origin_lps
            + h_arr * self.normal_lps
            + r_arr * (np.cos(t) * self.u_lps + np.sin(t) * self.v_lps)
        )

    def cusp_sector_deg(self, cusp: str) -> tuple[float, float]:
        """(start, end) angles of a cusp's sector, counter-clockwise, degrees."""
        start, end = CUSP_SECTORS[cusp]
        return self.commissure_angles_deg[start], self.commissure_angles_deg[end]

    def cusp_index(self, theta_deg: npt.ArrayLike) -> npt.NDArray[np.int8]:
        """Index into :data:`CUSPS` of the sector holding each angle."""
        theta = np.asarray(theta_deg, dtype=np.float64)
        out = np.zeros(theta.shape, dtype=np.int8)
        for index, cusp in enumerate(CUSPS):
            start, end = self.cusp_sector_deg(cusp)
            width = (end - start) % 360.0
            inside = ((theta - start) % 360.0) < width
            out[inside] = index
        return out

    def to_dict(self) -> dict[str, object]:
        """JSON-ready description of the frame."""
        return {
            "origin_lps": [float(x) for x in self.origin_lps],
            "normal_lps": [float(x) for x in self.normal_lps],
            "u_lps": [float(x) for x in self.u_lps],
            "v_lps": [float(x) for x in self.v_lps],
            "hinge_radius_mm": self.hinge_radius_mm,
            "hinge_angles_deg": dict(self.hinge_angles_deg),
            "commissure_angles_deg": dict(self.commissure_angles_deg),
            "commissure_estimated": dict(self.commissure_estimated),
        }
