"""Transcatheter valve families and device-aware sizing (clinical-model.md section 7.1).

Families and their CT ranges live in ``resources/devices.toml`` with the instructions for use
they come from. Oversizing follows each family's convention: area-sized families
``(pi (size/2)^2 / area - 1) x 100``, perimeter-sized ``(pi size / perimeter - 1) x 100``. For every
family the sizing lists the size whose range holds the measured annulus, and ``borderline`` when
the value lies within 3 % of a range edge of the family or inside two ranges, or when the
value the annulus takes within ``annulus.plane_check_mm`` of the hinge plane reaches another
size (the plane check of annulus.py: a size that depends on where exactly the plane lies is
borderline however central the value at the plane itself).
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from annulusview.core.aortic.annulus import AnnulusMeasurement
from annulusview.core.aortic.valve import VALVE_TYPES, PlannedValve, oversizing_pct
from annulusview.core.errors import InputError
from annulusview.core.resources import resource_path

DEVICES_SCHEMA = "annulusview.devices/1"
BORDERLINE_PCT = 3.0
AREA, PERIMETER = "area", "perimeter"


@dataclass(frozen=True)
class SizeRange:
    nominal_mm: float
    min: float
    max: float

    def holds(self, value: float) -> bool:
        return self.min <= value <= self.max


@dataclass(frozen=True)
class Device:
    """A valve family: its type, sizing convention, sizes with CT ranges, and their source."""

    key: str
    name: str
    valve_type: str
    sizing: str
    sizes: tuple[SizeRange, ...]
    source: str
    verified: bool

    @property
    def unit(self) -> str:
        return "mm2" if self.sizing == AREA else "mm"

    def measured(self, annulus: AnnulusMeasurement) -> float | None:
        """The annulus value this family is sized by (None when the annulus was not sized)."""
        if not annulus.sized:
            return None
        return annulus.area_mm2 if self.sizing == AREA else annulus.perimeter_mm

    def measured_range(self, annulus: AnnulusMeasurement) -> tuple[float, float] | None:
        """That value's range over the plane check (None when not sized or not checked)."""
        if not annulus.sized:
            return None
        if self.sizing == AREA:
            return annulus.area_plane_range_mm2
        return annulus.perimeter_plane_range_mm

    def oversizing_pct(self, size_mm: float, annulus: AnnulusMeasurement) -> float | None:
        """Oversizing of ``size_mm`` by this family's convention, %."""
        value = self.measured(annulus)
        if value is None:
            return None
        return oversizing_pct(size_mm, value, by_area=self.sizing == AREA)

    def size(self, nominal_mm: float) -> SizeRange:
        for s in self.sizes:
            if abs(s.nominal_mm - nominal_mm) < 1e-6:
                return s
        sizes = ", ".join(f"{s.nominal_mm:g}" for s in self.sizes)
        raise InputError(
            f"{self.name} has no {nominal_mm:g} mm size.", f"Choose one of {sizes} mm."
        )

    def suggest(self, annulus: AnnulusMeasurement) -> dict[str, Any]:
        """The size whose range holds the annulus, with ``borderline`` and the rule used."""
        value = self.measured(annulus)
        out: dict[str, Any] = {
            "family": self.key,
            "name": self.name,
            "type": self.valve_type,
            "sizing": self.sizing,
            "unit": self.unit,
            "measured": value,
            "source": self.source,
            "verified": self.verified,
        }
        if value is None:
            out.update(
                status="not_assessed",
                reason="the annulus was not measured (sizing needs a contrast CTA).",
                suggested_size_mm=None,
                borderline=None,
                candidates=[],
                sizes_within_plane_check=[],
                measured_within_plane_check=None,
                oversizing_pct={},
            )
            return out
        holding = [s for s in self.sizes if s.holds(value)]
        edges = [e for s in self.sizes for e in (s.min, s.max)]
        near_edge = any(abs(value - e) <= BORDERLINE_PCT / 100.0 * e for e in edges)
        if holding:
            # inside two ranges: the size whose range centre is nearest the measured value
            best = min(holding, key=lambda s: abs(value - (s.min + s.max) / 2.0))
            suggested: float | None = best.nominal_mm
            rule = (
                "the measured value lies in two ranges; the size whose range centre is nearest"
                if len(holding) > 1
                else "the size whose range holds the measured value"
            )
        else:
            suggested, rule = None, "outside every range of this family"
        span = self.measured_range(annulus)
        across: list[float] = []
        if span is not None:
            across = [s.nominal_mm for s in self.sizes if s.min <= span[1] and s.max >= span[0]]
        plane_sensitive = bool(across) and across != [suggested]
        if span is not None and plane_sensitive:
            rule += (
                f"; within the plane check the value spans {span[0]:.0f}-{span[1]:.0f} "
                f"{self.unit}, which reaches size{'s' if len(across) > 1 else ''} "
                + ", ".join(f"{a:g}" for a in across)
                + " mm"
            )
        out.update(
            status="assessed",
            reason="",
            suggested_size_mm=suggested,
            borderline=bool(near_edge or len(holding) > 1 or plane_sensitive),
            candidates=[s.nominal_mm for s in holding],
            sizes_within_plane_check=across,
            measured_within_plane_check=None if span is None else [span[0], span[1]],
            rule=rule,
            oversizing_pct={
                f"{s.nominal_mm:g}": self.oversizing_pct(s.nominal_mm, annulus) for s in self.sizes
            },
        )
        return out


