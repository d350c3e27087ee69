"""Small synthetic aortic roots with known answers, built in numpy for the analysis tests.

A tilted elliptic lumen (a straight elliptic cylinder along the valve axis ``n``) with a
one-voxel linear partial-volume ramp at its wall, so the FWHM edge lies on the true ellipse,
plus calcium spheres placed in the annulus frame. Hinges lie on a circle around the axis in the
plane ``h = 0``, so ``O`` is the ellipse centre and the frame is known in closed form.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from annulusview.core.landmarks import Landmarks
from annulusview.core.volume import Volume


def unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


@dataclass(frozen=True)
class Sphere:
    """A calcium sphere at cylindrical frame position (h, r, theta_deg)."""

    h: float
    r: float
    theta_deg: float
    radius_mm: float
    hu: float = 1000.0


@dataclass
class SyntheticCase:
    volume: Volume
    landmarks: Landmarks
    origin: np.ndarray
    n: np.ndarray
    u: np.ndarray
    v: np.ndarray
    semi_axes_mm: tuple[float, float]
    spheres: list[Sphere] = field(default_factory=list)

    def lps(self, h: float, r: float, theta_deg: float) -> np.ndarray:
        t = np.radians(theta_deg)
        return self.origin + h * self.n + r * (np.cos(t) * self.u + np.sin(t) * self.v)

    def sphere_voxel_count(self, sphere: Sphere) -> int:
        """Voxel centres inside the sphere (how the volume was painted)."""
        centre = self.lps(sphere.h, sphere.r, sphere.theta_deg)
        return int(np.count_nonzero(np.linalg.norm(_centres(self.volume) - centre, axis=-1)
                                    <= sphere.radius_mm))  # fmt: skip


def _centres(volume: Volume) -> np.ndarray:
    k, j, i = np.meshgrid(*(np.arange(s) for s in volume.shape), indexing="ij")
    ijk = np.stack([i, j, k], axis=-1).astype(np.float64)
    return volume.index_to_lps(ijk)


def ellipse_perimeter(a: float, b: float) -> float:
    """Ramanujan's second approximation (relative error < 1e-9 for b/a >= 0.5)."""
    h = ((a - b) / (a + b)) ** 2
    return float(np.pi * (a + b) * (1 + 3 * h / (10 + np.sqrt(4 - 3 * h))))


def make_synthetic(
    *,
    lumen_hu: float = 400.0,
    tissue_hu: float = 50.0,
    semi_axes_mm: tuple[float, float] = (13.0, 10.0),
    hinge_radius_mm: float = 11.5,
    spacing_mm: tuple[float, float, float] = (0.5, 0.5, 0.5),
    shape: tuple[int, int, int] = (110, 110, 110),
    normal: tuple[float, float, float] = (0.25, -0.35, 0.9),
    spheres: tuple[Sphere, ...] = (),
    extra_landmarks: dict[str, tuple[float, float, float]] | None = None,
    sex: str = "M",
) -> SyntheticCase:
    """Build the case. ``extra_landmarks`` maps names to frame (h, r, theta_deg) positions."""
    dk, dj, di = spacing_mm
    affine = np.diag([di, dj, dk, 1.0])
    affine[:3, 3] = [-20.0, 30.0, 100.0]
    volume0 = Volume(np.zeros((1, 1, 1), dtype=np.int16), affine)
    centre_index = (np.array(shape[::-1]) - 1) / 2.0
    origin = volume0.index_to_lps(centre_index)
    n = unit(np.asarray(normal, dtype=np.float64))
    u = unit(np.cross(n, [0.0, 1.0, 0.0]))
    v = np.cross(n, u)

    k, j, i = np.meshgrid(*(np.arange(s) for s in shape), indexing="ij")
    ijk = np.stack([i, j, k], axis=-1).astype(np.float64)
    d = ijk @ affine[:3, :3].T + affine[:3, 3] - origin
    x, y, hh = d @ u, d @ v, d @ n
    a, b = semi_axes_mm
    f = np.sqrt((x / a) ** 2 + (y / b) ** 2)
    grad = np.sqrt((x / a**2) ** 2 + (y / b**2) ** 2) / np.maximum(f, 1e-9)
    signed = (f - 1.0) / np.maximum(grad, 1e-9)  # approximate signed distance to the wall, mm
    fraction = np.clip(0.5 - signed / di, 0.0, 1.0)
    hu = tissue_hu + (lumen_hu - tissue_hu) * fraction
    case = SyntheticCase(volume0, Landmarks({}), origin, n, u, v, semi_axes_mm, list(spheres))
    for sphere in spheres:
        centre = case.lps(sphere.h, sphere.r, sphere.theta_deg)
        inside = np.linalg.norm(d + origin - centre, axis=-1) <= sphere.radius_mm
        hu[inside] = sphere.hu
    del x, y, hh, f, grad, signed, fraction, d
    volume = Volume(
        np.round(hu).astype(np.int16), affine, series_instance_uid="1.2.3.4",
        metadata={"patient_sex": sex},
    )  # fmt: skip
    points = {
        name: case.lps(0.0, hinge_radius_mm, angle)
        for name, angle in (("RCC_hinge", 0.0), ("LCC_hinge", 120.0), ("NCC_hinge", 240.0))
    }
    for name, (h, r, t) in (extra_landmarks or {}).items():
        points[name] = case.lps(h, r, t)
    case.volume = volume
    case.landmarks = Landmarks(points)
    return case
