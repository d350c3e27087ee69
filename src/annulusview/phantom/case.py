"""Build one phantom case in memory: volume, landmarks and truth."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from annulusview.core.landmarks import Landmarks
from annulusview.core.progress import ProgressCallback
from annulusview.core.volume import Volume
from annulusview.phantom.anatomy import ANATOMY, BUILT_CASES, CASES, case_spec
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
