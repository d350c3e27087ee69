"""The planned transcatheter aortic valve (size, type, implant depth), checked when built."""

from __future__ import annotations

import math
from dataclasses import dataclass

from annulusview.core.errors import InputError

BALLOON, SELF_EXPANDING = "balloon", "self-expanding"
VALVE_TYPES = (BALLOON, SELF_EXPANDING)


def oversizing_pct(size_mm: float, measured: float, *, by_area: bool) -> float | None:
    """Oversizing of a valve of nominal ``size_mm`` against the annulus, %: by area
    ``pi (size/2)^2 / area - 1``, by perimeter ``pi size / perimeter - 1`` (None when the
    measured value is not positive)."""
    if measured <= 0:
        return None
    nominal = math.pi * (size_mm / 2.0) ** 2 if by_area else math.pi * size_mm
    return (nominal / measured - 1.0) * 100.0


#: Nominal transcatheter valve sizes accepted for a generic planned valve (mm): the
#: smallest and largest sizes any current family makes lie well inside.
VALVE_SIZE_RANGE_MM = (10.0, 40.0)

#: Deepest planned implant accepted (mm below the annular plane): deeper than any frame's
#: ventricular portion, so a larger number is a typing error, not a plan.
MAX_IMPLANT_DEPTH_MM = 20.0


@dataclass(frozen=True)
class PlannedValve:
    """Planned transcatheter valve (all optional).

    Attributes
    ----------
    size_mm
        Nominal valve size, mm.
    valve_type
        ``"balloon"`` or ``"self-expanding"``.
    implant_depth_mm
        Planned implant depth *below* the annular plane on the NCC side, mm (0 = at the plane;
        clinical-model.md section 1). Negative values are refused.
    family
        Device family key from ``resources/devices.toml`` (``sapien3``, ``evolut``), or None
        for a generic size and type.
    """

    size_mm: float | None = None
    valve_type: str | None = None
    implant_depth_mm: float | None = None
    family: str | None = None

    def __post_init__(self) -> None:
        if self.size_mm is not None and not (math.isfinite(self.size_mm) and self.size_mm > 0):
            raise InputError(
                f"Valve size {self.size_mm} mm is not a valve size.",
                "Give the nominal size in mm, e.g. 26.",
            )
        if self.valve_type is not None and self.valve_type not in VALVE_TYPES:
            raise InputError(
                f"Unknown valve type {self.valve_type!r}.", f"Use one of {', '.join(VALVE_TYPES)}."
            )
        depth = self.implant_depth_mm
        if depth is not None and not (math.isfinite(depth) and depth >= 0):
            raise InputError(
                f"Implant depth {depth} mm is not allowed: the depth is measured downward from "
                "the annular plane into the LVOT and cannot be negative.",
                "Give 0 for an implant at the annular plane, or the depth below it in mm.",
            )
        if depth is not None and depth > MAX_IMPLANT_DEPTH_MM:
            raise InputError(
                f"Implant depth {depth} mm is implausible.",
                f"Use 0-{MAX_IMPLANT_DEPTH_MM:.0f} mm below the annular plane.",
            )

    def area_oversizing_pct(self, annulus_area_mm2: float) -> float | None:
        """``(pi (size/2)^2 / annulus area - 1) x 100``, or None without a size."""
        if self.size_mm is None:
            return None
        return oversizing_pct(self.size_mm, annulus_area_mm2, by_area=True)

    def to_dict(self) -> dict[str, object]:
        return {
            "size_mm": self.size_mm,
            "type": self.valve_type,
            "implant_depth_mm": self.implant_depth_mm,
            "family": self.family,
            "implant_depth_convention": "mm below the annular plane (NCC side); h = -depth",
        }
