"""The straightened (curved planar) root view: closed-form tubes, and the phantom's root."""

from __future__ import annotations

import math

import numpy as np
import pytest

from annulusview.core.aortic.cpr import resample_path, root_centreline, straighten
from annulusview.core.aortic.frame import AnnulusFrame
from annulusview.core.errors import InputError
from annulusview.core.landmarks import Landmarks
from annulusview.core.volume import Volume
from annulusview.phantom import make_case
from annulusview.phantom.anatomy import ANATOMY
from annulusview.phantom.geometry import ellipse_radius

BEND_MM = 50.0  # radius of the bent tube's centreline (a quarter circle)
TUBE_MM = 8.0
VOXEL_MM = 0.5


def _arc(theta: np.ndarray) -> np.ndarray:
    """The bent tube's centreline: a quarter circle of radius BEND_MM in the x-z plane."""
    return np.stack([BEND_MM * np.cos(theta), np.zeros_like(theta), BEND_MM * np.sin(theta)], 1)


@pytest.fixture(scope="module")
def bent_tube():
    """A tube of radius TUBE_MM around a quarter circle, 400 HU in 0 HU, 0.5 mm voxels."""
    x = np.arange(-5.0, BEND_MM + 15.0, VOXEL_MM)
    y = np.arange(-15.0, 15.0 + 1e-9, VOXEL_MM)
    z = np.arange(-5.0, BEND_MM + 15.0, VOXEL_MM)
    zz, yy, xx = np.meshgrid(z, y, x, indexing="ij")
    dist_axis = np.hypot(np.hypot(xx, zz) - BEND_MM, yy)
    inside = (dist_axis <= TUBE_MM) & (xx >= 0) & (zz >= 0)
    hu = np.where(inside, 400.0, 0.0).astype(np.float32)
    affine = np.eye(4)
    affine[:3, :3] *= VOXEL_MM
    affine[:3, 3] = (x[0], y[0], z[0])
    volume = Volume(hu, affine)
    # an annulus frame at the tube's start: hinges on the tube wall around its first point
    start, t0 = _arc(np.array([0.05]))[0], np.array([0.0, 0.0, 1.0])
    ring = {
        f"{c}_hinge": start + TUBE_MM * (math.cos(a) * np.array([1.0, 0, 0]) +
                                         math.sin(a) * np.array([0, 1.0, 0]))
        for c, a in zip(("RCC", "LCC", "NCC"), np.radians([0.0, 120.0, 240.0]), strict=True)
    }  # fmt: skip
    assert abs(t0 @ np.array([1.0, 0, 0])) < 1e-9
    frame = AnnulusFrame.from_landmarks(Landmarks(ring, "test"))
    return volume, frame


def test_resample_keeps_the_arc_length() -> None:
    theta = np.linspace(0.0, math.pi / 2, 400)
    path = resample_path(_arc(theta), 0.5)
    steps = np.linalg.norm(np.diff(path, axis=0), axis=1)
    assert np.allclose(steps, 0.5, atol=1e-3)
    assert steps.sum() == pytest.approx(BEND_MM * math.pi / 2, rel=1e-3)


def test_bent_tube_straightens_to_a_straight_band(bent_tube) -> None:
    """Every row of the straightened quarter circle shows the tube 2 R wide and centred."""
    volume, frame = bent_tube
    theta = np.linspace(0.1, math.pi / 2 - 0.1, 300)
    view = straighten(volume, _arc(theta), frame, half_width_mm=14.0, pixel_mm=0.5)
    rows = view.image.shape[0]
    assert rows * 0.5 == pytest.approx(BEND_MM * (math.pi / 2 - 0.2), abs=1.0)
    across = np.arange(view.image.shape[1]) * 0.5 - 14.0
    for row in range(5, rows - 5, 10):
        profile = view.image[row]
        lumen = across[profile >= 200.0]  # the half-maximum of 400 over 0
        assert lumen.max() - lumen.min() + 0.5 == pytest.approx(2 * TUBE_MM, abs=0.6), row
        assert (lumen.max() + lumen.min()) / 2 == pytest.approx(0.0, abs=0.3), row
    # the lateral axis stays perpendicular to the path and never twists (parallel transport)
    tangent = np.gradient(view.path_lps, axis=0)
    tangent /= np.linalg.norm(tangent, axis=1, keepdims=True)
    assert np.all(np.abs(np.sum(tangent * view.lateral_lps, axis=1)) < 1e-2)
    # parallel transport: the lateral axis keeps its angle to the bend's plane all the way
    assert np.ptp(np.abs(view.lateral_lps[:, 1])) < 1e-6


def test_phantom_root_centreline_and_straightened_lvot() -> None:
    """The phantom's root is straight along n: the tracked centreline stays on the axis, and
    the straightened picture's LVOT at -4 mm is the ellipse's chord along the lateral axis."""
    case = make_case("normal", 3, "small")
    frame = AnnulusFrame.from_landmarks(case.landmarks)
    path = root_centreline(case.volume, frame)
    o, n = np.asarray(frame.origin_lps), np.asarray(frame.normal_lps)
    h = (path - o) @ n
    off_axis = np.linalg.norm((path - o) - h[:, None] * n, axis=1)
    assert h.min() < -8.0 and h.max() > 35.0  # from the LVOT into the ascending aorta
    band = (h > -8.0) & (h < 35.0)
    assert off_axis[band].max() < 0.5, off_axis[band].max()
    view = straighten(case.volume, path, frame, half_width_mm=20.0, pixel_mm=0.25)
    assert view.h_mm[0] > view.h_mm[-1]  # the aorta at the top
    row = view.row_at_height(-4.0)
    assert row is not None
    profile = view.image[row]
    across = np.arange(len(profile)) * 0.25 - 20.0
    level = 0.5 * (450.0 + 100.0)  # FWHM of blood over the LVOT wall (phantom materials)
    lumen = across[profile >= level]
    lateral = view.lateral_lps[row]
    theta = math.degrees(math.atan2(lateral @ np.asarray(frame.v_lps), lateral @ frame.u_lps))
    chord = float(
        ellipse_radius(theta, ANATOMY.a_mm, ANATOMY.b_mm, ANATOMY.phi_deg)
        + ellipse_radius(theta + 180.0, ANATOMY.a_mm, ANATOMY.b_mm, ANATOMY.phi_deg)
    )
    assert lumen.max() - lumen.min() + 0.25 == pytest.approx(chord, abs=0.75)


def test_non_contrast_has_no_straightened_view() -> None:
    case = make_case("tavr-noncontrast", 0, "small")
    frame = AnnulusFrame.from_landmarks(case.landmarks)
    with pytest.raises(InputError):
        root_centreline(case.volume, frame)
