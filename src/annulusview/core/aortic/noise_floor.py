"""Calcium that image noise alone could make (contrast CT).

On a contrast CTA the calcium threshold lies a fixed ``threshold.lumen_plus_offset_hu`` (100 HU)
above the lumen. Where the lumen's noise is large against that margin (on the real 1.5 mm CTA
the LVOT lumen reads 485 HU with an SD of 35 HU: 100 HU is 2.9 SD), single voxels of contrast
blood pass the threshold by noise alone, and among the tens of thousands of lumen voxels of the
analysis region a few dozen will: "lesions" of one to three voxels whose brightest voxel is
barely above the threshold, scattered through the lumen. Counted as calcium they meet the LVOT
and conduction rules by themselves.

The noise floor is the attenuation that Gaussian noise of the lumen's SD reaches in fewer than
``calcium_noise.expected_noise_voxels`` (0.05) of the region's voxels:
``lumen + z SD`` with ``z`` the standard normal quantile of ``1 - expected / N`` (N voxels in
the analysis cylinder; a Bonferroni bound, so a floor no noise voxel is expected to reach).
A lesion whose brightest voxel lies below it is *faint*: noise alone could make it.

Faint lesions are kept and counted (dropping them could hide real calcium that partial volume
has dimmed: a wrong "not met"). Instead the rules are evaluated again without them, and a rule
met with them but not without them is ``indeterminate``, with the reason: the criterion rests
on calcium that cannot be told from noise. A rule met on lesions above the floor stays met.
Only contrast CT: on non-contrast CT the Agatston 130 HU threshold and its minimum area are the
validated method and are left as they are.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol, TypeVar

from scipy.stats import norm

from annulusview.core.flags import INDETERMINATE, MET, Flag


class LesionLike(Protocol):
    """What the noise floor reads of a lesion (``results.Lesion``; the aortic models sit
    below the results in core's layers, so the type is not imported)."""

    @property
    def id(self) -> int: ...

    @property
    def max_hu(self) -> float: ...

    @property
    def volume_mm3(self) -> float: ...


L = TypeVar("L", bound=LesionLike)


@dataclass(frozen=True)
class NoiseFloor:
    """The noise floor of one analysis and the lesions below it.

    Attributes
    ----------
    floor_hu
        ``lumen_hu + z * lumen_sd``, HU.
    z
        The normal quantile used.
    lumen_hu, lumen_sd
        The lumen's attenuation and noise, HU.
    region_voxels
        Voxels of the analysis cylinder (N).
    faint
        Ids of the lesions whose brightest voxel is below the floor.
    faint_mm3
        Their total volume, mm^3.
    """

    floor_hu: float
    z: float
    lumen_hu: float
    lumen_sd: float
    region_voxels: int
    faint: tuple[int, ...]
    faint_mm3: float

    def to_dict(self) -> dict[str, object]:
        return {
            "floor_hu": self.floor_hu,
            "z": self.z,
            "lumen_hu": self.lumen_hu,
            "lumen_sd_hu": self.lumen_sd,
            "region_voxels": self.region_voxels,
            "faint_lesion_ids": list(self.faint),
            "faint_volume_mm3": self.faint_mm3,
        }

    def reason(self) -> str:
        """Why a rule met only through faint lesions is indeterminate (the warning says more)."""
        return (
            f"met only through calcium that image noise alone could make ({len(self.faint)} "
            f"lesion(s), {self.faint_mm3:.1f} mm^3, brightest voxel below the noise floor of "
            f"{self.floor_hu:.0f} HU = lumen + {self.z:.1f} SD); without them not met. Check "
            "those lesions in the images"
        )

    def warning(self, threshold_hu: float) -> str:
        """What the reader is told when faint lesions were found."""
        margin = (threshold_hu - self.lumen_hu) / self.lumen_sd
        return (
            f"{len(self.faint)} calcium lesion(s) ({self.faint_mm3:.1f} mm^3) do not rise above "
            f"the lumen's noise: their brightest voxel is below the noise floor of "
            f"{self.floor_hu:.0f} HU, while the calcium threshold ({threshold_hu:.0f} HU) is "
            f"only {margin:.1f} SD above the lumen ({self.lumen_hu:.0f} HU, SD "
            f"{self.lumen_sd:.0f} HU). They are counted, but a rule met only through them is "
            "indeterminate. Check them in the images; a less noisy reconstruction would tell."
        )


def noise_floor(
    lesions: Sequence[LesionLike],
    lumen_hu: float | None,
    lumen_sd: float | None,
    region_volume_mm3: float,
    voxel_volume_mm3: float,
    expected_noise_voxels: float,
) -> NoiseFloor | None:
    """The noise floor and the faint lesions (None without a measured lumen noise)."""
    if lumen_hu is None or lumen_sd is None or not math.isfinite(lumen_sd) or lumen_sd <= 0:
        return None
    voxels = max(1, round(region_volume_mm3 / voxel_volume_mm3))
    z = float(norm.isf(expected_noise_voxels / voxels))
    floor = lumen_hu + z * lumen_sd
    faint = [les for les in lesions if les.max_hu < floor]
    faint_mm3 = float(sum(les.volume_mm3 for les in faint))
    return NoiseFloor(
        floor, z, lumen_hu, lumen_sd, voxels, tuple(les.id for les in faint), faint_mm3
    )


def above_floor(lesions: Sequence[L], floor: NoiseFloor) -> list[L]:
    """The lesions that noise alone is not expected to make."""
    faint = set(floor.faint)
    return [les for les in lesions if les.id not in faint]


def downgrade(
    flags: Sequence[Flag], without_faint: Sequence[Flag], floor: NoiseFloor
) -> tuple[Flag, ...]:
    """``flags`` with every rule that is met but not met without the faint lesions made
    ``indeterminate`` (same value and threshold, the reason said)."""
    by_id = {flag.id: flag for flag in without_faint}
    out = []
    for flag in flags:
        other = by_id.get(flag.id)
        if flag.status == MET and other is not None and other.status != MET:
            flag = _indeterminate(flag, floor.reason())
        out.append(flag)
    return tuple(out)


def descriptor_on_faint(
    flags: Sequence[Flag], rule_id: str, lesions: Sequence[LesionLike], floor: NoiseFloor
) -> tuple[tuple[Flag, ...], str | None]:
    """A descriptor rule (the MAC CT score, met with no level) read from ``lesions``: when every
    one of them is faint it is ``indeterminate``; when some are, a warning says the descriptor
    counts them. Returns the flags and that warning (None when no lesion is faint)."""
    faint = [les for les in lesions if les.max_hu < floor.floor_hu]
    if not faint:
        return tuple(flags), None
    volume = sum(les.volume_mm3 for les in faint)
    if len(faint) < len(lesions):
        return tuple(flags), (
            f"{len(faint)} of the {len(lesions)} lesions read by {rule_id} ({volume:.1f} mm^3) "
            f"do not rise above the lumen's noise (brightest voxel below {floor.floor_hu:.0f} "
            "HU); it counts them. Check them in the images."
        )
    reason = (
        f"every lesion it reads ({len(faint)}, {volume:.1f} mm^3) could be image noise: "
        f"brightest voxel below the noise floor of {floor.floor_hu:.0f} HU (lumen + "
        f"{floor.z:.1f} SD). Check them in the images"
    )
    out = tuple(
        _indeterminate(flag, reason) if flag.id == rule_id and flag.status == MET else flag
        for flag in flags
    )
    return out, f"{rule_id}: {reason}."


def _indeterminate(flag: Flag, reason: str) -> Flag:
    """``flag`` made indeterminate for ``reason``, its value, threshold and evidence kept."""
    return replace(
        flag, status=INDETERMINATE, level=None, message=f"Indeterminate: {reason}.", reason=reason
    )
