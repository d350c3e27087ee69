"""Calcium that noise alone could make (core/aortic/noise_floor.py), on synthetic roots.

The synthetic root (tests/synthetic_aortic.py: an elliptic lumen of 400 HU in 50 HU tissue) on
1.5 mm voxels, as the real CTA, with white Gaussian noise of SD 35 HU added everywhere: the
contrast threshold (lumen + 100 HU) is then 2.9 SD above the lumen, and noise voxels pass it
all through the lumen, in the LVOT and the conduction zone too. The noise floor is lumen + z SD
with z the normal quantile of 1 - 0.05 / N (N voxels in the analysis cylinder): no noise voxel
is expected to reach it, so noise alone must leave every rule that it met indeterminate, never
met; real calcium (a 1000 HU sphere) keeps its rule met.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm

from annulusview.core.analysis import analyze
from annulusview.core.volume import Volume
from synthetic_aortic import Sphere, make_synthetic

NOISE_SD = 35.0
#: 1.5 mm voxels (3.4 mm^3: one voxel passes the 1 mm^3 minimum lesion), a 66 mm cube
GRID = {"spacing_mm": (1.5, 1.5, 1.5), "shape": (44, 44, 44)}


def _noisy(case, seed: int = 7):
    rng = np.random.default_rng(seed)
    hu = case.volume.hu.astype(np.float64) + rng.normal(0.0, NOISE_SD, case.volume.hu.shape)
    return Volume(
        np.round(hu).astype(np.int16),
        case.volume.affine,
        series_instance_uid="1.2.3.4",
        metadata=dict(case.volume.metadata),
    )


def _flag(result, rule_id):
    return next(f for f in result.flags if f.id == rule_id)


@pytest.fixture(scope="module")
def noise_only():
    case = make_synthetic(**GRID)
    return analyze(_noisy(case), case.landmarks)


def test_noise_floor_is_the_bonferroni_quantile(noise_only):
    noise = noise_only.calcium_noise
    region = noise_only.parameters["analysis_region"]
    cylinder = math.pi * region["r_le_mm"] ** 2 * (region["h_le_mm"] - region["h_ge_mm"])
    voxels = round(cylinder / 1.5**3)
    assert noise["region_voxels"] == voxels
    z = norm.isf(0.05 / voxels)
    assert noise["z"] == pytest.approx(z)
    assert 4.4 < z < 4.8  # about 20 000 voxels: p = 2.5e-6
    assert noise["lumen_sd_hu"] == pytest.approx(NOISE_SD, rel=0.1)
    assert noise["floor_hu"] == pytest.approx(noise["lumen_hu"] + z * noise["lumen_sd_hu"])


def test_noise_alone_meets_no_rule(noise_only):
    res = noise_only
    noise = res.calcium_noise
    # the threshold (lumen + 100) lets noise through: lesions in the LVOT, counted as calcium
    lvot = res.calcium.by_region["lvot"].volume_mm3
    assert lvot > 0
    # ... but none of them reaches the floor (none is expected to: 0.05 voxels)
    assert all(les.max_hu < noise["floor_hu"] for les in res.lesions)
    assert set(noise["faint_lesion_ids"]) == {les.id for les in res.lesions}
    assert noise["faint_volume_mm3"] == pytest.approx(sum(les.volume_mm3 for les in res.lesions))
    # every rule the noise would have met (any calcium in its region: limit 0) is
    # indeterminate, says why, and still shows the measured value
    for rule_id in ("pvl.lvot_calcium", "conduction.zone_calcium"):
        flag = _flag(res, rule_id)
        if flag.value:
            assert flag.status == "indeterminate", (rule_id, flag.status)
            assert flag.level is None and "image noise alone could make" in flag.reason
        else:
            assert flag.status == "not_met"
    assert _flag(res, "pvl.lvot_calcium").status == "indeterminate"
    # the LVOT calcium grade counts the noise nodules, and says what is left above the floor
    assert res.lvot_calcium_grade["grade"] != "none"
    assert res.lvot_calcium_grade["grade_above_noise_floor"] == "none"
    assert not [f for f in res.flags if f.status == "met" and f.id.startswith(("pvl", "cond"))]
    assert any("do not rise above the lumen's noise" in w for w in res.warnings)


def test_real_calcium_in_noise_keeps_its_rule_met():
    """A 1.5 mm sphere of 1000 HU in the LVOT region (h = -5 mm, on the wall): far above the
    floor, so pvl.lvot_calcium stays met though noise lesions lie around it."""
    sphere = Sphere(h=-5.0, r=11.0, theta_deg=100.0, radius_mm=1.5)
    case = make_synthetic(**GRID, spheres=(sphere,))
    res = analyze(_noisy(case), case.landmarks)
    noise = res.calcium_noise
    bright = [les for les in res.lesions if les.max_hu >= noise["floor_hu"]]
    assert len(bright) == 1 and bright[0].region == "lvot"
    assert bright[0].id not in noise["faint_lesion_ids"]
    assert _flag(res, "pvl.lvot_calcium").status == "met"


def test_quiet_scan_has_no_faint_lesions():
    """Without noise the sphere is the only lesion, above the floor: nothing changes."""
    sphere = Sphere(h=-5.0, r=11.0, theta_deg=100.0, radius_mm=1.5)
    case = make_synthetic(**GRID, spheres=(sphere,))
    res = analyze(case.volume, case.landmarks)
    assert res.calcium_noise is None or res.calcium_noise["faint_lesion_ids"] == []
    assert _flag(res, "pvl.lvot_calcium").status == "met"
    assert not any("lumen's noise" in w for w in res.warnings)


def _mac_flag():
    from annulusview.core.flags import Evidence, Flag

    return Flag("mitral.mac_score", "met", None, 3.0, None, "MAC CT score 3", Evidence("r"), "pts")


def _mac_lesion(lesion_id: int, max_hu: float):
    from annulusview.core.mitral.mac import MacLesion

    return MacLesion(lesion_id, 6.75, max_hu, (0.0, 0.0, 0.0), 1.0)


@pytest.mark.parametrize(
    ("peaks", "status", "warned"),
    [
        ((580.0, 590.0), "indeterminate", True),  # every MAC lesion below the 600 HU floor
        ((580.0, 900.0), "met", True),  # one real: the score stands, the faint one is named
        ((700.0, 900.0), "met", False),  # none faint: nothing changes
    ],
)
def test_mac_score_read_only_from_faint_lesions_is_indeterminate(peaks, status, warned):
    from annulusview.core.aortic.noise_floor import NoiseFloor, descriptor_on_faint

    floor = NoiseFloor(600.0, 4.5, 450.0, 33.3, 20000, (), 0.0)
    lesions = [_mac_lesion(i + 1, hu) for i, hu in enumerate(peaks)]
    flags, warning = descriptor_on_faint([_mac_flag()], "mitral.mac_score", lesions, floor)
    assert flags[0].status == status
    assert (warning is not None) == warned
    if status == "indeterminate":
        assert flags[0].level is None and "could be image noise" in flags[0].reason