def _device(key: str, data: Mapping[str, Any]) -> Device:
    try:
        sizes = tuple(
            SizeRange(float(s["nominal_mm"]), float(s["min"]), float(s["max"]))
            for s in data["sizes"]
        )
        device = Device(
            key=key,
            name=str(data["name"]),
            valve_type=str(data["type"]),
            sizing=str(data["sizing"]),
            sizes=sizes,
            source=str(data["source"]),
            verified=bool(data.get("verified", False)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"Device family {key!r} in devices.toml is incomplete ({exc}).") from None
    if device.valve_type not in VALVE_TYPES or device.sizing not in (AREA, PERIMETER):
        raise InputError(f"Device family {key!r}: unknown type or sizing convention.")
    return device


@functools.cache
def load_devices() -> dict[str, Device]:
    """The shipped device families by key (``sapien3``, ``evolut``...)."""
    with resource_path("devices.toml").open("rb") as handle:
        data = tomllib.load(handle)
    if data.pop("schema", None) != DEVICES_SCHEMA:
        raise InputError(f"devices.toml is not {DEVICES_SCHEMA}.", "Reinstall AnnulusView.")
    return {key: _device(key, value) for key, value in data.items()}


def parse_valve_option(text: str, implant_depth_mm: float | None = None) -> PlannedValve:
    """``FAMILY:SIZE`` (e.g. ``sapien3:26``) as a planned valve of that family.

    Raises
    ------
    InputError
        Unknown family, a size the family does not have, or a malformed option.
    """
    family, sep, size_text = text.partition(":")
    devices = load_devices()
    if not sep or family.strip().lower() not in devices:
        raise InputError(
            f"Unknown valve {text!r}.",
            f"Use FAMILY:SIZE with a family of {', '.join(devices)}, e.g. sapien3:26.",
        )
    try:
        size = float(size_text)
    except ValueError:
        raise InputError(f"Valve size {size_text!r} is not a number.", "e.g. sapien3:26") from None
    return planned_valve(family, size, implant_depth_mm)


def planned_valve(
    family: str, size_mm: float, implant_depth_mm: float | None = None
) -> PlannedValve:
    """A planned valve of a shipped family and one of its sizes.

    Raises
    ------
    InputError
        Unknown family, or a size the family does not have.
    """
    devices = load_devices()
    key = family.strip().lower()
    if key not in devices:
        raise InputError(f"Unknown valve family {family!r}.", f"Use one of {', '.join(devices)}.")
    device = devices[key]
    device.size(size_mm)
    return PlannedValve(size_mm, device.valve_type, implant_depth_mm, family=device.key)


def sizing_table(annulus: AnnulusMeasurement) -> list[dict[str, Any]]:
    """Every family's suggested size for the measured annulus (section 7.1)."""
    return [device.suggest(annulus) for device in load_devices().values()]
