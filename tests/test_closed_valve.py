"""The basal ring of a closed aortic valve from its three cups (core/aortic/closed_valve.py).

A closed-form closed valve: a straight root tube (lumen radius R) on a tilted axis with three
closed leaflets 1.5 mm thick (partial volume along the axis). Leaflet c spans the sector
theta_c +- 60 deg; its surface rises from the crown-shaped attachment at the wall,
h_att(theta) = CROWN (rel / 60)^2 (0 at the cusp's middle, CROWN at the commissures),
linearly to the coaptation height COAPT at the axis: h(r, theta) = h_att(theta) r / R +
COAPT (1 - r / R). Each cup's lowest point is therefore its hinge, at h = 0, r = R,
theta = theta_c: the three hinges span the plane h = 0, whose normal is the tube's axis.
Blood 450 HU, leaflets and wall 100 HU, tissue 40 HU, Gaussian blur and noise, on 1.5 mm
voxels (as the real CTA) and 0.75 mm voxels.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage

from annulusview.core.aortic.closed_valve import closed_valve_ring
from annulusview.core.volume import Volume

R_MM = 12.0
CROWN_MM = 12.0
COAPT_MM = 8.0
LEAFLET_MM = 1.5  # thickened, as in aortic stenosis
CUSPS_DEG = (10.0, 130.0, 250.0)
BLOOD, TISSUE, WALL = 450.0, 40.0, 100.0
LUMEN_TISSUE = 80.0  # the soft-tissue level the proposal's blood pool uses


def _frame(tilt_deg: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Centre, axis n and in-plane axes (u, v) of the root: n tilted from +z about y."""
    t = math.radians(tilt_deg)
    n = np.array([math.sin(t), 0.0, math.cos(t)])
    u = np.array([math.cos(t), 0.0, -math.sin(t)])
    v = np.cross(n, u)
    return np.array([3.0, -2.0, 5.0]), n, u, v


def closed_root(
    spacing: float, tilt_deg: float = 20.0, closed: bool = True, seed: int = 0
) -> tuple[Volume, dict[str, np.ndarray]]:
    """The closed-form closed valve on an isotropic grid of ``spacing`` mm (see module)."""
    centre, n, u, v = _frame(tilt_deg)
    half = 55.0
    count = round(2 * half / spacing) + 1
    axis = -half + spacing * np.arange(count)
    # grid [k, j, i] = (z, y, x) around the centre
    z, y, x = np.meshgrid(axis, axis, axis, indexing="ij")
    rel = np.stack([x, y, z], axis=-1)
    h = rel @ n
    a, b = rel @ u, rel @ v
    r = np.hypot(a, b)
    theta = np.degrees(np.arctan2(b, a)) % 360.0
    hu = np.full(h.shape, TISSUE, dtype=np.float64)
    hu[r < R_MM + 2.0] = WALL
    lumen = r < R_MM
    hu[lumen] = BLOOD
    if closed:
        nearest = np.stack([((theta - c + 180.0) % 360.0) - 180.0 for c in CUSPS_DEG])
        rel_deg = np.take_along_axis(nearest, np.argmin(np.abs(nearest), axis=0)[None], 0)[0]
        h_att = CROWN_MM * (rel_deg / 60.0) ** 2
        h_leaf = h_att * r / R_MM + COAPT_MM * (1.0 - r / R_MM)
        # partial volume: the share of the voxel's extent along the axis the leaflet covers
        lo = np.maximum(h - spacing / 2, h_leaf - LEAFLET_MM / 2)
        hi = np.minimum(h + spacing / 2, h_leaf + LEAFLET_MM / 2)
        share = np.clip((hi - lo) / spacing, 0.0, 1.0) * lumen
        hu += share * (WALL - BLOOD)
    # blur in voxels (0.6 mm) and noise
    hu = ndimage.gaussian_filter(hu, 0.6 / spacing)
    hu += np.random.default_rng(seed).normal(0.0, 12.0, hu.shape)
    affine = np.eye(4)
    affine[:3, :3] *= spacing
    affine[:3, 3] = centre - half
    volume = Volume(hu=np.rint(hu).astype(np.int16), affine=affine)
    truth = {
        "centre": centre,
        "normal": n,
        "hinges": np.array(
            [
                centre + R_MM * (math.cos(math.radians(c)) * u + math.sin(math.radians(c)) * v)
                for c in CUSPS_DEG
            ]
        ),
        "sinus": centre + 14.0 * n,
        "lvot": centre - 12.0 * n,
    }
    return volume, truth


