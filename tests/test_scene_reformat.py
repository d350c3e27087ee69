"""core.reformat: orthogonal and oblique planes, orientation letters, hinge frame, C-arm angles."""

from __future__ import annotations

import numpy as np
import pytest

from annulusview.core import reformat
from annulusview.core.volume import Volume


def _volume(affine: np.ndarray, shape=(20, 30, 40)) -> Volume:
    k, j, i = np.indices(shape)
    hu = (1000 * k + 100 * j + i).astype(np.float32)  # every voxel tells its index
    return Volume(hu, affine)


STANDARD = np.array([[0.5, 0, 0, -10], [0, 0.5, 0, -20], [0, 0, 2.0, 30], [0, 0, 0, 1.0]])
# rows flipped (j runs anterior), slices head to feet: a volume stored "the other way round"
FLIPPED = np.array([[0.5, 0, 0, -10], [0, -0.5, 0, 20], [0, 0, -2.0, 30], [0, 0, 0, 1.0]])


@pytest.mark.parametrize("affine", [STANDARD, FLIPPED])
@pytest.mark.parametrize(
    ("view", "expected"),
    [
        ("axial", {"left": "R", "right": "L", "top": "A", "bottom": "P"}),
        ("coronal", {"left": "R", "right": "L", "top": "S", "bottom": "I"}),
        ("sagittal", {"left": "A", "right": "P", "top": "S", "bottom": "I"}),
    ],
)
def test_orientation_labels_are_radiological(affine, view, expected) -> None:
    vol = _volume(affine)
    assert reformat.orientation_labels(vol, view) == expected


@pytest.mark.parametrize("affine", [STANDARD, FLIPPED])
@pytest.mark.parametrize("view", ["axial", "coronal", "sagittal"])
def test_screen_pixels_map_back_to_the_voxel_shown(affine, view) -> None:
    vol = _volume(affine)
    ax = reformat.slice_axes(vol, view)
    index = 5
    img = reformat.orthogonal_slice(vol, view, index)
    rng = np.random.default_rng(0)
    for _ in range(20):
        row = int(rng.integers(img.shape[0]))
        col = int(rng.integers(img.shape[1]))
        i, j, k = reformat.screen_to_index(vol, view, index, row, col).astype(int)
        assert img[row, col] == vol.hu[k, j, i]
        s, r, c = reformat.index_to_screen(vol, view, (i, j, k))
        assert (s, r, c) == (index, row, col)
    # screen right moves toward the patient's left in axial and coronal views
    if view in ("axial", "coronal"):
        a = vol.index_to_lps(reformat.screen_to_index(vol, view, index, 0, 0))
        b = vol.index_to_lps(reformat.screen_to_index(vol, view, index, 0, 1))
        assert b[0] > a[0]
    assert ax.slice_axis in (0, 1, 2)


def test_oblique_slice_samples_the_plane() -> None:
    """A plane through a linear ramp: values at known pixels equal the ramp there."""
    shape = (40, 40, 40)
    k, j, i = np.indices(shape)
    affine = np.diag([1.0, 1.0, 1.0, 1.0])
    vol = Volume((2.0 * i + 3.0 * j + 5.0 * k).astype(np.float32), affine)
    origin = np.array([20.0, 20.0, 20.0])
    right, down = np.array([1.0, 1.0, 0.0]), np.array([0.0, 0.0, 1.0])
    img = reformat.oblique_slice(vol, origin, right, down, size_mm=10.0, pixel_mm=0.5)
    n = img.shape[0]
    r_hat = right / np.linalg.norm(right)
    for row, col in [(0, 0), (5, 12), (n - 1, n - 1)]:
        p = origin + (col - (n - 1) / 2) * 0.5 * r_hat + (row - (n - 1) / 2) * 0.5 * down
        assert img[row, col] == pytest.approx(2 * p[0] + 3 * p[1] + 5 * p[2], abs=1e-3)


def test_annulus_view_plane_of_a_known_circle() -> None:
    """The window and the exports take the annulus plane from the one annulus frame."""
    from annulusview.core.aortic.frame import AnnulusFrame
    from annulusview.core.errors import LandmarkError
    from annulusview.core.landmarks import Landmarks

    centre = np.array([3.0, -2.0, 7.0])
    radius = 12.0
    angles = np.radians([90.0, 210.0, 330.0])
    pts = [centre + radius * np.array([np.cos(a), np.sin(a), 0.0]) for a in angles]
    frame = AnnulusFrame.from_landmarks(
        Landmarks(dict(zip(("RCC_hinge", "LCC_hinge", "NCC_hinge"), pts, strict=True)))
    )
    np.testing.assert_allclose(frame.origin_lps, centre, atol=1e-9)
    assert frame.hinge_radius_mm == pytest.approx(radius)
    np.testing.assert_allclose(np.abs(frame.normal_lps), [0, 0, 1], atol=1e-9)
    np.testing.assert_allclose(frame.u_lps, (pts[0] - centre) / radius, atol=1e-9)
    plane = reformat.annulus_view_plane(frame)
    np.testing.assert_allclose(plane.origin, centre, atol=1e-9)
    np.testing.assert_allclose(np.abs(plane.normal), [0, 0, 1], atol=1e-9)
    # an axial annulus: screen right is the patient's left, screen down is posterior
    np.testing.assert_allclose(plane.right, [1, 0, 0], atol=1e-9)
    np.testing.assert_allclose(plane.down, [0, 1, 0], atol=1e-9)
    with pytest.raises(LandmarkError):
        AnnulusFrame.from_landmarks(
            Landmarks(
                {
                    "RCC_hinge": np.array([0.0, 0, 0]),
                    "LCC_hinge": np.array([10.0, 0, 0]),
                    "NCC_hinge": np.array([20.0, 0, 0]),
                }
            )
        )


@pytest.mark.parametrize(
    ("direction", "lao", "cranial"),
    [
        ((0.0, 1.0, 0.0), 0.0, 0.0),  # camera anterior looking posterior: AP view
        ((-1.0, 0.0, 0.0), 90.0, 0.0),  # camera on the patient's left: LAO 90
        ((1.0, 0.0, 0.0), -90.0, 0.0),  # camera on the patient's right: RAO 90
        ((-1.0, 1.0, 0.0), 45.0, 0.0),  # LAO 45
        ((0.0, 1.0, -1.0), 0.0, 45.0),  # camera toward the head: cranial 45
        ((0.0, 1.0, 1.0), 0.0, -45.0),  # caudal 45
    ],
)
def test_carm_angles_table(direction, lao, cranial) -> None:
    got_lao, got_cranial = reformat.carm_angles(direction)
    assert got_lao == pytest.approx(lao, abs=1e-9)
    assert got_cranial == pytest.approx(cranial, abs=1e-9)


@pytest.mark.parametrize(("lao", "cranial"), [(0, 0), (30, 20), (-25, -15), (120, 10), (-170, 60)])
def test_carm_round_trip(lao, cranial) -> None:
    d = reformat.carm_direction(lao, cranial)
    assert reformat.carm_angles(d) == pytest.approx((lao, cranial))
    assert reformat.format_carm(lao, cranial).startswith("LAO" if lao >= 0 else "RAO")


def test_window_to_uint8() -> None:
    img = np.array([[-100.0, 300.0, 700.0, 1000.0]])
    out = reformat.window_to_uint8(img, 800.0, 300.0)
    assert out.tolist() == [[0, 127, 255, 255]]
