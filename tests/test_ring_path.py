"""The annulus edge where the lumen leaks (core/aortic/ring_path.py) and the plane check of the
annulus area (annulus.py), on closed-form volumes.

The leak volume is a 2-D pattern extruded along z (so every plane across z shows it): an
elliptic lumen (semi-axes 14 x 11 mm, 420 HU) inside a 3 mm wall (40 HU), contrast in the
cavity all around (380 HU, as on a real CTA with every chamber enhanced), a 6 mm channel
through the wall into that cavity, a dark closed-leaflet arc (1.2 mm, 120 HU) across a 100 deg
sector of the lumen at 80 % of its radius, and a wall calcium nodule; blurred by a 0.7 mm
Gaussian (partial volume) with 15 HU noise. The annulus is the ellipse: area pi a b. (Rays
followed one by one, as before ring_path.py, read 720 mm^2 here: +50 %.)

The plane-check volumes are a cylinder (area the same at every height) and a cone whose radius
grows 1.5 mm per mm of height (area pi (r0 + 1.5 h)^2: a root flaring steeply at the ring).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import ndimage

from annulusview.core.aortic.annulus import METHOD_CONTOUR, measure_annulus
from annulusview.core.aortic.devices import load_devices
from annulusview.core.aortic.frame import AnnulusFrame
from annulusview.core.aortic.ring_path import RingPathFailed, closed_path
from annulusview.core.landmarks import Landmarks
from annulusview.core.presentation import sizing_rows
from annulusview.core.rules import load_rules
from annulusview.core.volume import Volume

PIXEL = 0.5  # mm, in plane
SLICE = 1.0  # mm
A_MM, B_MM = 14.0, 11.0


def _extruded(pattern_hu, slices: int = 12) -> Volume:
    """``pattern_hu[y, x]`` repeated along z; the image centre is LPS (0, 0)."""
    n = pattern_hu.shape[0]
    affine = np.diag([PIXEL, PIXEL, SLICE, 1.0])
    affine[:2, 3] = -(n - 1) / 2.0 * PIXEL
    hu = np.repeat(pattern_hu[None], slices, axis=0).astype(np.int16)
    return Volume(hu, affine)


def _grid(n: int = 161):
    axis = (np.arange(n) - (n - 1) / 2.0) * PIXEL
    return np.meshgrid(axis, axis, indexing="xy")


def _ellipse_hinges(z: float) -> Landmarks:
    """Hinges on the ellipse at parameter angles 0, 120 and 240 deg, in the plane z."""
    points = {}
    for name, t in (("RCC_hinge", 0.0), ("LCC_hinge", 120.0), ("NCC_hinge", 240.0)):
        r = math.radians(t)
        points[name] = np.array([A_MM * math.cos(r), B_MM * math.sin(r), z])
    return Landmarks(points)


def _leak_pattern(seed: int = 0):
    x, y = _grid()
    rho = np.hypot(x / A_MM, y / B_MM)  # 1 on the ellipse
    # distance outside the ellipse, to first order: (rho - 1) times the local radius
    local_r = np.hypot(x, y) / np.maximum(rho, 1e-9)
    outside = (rho - 1.0) * local_r
    img = np.full(x.shape, 380.0)  # contrast in the cavity all around
    img[(outside > 0) & (outside <= 3.0)] = 40.0  # the wall
    img[rho <= 1.0] = 420.0  # the lumen
    angle = np.degrees(np.arctan2(y, x)) % 360.0
    # a 6 mm channel through the wall at 60 deg, into the cavity
    direction = np.array([math.cos(math.radians(60.0)), math.sin(math.radians(60.0))])
    along = x * direction[0] + y * direction[1]
    across = np.abs(-x * direction[1] + y * direction[0])
    img[(across <= 3.0) & (along > 0) & (outside > -1.0) & (outside <= 3.5)] = 420.0
    # a closed-leaflet arc across the lumen at 80 % of its radius, 130-230 deg
    arc = (np.abs(rho - 0.8) * local_r <= 0.6) & (angle >= 130.0) & (angle <= 230.0)
    img[arc] = 120.0
    # a calcium nodule in the wall at 300 deg, touching the lumen edge
    t = math.radians(300.0)
    cx, cy = (A_MM + 1.0) * math.cos(t), (B_MM + 1.0) * math.sin(t)
    img[np.hypot(x - cx, y - cy) <= 1.0] = 1000.0
    img = ndimage.gaussian_filter(img, 0.7 / PIXEL)
    img += np.random.default_rng(seed).normal(0.0, 15.0, img.shape)
    return img


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_leaking_lumen_is_traced_around_the_hinges(seed):
    volume = _extruded(_leak_pattern(seed))
    frame = AnnulusFrame.from_landmarks(_ellipse_hinges(z=5.0))
    measured, warnings = measure_annulus(volume, frame, load_rules(), contrast=True)
    assert measured.method == METHOD_CONTOUR
    assert any("leaked into a neighbouring cavity" in w for w in warnings), warnings
    truth = math.pi * A_MM * B_MM  # 483.8 mm^2
    # The convex hull bridges the channel and the calcium halo: within 3 % of the ellipse.
    assert measured.area_mm2 == pytest.approx(truth, rel=0.03)
    assert measured.d_max_mm == pytest.approx(2 * A_MM, abs=0.75)
    assert measured.d_min_mm == pytest.approx(2 * B_MM, abs=0.75)
    # Extruded: the area is the same with the plane moved, so no plane warning.
    low, high = measured.area_plane_range_mm2
    assert high - low <= 0.03 * truth
    assert not any("depends steeply on the plane" in w for w in warnings)


def _brute_force(cost, allowed, max_step, step_cost):
    n_angles, n_radii = cost.shape
    best, best_path = math.inf, None
    for path in itertools.product(range(n_radii), repeat=n_angles):
        if not all(allowed[k, j] for k, j in enumerate(path)):
            continue
        steps = [abs(path[(k + 1) % n_angles] - path[k]) for k in range(n_angles)]
        if max(steps) > max_step:
            continue
        total = sum(cost[k, j] for k, j in enumerate(path)) + step_cost * sum(steps)
        if total < best - 1e-12:
            best, best_path = total, path
    return best, best_path


@pytest.mark.parametrize("seed", range(6))
def test_closed_path_is_the_cheapest_closed_path(seed):
    """Against every path of a small problem (6 angles x 5 radii, 15 625 paths)."""
    rng = np.random.default_rng(seed)
    cost = -rng.random((6, 5))
    allowed = np.ones((6, 5), dtype=bool)
    allowed[0, :] = False
    allowed[0, rng.integers(0, 5, 2)] = True
    allowed[3, rng.integers(0, 5)] = False
    best, _ = _brute_force(cost, allowed, max_step=1, step_cost=0.1)
    path = closed_path(cost, allowed, max_step=1, step_cost=0.1)
    assert all(allowed[k, j] for k, j in enumerate(path))
    steps = np.abs(np.diff(np.append(path, path[0])))
    assert steps.max() <= 1
    total = cost[np.arange(6), path].sum() + 0.1 * steps.sum()
    assert total == pytest.approx(best)


def test_closed_path_fails_plainly_without_a_path():
    allowed = np.zeros((8, 4), dtype=bool)
    allowed[0, 0] = True
    allowed[4, 3] = True  # two steps of one cannot climb 3 in the 4 angles either side
    allowed[[1, 2, 3, 5, 6, 7], :] = True
    allowed[4, :3] = False
    with pytest.raises(RingPathFailed):
        closed_path(np.zeros((8, 4)), allowed, max_step=0, step_cost=0.0)


def _cone(r0: float, slope: float, slices: int = 21) -> tuple[Volume, float]:
    """A lumen (400 HU) in tissue (40 HU) whose radius is ``r0 + slope (z - z0)``, z0 on the
    middle slice; slices 0.25 mm apart, so that the radius changes less between slices than
    the width of the wall's ramp (trilinear interpolation then keeps the edge at the
    interpolated radius) and the plane moved 0.5 or 1 mm lies on a slice."""
    x, y = _grid()
    spacing = 0.25
    z0 = (slices - 1) / 2.0 * spacing
    hu = np.empty((slices, *x.shape), dtype=np.int16)
    for k in range(slices):
        r = r0 + slope * (k * spacing - z0)
        # one-pixel linear ramp: the FWHM edge lies on the circle
        hu[k] = np.round(40.0 + 360.0 * np.clip(r - np.hypot(x, y) + 0.5 * PIXEL, 0, PIXEL) / PIXEL)
    affine = np.diag([PIXEL, PIXEL, spacing, 1.0])
    affine[:2, 3] = -(x.shape[0] - 1) / 2.0 * PIXEL
    return Volume(hu, affine), z0


def _circle_hinges(radius: float, z: float) -> Landmarks:
    points = {}
    for name, t in (("RCC_hinge", 0.0), ("LCC_hinge", 120.0), ("NCC_hinge", 240.0)):
        r = math.radians(t)
        points[name] = np.array([radius * math.cos(r), radius * math.sin(r), z])
    return Landmarks(points)


def test_plane_check_of_a_steep_root():
    """Radius 12.2 mm at the ring growing 1.5 mm per mm: with the plane moved 0.5 mm the area
    is pi (12.2 -+ 0.75)^2 = 411.9 and 526.9 mm^2 (from 467.6): up to 12.7 %, warned; for a
    SAPIEN 3 the size (26 mm, range 430-546) becomes borderline, the plane check reaching 23
    (338-430)."""
    r0, slope, step = 12.2, 1.5, 0.5
    volume, z0 = _cone(r0, slope)
    frame = AnnulusFrame.from_landmarks(_circle_hinges(r0, z0))
    measured, warnings = measure_annulus(volume, frame, load_rules(), contrast=True)
    assert measured.area_mm2 == pytest.approx(math.pi * r0**2, rel=0.02)
    low, high = measured.area_plane_range_mm2
    assert low == pytest.approx(math.pi * (r0 - slope * step) ** 2, rel=0.02)
    assert high == pytest.approx(math.pi * (r0 + slope * step) ** 2, rel=0.02)
    p_low, p_high = measured.perimeter_plane_range_mm
    assert p_low == pytest.approx(2 * math.pi * (r0 - slope * step), rel=0.02)
    assert p_high == pytest.approx(2 * math.pi * (r0 + slope * step), rel=0.02)
    assert measured.plane_check_mm == step
    steep = [w for w in warnings if "depends steeply on the plane" in w]
    assert len(steep) == 1 and "check the hinges" in steep[0]
    sapien = load_devices()["sapien3"].suggest(measured)
    assert sapien["suggested_size_mm"] == 26.0
    assert sapien["borderline"] is True
    assert sapien["sizes_within_plane_check"] == [23.0, 26.0]
    assert sapien["candidates"] == [26.0]  # the value at the plane itself is central
    row = sizing_rows([sapien])[0]
    assert "plane check reaches 23, 26 mm" in row[3]
    assert "(412-527 mm" in row[2]


def test_plane_check_of_a_straight_root_is_quiet():
    """A cylinder: the same area 0.5 mm either way, no warning, and a central size stays
    a plain suggestion."""
    r0 = 12.5  # area 490.9 mm^2: the middle of the SAPIEN 3 26 mm range (430-546)
    volume, z0 = _cone(r0, 0.0)
    frame = AnnulusFrame.from_landmarks(_circle_hinges(r0, z0))
    measured, warnings = measure_annulus(volume, frame, load_rules(), contrast=True)
    low, high = measured.area_plane_range_mm2
    assert high - low <= 0.005 * measured.area_mm2
    assert not any("depends steeply on the plane" in w for w in warnings)
    sapien = load_devices()["sapien3"].suggest(measured)
    assert sapien["suggested_size_mm"] == 26.0
    assert sapien["borderline"] is False
    assert sapien["sizes_within_plane_check"] == [26.0]


def test_plane_check_distance_comes_from_the_rules():
    """With the check at 1 mm the cone's range is pi (12.2 -+ 1.5)^2."""
    volume, z0 = _cone(12.2, 1.5)
    frame = AnnulusFrame.from_landmarks(_circle_hinges(12.2, z0))
    rules = load_rules(overrides={"annulus": {"plane_check_mm": 1.0}})
    measured, _ = measure_annulus(volume, frame, rules, contrast=True)
    low, high = measured.area_plane_range_mm2
    assert low == pytest.approx(math.pi * 10.7**2, rel=0.02)
    assert high == pytest.approx(math.pi * 13.7**2, rel=0.02)


def test_plane_check_that_leaves_the_volume_says_so():
    """Hinges on the last slice: the plane 0.5 mm above lies outside the CT, so the range is
    unknown (None) and a warning says so; the area at the hinges is still measured."""
    volume, _ = _cone(12.2, 0.0)
    top = (volume.shape[0] - 1) * 0.25
    frame = AnnulusFrame.from_landmarks(_circle_hinges(12.2, top))
    measured, warnings = measure_annulus(volume, frame, load_rules(), contrast=True)
    assert measured.area_mm2 == pytest.approx(math.pi * 12.2**2, rel=0.02)
    assert measured.area_plane_range_mm2 is None
    assert any("could not be traced 0.5 mm above the hinge plane" in w for w in warnings)