def _angle(a: np.ndarray, b: np.ndarray) -> float:
    return math.degrees(math.acos(min(1.0, abs(float(a @ b)))))


@pytest.mark.parametrize("spacing", [1.5, 0.75])
@pytest.mark.parametrize("tilt", [0.0, 20.0])
def test_closed_cups_give_the_hinge_plane(spacing: float, tilt: float) -> None:
    volume, truth = closed_root(spacing, tilt)
    # the first axis estimate is 15 deg off and the sinus point 3 mm off the axis
    off = math.radians(15.0)
    _, n, u, _ = _frame(tilt)
    start = math.cos(off) * n + math.sin(off) * u
    ring = closed_valve_ring(
        volume, BLOOD, LUMEN_TISSUE, truth["sinus"] + 3.0 * u, start, truth["lvot"]
    )
    assert not isinstance(ring, str), ring
    assert ring.settled and ring.agreeing >= 3
    assert _angle(ring.normal, truth["normal"]) < 3.0
    assert ring.normal @ truth["normal"] > 0  # toward the aorta
    # The ring is read where a reader marks the hinges: at the bottom of the contrast in each
    # cup, on the leaflet's aortic surface (h = LEAFLET_MM / 2 at the hinge), never below it;
    # above it by at most 2.8 mm (the lowest lumen voxel of a cup sits in from the wall's
    # blurred corner, where the leaflet has begun to rise: COAPT d / R for d mm in)
    above = float((ring.centre - truth["centre"]) @ truth["normal"]) - LEAFLET_MM / 2
    assert 0.0 <= above <= 2.8, above
    # each cup's nadir lies toward its hinge: at the cusp's angle about the axis, near the wall
    # (the lowest lumen voxel of a cup sits a voxel or two in from the wall's blurred corner)
    _, _, u0, v0 = _frame(tilt)
    placed = []
    for nadir in ring.nadirs:
        rel = nadir - truth["centre"]
        a, b = float(rel @ u0), float(rel @ v0)
        placed.append((math.degrees(math.atan2(b, a)) % 360.0, math.hypot(a, b)))
    for hinge_deg in CUSPS_DEG:
        gap = min(abs((t - hinge_deg + 180.0) % 360.0 - 180.0) for t, _ in placed)
        assert gap < 8.0, (hinge_deg, placed)
    for _, radius in placed:
        assert R_MM - 2.0 * spacing - 1.0 <= radius <= R_MM + 0.5, placed


def test_open_valve_is_not_read_as_closed() -> None:
    """Without leaflets the sinus runs into the LVOT at every fraction: a plain reason."""
    volume, truth = closed_root(1.5, 20.0, closed=False)
    _, n, _, _ = _frame(20.0)
    ring = closed_valve_ring(volume, BLOOD, LUMEN_TISSUE, truth["sinus"], n, truth["lvot"])
    assert isinstance(ring, str)
    assert "do not separate the sinuses from the LVOT" in ring


def test_root_at_the_edge_of_the_volume() -> None:
    volume, truth = closed_root(1.5, 0.0)
    _, n, _, _ = _frame(0.0)
    edge = truth["sinus"] + 20.0 * n  # the 35 mm search ball no longer fits
    ring = closed_valve_ring(volume, BLOOD, LUMEN_TISSUE, edge, n, truth["lvot"])
    assert isinstance(ring, str) and "edge of the volume" in ring
