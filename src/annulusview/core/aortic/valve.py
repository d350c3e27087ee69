"""The planned transcatheter aortic valve (size, type, implant depth)."""

from __future__ import annotations

from dataclasses import dataclass


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
        Planned implant depth below the annulus, mm.
    """

    size_mm: float | None = None
    valve_type: str | None = None
    implant_depth_mm: float | None = None

    def area_oversizing_pct(self, annulus_area_mm2: float) -> float | None:
        """``(pi (size/2)^2 / annulus area - 1) x 100``, or None without a size."""
        if self.size_mm is None or annulus_area_mm2 <= 0:
            return None
        return (3.141592653589793 * (self.size_mm / 2.0) ** 2 / annulus_area_mm2 - 1.0) * 100.0

    def to_dict(self) -> dict[str, object]:
        return {
            "size_mm": self.size_mm,
            "type": self.valve_type,
            "implant_depth_mm": self.implant_depth_mm,
        }
