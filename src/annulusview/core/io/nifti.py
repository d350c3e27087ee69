"""NIfTI volumes (.nii, .nii.gz) converted to the same LPS volume as a DICOM series.

NIfTI affines map ``(i, j, k)`` to RAS mm; LPS is RAS with x and y negated, so the LPS affine is
``diag(-1, -1, 1, 1) @ affine_ras``. NIfTI data are indexed ``[i, j, k]``; the volume is
``[k, j, i]``, so the data are transposed (and copied once to C order).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from annulusview.core.errors import InputError
from annulusview.core.io.types import ScanResult, SeriesSummary
from annulusview.core.progress import CancelToken, ProgressCallback, check, report
from annulusview.core.volume import Volume

logger = logging.getLogger(__name__)

RAS_TO_LPS = np.diag([-1.0, -1.0, 1.0, 1.0])


def _open(path: Path) -> Any:
    import nibabel as nib

    try:
        img: Any = nib.load(str(path))
    except Exception as exc:
        raise InputError(
            f"{path} is not a readable NIfTI volume ({type(exc).__name__}: {exc}).",
            "Check the file, or convert it again.",
        ) from None
    if len(img.shape) < 3:
        raise InputError(f"{path} is not a 3-D volume (shape {img.shape}).", "Open a 3-D CT.")
    return img


def _affine_and_warnings(img: Any) -> tuple[npt.NDArray[np.float64], list[str]]:
    warnings: list[str] = []
    affine_ras = np.asarray(img.affine, dtype=np.float64)
    if not np.all(np.isfinite(affine_ras)) or abs(np.linalg.det(affine_ras[:3, :3])) < 1e-12:
        raise InputError("The NIfTI affine is invalid (singular or not finite).", "Fix the header.")
    try:
        qform_code = int(img.header["qform_code"])
        sform_code = int(img.header["sform_code"])
        if qform_code == 0 and sform_code == 0:
            warnings.append("NIfTI has no qform/sform: orientation is a guess (scanner axes)")
    except Exception:
        pass
    if len(img.shape) > 3 and int(np.prod(img.shape[3:])) > 1:
        warnings.append(f"NIfTI has {img.shape[3:]} volumes: the first one is used")
    return RAS_TO_LPS @ affine_ras, warnings


def scan_nifti(path: Path) -> ScanResult:
    """Describe a NIfTI file as one series (header only)."""
    img = _open(path)
    affine, warnings = _affine_and_warnings(img)
    nx, ny, nz = (int(v) for v in img.shape[:3])
    steps = np.linalg.norm(affine[:3, :3], axis=0)
    summary = SeriesSummary(
        id="",
        series_instance_uid="",
        description=path.name,
        modality="CT",
        num_images=nz,
        shape=(nz, ny, nx),
        spacing_mm=(float(steps[2]), float(steps[1]), float(steps[0])),
        affine=affine,
        contrast=None,
        warnings=tuple(warnings),
    )
    return ScanResult(str(path), (summary,), ())


def load_nifti(
    path: Path,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> Volume:
    """Load a NIfTI volume as HU ``[k, j, i]`` with an LPS affine.

    The scaled data (scl_slope/scl_inter applied) are int16 when they are integers that fit,
    float32 otherwise.
    """
    img = _open(path)
    affine, warnings = _affine_and_warnings(img)
    report(progress, 0.1, "reading NIfTI")
    check(cancel)
    proxy = img.dataobj
    slope = getattr(proxy, "slope", 1.0)
    inter = getattr(proxy, "inter", 0.0)
    raw_dtype = np.dtype(img.get_data_dtype())
    index = (slice(None),) * 3 + (0,) * (len(img.shape) - 3)
    try:
        data = np.asanyarray(proxy[index] if len(img.shape) > 3 else proxy)
    except Exception as exc:
        raise InputError(
            f"{path}: the NIfTI voxel data cannot be read ({type(exc).__name__}).",
            "The file may be truncated.",
        ) from None
    check(cancel)
    report(progress, 0.6, "converting to LPS")
    exact_int = (
        raw_dtype.kind in "iu"
        and float(slope or 1.0).is_integer()
        and float(inter or 0.0).is_integer()
    )
    if exact_int and data.size and data.min() >= -32768 and data.max() <= 32767:
        out_dtype: np.dtype[Any] = np.dtype(np.int16)
    else:
        out_dtype = np.dtype(np.float32)
    hu = np.ascontiguousarray(data.transpose(2, 1, 0), dtype=out_dtype)
    report(progress, 1.0, "done")
    return Volume(
        hu=hu,
        affine=affine,
        series_instance_uid="",
        description="",
        modality="CT",
        warnings=tuple(warnings),
        metadata={
            "source_format": "nifti",
            "patient_sex": "",
            "contrast_agent": None,
            "slice_thickness_mm": None,
        },
        source_paths=(str(path),),
    )
