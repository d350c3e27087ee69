"""Build one phantom case in memory: volume, landmarks and truth."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from annulusview.core.landmarks import Landmarks
from annulusview.core.progress import ProgressCallback
from annulusview.core.volume import Volume
from annulusview.phantom.anatomy import (
    ANATOMY,
    BUILT_CASES,
    CASES,
    CONTRAST,
    CROWN_SCALLOP_MM,
    case_spec,
)
from annulusview.phantom.render import SIZES, render
from annulusview.phantom.truth import PATIENT_SEX, build_truth

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class PhantomCase:
    """A synthetic cardiac CT with its known answers.

    Attributes
    ----------
    volume
        HU volume (int16, ``[k, j, i]``) with its LPS affine; metadata as the DICOM loader
        would give it (patient sex, contrast agent, UIDs empty until written).
    landmarks
        Aortic and mitral landmarks, LPS mm (rounded to 1e-4 mm like the markups file).
    truth
        The ``annulusview.phantom-truth/2`` document (see :mod:`.truth`).
    """

    volume: Volume
    landmarks: Landmarks
    truth: dict[str, Any]

    @property
    def case(self) -> str:
        return str(self.truth["case"])


class PhantomCaseNotBuilt(ValueError):
    """The case name is known to the command line but not built yet."""


def _check(case: str, size: str) -> None:
    if case not in CASES:
        raise ValueError(f"unknown phantom case {case!r}; choose one of {', '.join(CASES)}")
    if case not in BUILT_CASES:
        raise PhantomCaseNotBuilt(f"the phantom case {case!r} is not built yet")
    if size not in SIZES:
        raise ValueError(f"unknown phantom size {size!r}; choose one of {', '.join(SIZES)}")


def sample_lumen_hu(hu: np.ndarray, affine: np.ndarray) -> float:
    """Median HU of the voxels whose centres lie in the 4 mm sphere at ``O - 5 mm n``."""
    f = ANATOMY.frame
    centre = f.origin - 5.0 * f.n
    inv = np.linalg.inv(affine)
    c_ijk = inv[:3, :3] @ centre + inv[:3, 3]
    spacing = np.diag(affine)[:3]
    half = np.ceil(4.0 / spacing).astype(int) + 1
    lo = np.maximum(np.floor(c_ijk).astype(int) - half, 0)
    hi = np.floor(c_ijk).astype(int) + half + 1
    sub = hu[lo[2] : hi[2], lo[1] : hi[1], lo[0] : hi[0]]
    k, j, i = np.meshgrid(
        np.arange(lo[2], lo[2] + sub.shape[0]),
        np.arange(lo[1], lo[1] + sub.shape[1]),
        np.arange(lo[0], lo[0] + sub.shape[2]),
        indexing="ij",
    )
    pos = np.stack([i, j, k], axis=-1) @ affine[:3, :3].T + affine[:3, 3]
    inside = np.linalg.norm(pos - centre, axis=-1) <= 4.0
    return float(np.median(sub[inside]))


def make_case(
    case: str = "tavr-contrast",
    seed: int = 0,
    size: str = "small",
    progress: ProgressCallback | None = None,
) -> PhantomCase:
    """Generate a phantom case in memory.

    Parameters
    ----------
    case
        ``tavr-contrast``, ``tavr-noncontrast``, ``mac`` or ``normal`` (``neo-lvot`` is not
        built yet and raises :class:`PhantomCaseNotBuilt`).
    seed
        Seeds the noise (and, when written, the DICOM UIDs); the geometry never changes.
    size
        ``small`` (160^3 voxels of 0.625 mm, for tests), ``demo`` (256 x 256 x 224, 0.5 mm)
        or ``full`` (512 x 512 x 320, 0.39 x 0.39 x 0.5 mm, for benchmarks).
    progress
        Optional ``(fraction, text)`` callback.

    Returns
    -------
    PhantomCase
        Volume, landmarks and truth; identical arrays for identical arguments.
    """
    _check(case, size)
    spec = case_spec(case)
    grid = SIZES[size]
    hu, affine = render(spec, grid, seed, progress)
    lumen = sample_lumen_hu(hu, affine)
    truth = build_truth(spec, seed, size, grid, affine, lumen)
    landmarks = Landmarks(ANATOMY.landmarks(spec.ms_length_mm), f"phantom:{case}")
    volume = Volume(
        hu=hu,
        affine=affine,
        description=f"AnnulusView phantom {case}",
        metadata={
            "patient_sex": PATIENT_SEX,
            "contrast_agent": spec.contrast,
            "slice_thickness_mm": grid.slice_mm,
        },
    )
    log.debug("phantom %s seed %d size %s: %s voxels", case, seed, size, hu.shape)
    return PhantomCase(volume, landmarks, truth)


#: Ranges of the seeded variations (issue 12): root size scale, tilt of the root axis (deg),
#: turn of the cusps about it (deg), blood attenuation (HU).
VARIATION_SCALE = (0.9, 1.1)
VARIATION_TILT_DEG = 10.0
VARIATION_TURN_DEG = 25.0
VARIATION_BLOOD_HU = (250.0, 550.0)
#: Image noise (SD, HU) of the seeded cases: a low-dose to a standard-dose CTA.
VARIATION_NOISE_SD_HU = (10.0, 35.0)


def make_varied_case(seed: int, size: str = "small") -> PhantomCase:
    """The contrast TAVR phantom with a seeded anatomy: root size, axis tilt, cusp rotation and
    contrast (blood 250-550 HU) and image noise (SD 10-35 HU) drawn from ``seed``. The sinuses are
    scalloped (``sinus_scallop_mm`` = :data:`~annulusview.phantom.anatomy.CROWN_SCALLOP_MM`):
    their lower border follows the crown-shaped leaflet attachment from the nadirs (1.5 mm) up
    to the commissures (15 mm), the cues a proposal must find on a real root.

    The truth document holds the drawn parameters (the expected analysis numbers of
    :func:`make_case` are derived for the standard anatomy only); the landmarks are exact.
    """
    _check("tavr-contrast", size)
    rng = np.random.default_rng([12, seed])
    scale = float(rng.uniform(*VARIATION_SCALE))
    tilt = math.radians(float(rng.uniform(0.0, VARIATION_TILT_DEG)))
    azimuth = float(rng.uniform(0.0, 2 * math.pi))
    n0 = ANATOMY.frame.n
    e1 = np.cross(n0, [0.0, 0.0, 1.0])
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(n0, e1)
    axis = math.cos(tilt) * n0 + math.sin(tilt) * (math.cos(azimuth) * e1 + math.sin(azimuth) * e2)
    anatomy = replace(
        ANATOMY,
        axis=(float(axis[0]), float(axis[1]), float(axis[2])),
        u_rotation_deg=ANATOMY.u_rotation_deg + float(rng.uniform(-1, 1) * VARIATION_TURN_DEG),
        a_mm=ANATOMY.a_mm * scale,
        b_mm=ANATOMY.b_mm * scale,
        ascending_radius_mm=ANATOMY.ascending_radius_mm * scale,
        sinus_bulge_mm=ANATOMY.sinus_bulge_mm * scale,
        sinus_scallop_mm=CROWN_SCALLOP_MM,
        stj_mm=ANATOMY.stj_mm * scale,
        lca_height_mm=ANATOMY.lca_height_mm * scale,
        rca_height_mm=ANATOMY.rca_height_mm * scale,
    )
    blood = float(rng.uniform(*VARIATION_BLOOD_HU))
    noise_sd = float(rng.uniform(*VARIATION_NOISE_SD_HU))  # drawn last: the others as before
    spec = case_spec("tavr-contrast")
    hu, affine = render(
        spec,
        SIZES[size],
        seed,
        anatomy=anatomy,
        materials=replace(CONTRAST, blood=blood),
        noise_sd_hu=noise_sd,
    )
    landmarks = Landmarks(anatomy.landmarks(spec.ms_length_mm), f"phantom:varied:{seed}")
    truth = {
        "case": "tavr-contrast-varied",
        "seed": seed,
        "size": size,
        "scale": scale,
        "tilt_deg": math.degrees(tilt),
        "u_rotation_deg": anatomy.u_rotation_deg,
        "sinus_scallop_mm": anatomy.sinus_scallop_mm,
        "blood_hu": blood,
        "noise_sd_hu": noise_sd,
    }
    volume = Volume(
        hu=hu,
        affine=affine,
        description="AnnulusView phantom tavr-contrast (varied)",
        metadata={"patient_sex": PATIENT_SEX, "contrast_agent": True},
    )
    return PhantomCase(volume, landmarks, truth)
