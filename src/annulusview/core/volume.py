"""The CT volume as it crosses layers: HU voxels plus a voxel-to-patient affine."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True, eq=False)
class Volume:
    """A CT volume in Hounsfield units with its geometry in LPS millimetres.

    Attributes
    ----------
    hu
        Voxel values in HU, indexed ``[slice k, row j, column i]``; int16 when exact,
        float32 otherwise.
    affine
        4x4 matrix mapping ``(i, j, k, 1)`` to DICOM patient coordinates (LPS, mm). Columns 0-2
        are the column, row and slice step vectors; a gantry tilt shows as a slice step that
        is not parallel to the image normal.
    series_instance_uid, description, modality
        Identification of the source series (empty for NIfTI).
    warnings
        Geometry and decoding findings the user must know about (gaps, tilt, resampling...).
    metadata
        Non-geometric header facts used downstream: ``patient_sex`` ('M'/'F'/''), ``contrast_agent``
        (bool | None), ``slice_thickness_mm``, ``study_instance_uid``, ``frame_of_reference_uid``,
        ``sop_instance_uids`` (tuple, slice order), ``sop_class_uid``, and identity fields
        (``patient_name``, ``patient_id``, ...) that exports must drop unless the user opts in.
    source_paths
        Files the volume was read from, in slice order (for DICOM outputs that reference them).
    """

    hu: npt.NDArray[Any]
    affine: npt.NDArray[np.float64]
    series_instance_uid: str = ""
    description: str = ""
    modality: str = "CT"
    warnings: tuple[str, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)
    source_paths: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.hu.ndim != 3:
            raise ValueError(f"hu must be 3-D [k, j, i], got shape {self.hu.shape}")
        affine = np.asarray(self.affine, dtype=np.float64)
        if affine.shape != (4, 4):
            raise ValueError(f"affine must be 4x4, got {affine.shape}")
        object.__setattr__(self, "affine", affine)

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(slices, rows, columns)``."""
        k, j, i = self.hu.shape
        return (int(k), int(j), int(i))

    @property
    def spacing_mm(self) -> tuple[float, float, float]:
        """``(slice increment, row spacing, column spacing)`` in mm (lengths of the steps)."""
        steps = np.linalg.norm(self.affine[:3, :3], axis=0)  # |col i|, |col j|, |col k|
        return (float(steps[2]), float(steps[1]), float(steps[0]))

    @property
    def voxel_volume_mm3(self) -> float:
        """Volume of one voxel (determinant of the 3x3 part, so correct under shear)."""
        return float(abs(np.linalg.det(self.affine[:3, :3])))

    @property
    def nbytes(self) -> int:
        return int(self.hu.nbytes)

    def index_to_lps(self, ijk: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Map ``(..., 3)`` voxel indices ``(i, j, k)`` to LPS mm."""
        ijk_arr = np.asarray(ijk, dtype=np.float64)
        return ijk_arr @ self.affine[:3, :3].T + self.affine[:3, 3]

    def lps_to_index(self, lps: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Map ``(..., 3)`` LPS mm positions to fractional voxel indices ``(i, j, k)``."""
        lps_arr = np.asarray(lps, dtype=np.float64)
        inv = np.linalg.inv(self.affine)
        return lps_arr @ inv[:3, :3].T + inv[:3, 3]

    def contains_lps(self, lps: npt.ArrayLike, margin_voxels: float = 0.5) -> bool:
        """True when the LPS point lies inside the voxel grid (within ``margin_voxels``)."""
        ijk = self.lps_to_index(lps)
        upper = np.array(self.shape[::-1], dtype=np.float64) - 1 + margin_voxels
        return bool(np.all(ijk >= -margin_voxels) and np.all(ijk <= upper))
