"""The rules schema: the type and the allowed range of every rules key, in one table.

:data:`NUMBERS` gives every numeric key of ``resources/rules/default.toml`` its range, unit
and the reason for the bounds; :data:`LISTS` the ascending lists of numbers; :data:`CHOICES`
the keys with a fixed set of values; :data:`ORDER` the pairs of keys that must keep an order.
String keys not named here (the ``evidence`` tables: references, populations, notes) are free
text, and ``verified`` keys are true or false; their type is checked against the default.

The bounds are physical and clinical plausibility limits, not recommendations: a value outside
them makes the numbers silently wrong (a contrast CT read as non-contrast, calcium cut off by a
region that no longer covers the LVOT) or the work unbounded (a step size near zero allocates
without limit). Every check raises :class:`RulesError` naming the dotted key, the value and the
allowed range, when the file is read.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from annulusview.core.errors import RulesError

RULES_SCHEMA = "annulusview.rules/2"
CONTRAST_METHODS = ("lumen_plus_100", "fixed_850", "by_lumen_450_850")


@dataclass(frozen=True)
class Number:
    """A finite number in ``[low, high]`` (an integral one when ``integer``).

    Attributes
    ----------
    low, high
        Inclusive bounds, in ``unit``.
    unit
        Unit shown in messages (``"mm"``, ``"HU"``, ``""`` for a fraction).
    why
        What the bounds protect, shown in messages.
    integer
        The value counts something: 2 and 2.0 are accepted, 2.5 is not.
    """

    low: float
    high: float
    unit: str = ""
    why: str = ""
    integer: bool = False

    def describe(self) -> str:
        """The allowed range in words, e.g. ``"a number from 1 to 8 mm"``."""
        kind = "a whole number" if self.integer else "a number"
        unit = f" {self.unit}" if self.unit else ""
        return f"{kind} from {self.low:g} to {self.high:g}{unit}"

    def accepts(self, value: Any) -> bool:
        """True for a finite number inside the bounds (never a bool)."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        # Compare before any float(): a 400-digit TOML integer would overflow float().
        if not (self.low <= value <= self.high):  # NaN fails here
            return False
        return not (self.integer and isinstance(value, float) and not value.is_integer())


@dataclass(frozen=True)
class NumberList:
    """A list of ``count`` strictly ascending numbers, each checked by ``each``."""

    count: int
    each: Number

    def describe(self) -> str:
        return f"a list of {self.count} ascending numbers, each {self.each.describe()}"

    def accepts(self, value: Any) -> bool:
        if not isinstance(value, list | tuple) or len(value) != self.count:
            return False
        if not all(self.each.accepts(v) for v in value):
            return False
        return all(a < b for a, b in itertools.pairwise(value))


def _hu(low: float, high: float, why: str) -> Number:
    return Number(low, high, "HU", why)


def _mm(low: float, high: float, why: str = "") -> Number:
    return Number(low, high, "mm", why)


# A calcium threshold below the Agatston 130 HU finds soft tissue and contrast blood as
# "calcium"; above 3000 HU only metal is left (the same limits as ``--threshold``).
CALCIUM_THRESHOLD = _hu(130.0, 3000.0, "a calcium threshold below 130 HU counts soft tissue")
_MM3_COUNT = Number(0.0, 1000.0, "mm^3", "a calcium volume limit")
_AGATSTON = Number(0.0, 20000.0, "AU", "an Agatston score")
_PCT = Number(1.0, 100.0, "%", "a share of the circumference")
_NODULES = Number(1, 20, "nodules", "a count of LVOT calcium nodules", integer=True)
_MAC_POINTS = Number(1, 10, "points", "a MAC CT score (total 0-10)", integer=True)
_NEAR = _mm(0.5, 20.0, "a distance from the mitral annulus curve")

#: Every numeric rules key: range, unit and why. Step and pixel sizes have a lower bound so
#: that the planes, sections and samples they make stay a bounded size.
NUMBERS: Mapping[str, Number] = {
    # Lumen attenuation (section 5)
    "contrast.lumen_sphere_radius_mm": _mm(
        1.0, 8.0, "the sphere must hold voxels and fit in an LVOT about 20 mm wide"
    ),
    "contrast.lumen_sphere_offset_mm": _mm(0.0, 15.0, "the sphere must stay in the LVOT"),
    "contrast.contrast_min_hu": _hu(
        150.0, 500.0, "an opacified CTA lumen; blood without contrast is 30-60 HU"
    ),
    "contrast.non_contrast_max_hu": _hu(
        60.0, 150.0, "blood without contrast (30-60 HU) must read as non-contrast, a CTA not"
    ),
    # Calcium threshold (section 5)
    "threshold.noncontrast_hu": CALCIUM_THRESHOLD,
    "threshold.lumen_plus_offset_hu": _hu(
        50.0, 1000.0, "the threshold must clear lumen noise (SD 20-50 HU)"
    ),
    "threshold.fixed_hu": CALCIUM_THRESHOLD,
    "threshold.by_lumen_low_hu": CALCIUM_THRESHOLD,
    "threshold.by_lumen_high_hu": CALCIUM_THRESHOLD,
    "threshold.by_lumen_switch_hu": _hu(150.0, 1000.0, "a lumen attenuation on a CTA"),
    "threshold.min_lesion_mm3": Number(
        0.1, 50.0, "mm^3", "smaller keeps single noise voxels; larger drops real lesions"
    ),
    "threshold.min_margin_above_lumen_hu": _hu(
        20.0, 500.0, "a smaller margin counts noisy contrast blood as calcium"
    ),
    "calcium_noise.expected_noise_voxels": Number(
        1e-4, 1.0, "voxels", "how many noise voxels may pass the noise floor"
    ),
    # Analysis cylinder around the annulus
    "analysis_region.radial_margin_mm": _mm(1.0, 30.0, "the cylinder around the annulus"),
    "analysis_region.h_min_mm": _mm(-50.0, -1.0, "the cylinder must reach into the LVOT"),
    "analysis_region.h_max_mm": _mm(1.0, 60.0, "the cylinder must reach above the leaflets"),
    # Annulus contour (section 4)
    "annulus.reformat_pixel_mm": _mm(
        0.1, 0.25, "the plane is sampled at 0.25 mm at most; finer than 0.1 mm only grows it"
    ),
    "annulus.max_radius_mm": _mm(20.0, 40.0, "must exceed the largest adult annulus radius"),
    "annulus.calcium_exclusion_mm": _mm(0.0, 5.0, "a halo around wall calcium"),
    "annulus.min_area_ratio": Number(0.1, 1.0, "", "contour / hinge-circle area"),
    "annulus.max_area_ratio": Number(1.0, 10.0, "", "contour / hinge-circle area"),
    "annulus.plane_check_mm": _mm(0.1, 3.0, "how far the plane is moved to check the area"),
    "annulus.plane_change_warn_pct": Number(1.0, 100.0, "%", "a change of the annulus area"),
    # Regions in the annulus frame (section 6)
    "regions.radial_margin_mm": _mm(0.0, 20.0, "beyond the annulus radius"),
    "regions.leaflet_h_min_mm": _mm(0.0, 10.0, "the leaflet band starts at the annulus"),
    "regions.leaflet_h_max_mm": _mm(5.0, 40.0, "the leaflet band must hold the leaflets"),
    "regions.annulus_half_height_mm": _mm(0.5, 10.0, "the annulus band around h = 0"),
    "regions.lvot_h_min_mm": _mm(-30.0, -1.0, "the LVOT band below the annulus"),
    "regions.conduction_before_deg": Number(0.0, 90.0, "deg", "an angle of the zone"),
    "regions.conduction_past_rcc_deg": Number(0.0, 90.0, "deg", "an angle of the zone"),
    "regions.conduction_top_offset_mm": _mm(0.0, 5.0, "above MS_inferior"),
    "regions.conduction_depth_mm": _mm(1.0, 30.0, "the zone's height"),
    "regions.conduction_r_inner_mm": _mm(0.0, 10.0, "inside the annulus radius"),
    "regions.conduction_r_outer_mm": _mm(0.5, 15.0, "outside the annulus radius"),
    # Aortic valve calcium region of the AS rule
    "avc.h_min_mm": _mm(-10.0, 0.0, "the valve region starts at or below the annulus"),
    "avc.h_max_mm": _mm(5.0, 40.0, "the valve region must hold the leaflets"),
    "avc.radial_margin_mm": _mm(0.0, 15.0, "beyond the annulus radius"),
    "avc.ostium_exclusion_mm": _mm(0.0, 15.0, "around each coronary ostium"),
    # LVOT calcium grade
    "lvot_grade.moderate_min_nodules": _NODULES,
    "lvot_grade.severe_min_nodules": _NODULES,
    "lvot_grade.moderate_extension_mm": _mm(0.5, 50.0, "a nodule's extent along the axis"),
    "lvot_grade.severe_extension_mm": _mm(0.5, 50.0, "a nodule's extent along the axis"),
    "lvot_grade.moderate_coverage_pct": _PCT,
    "lvot_grade.severe_coverage_pct": _PCT,
    # Agatston score (Agatston 1990)
    "agatston.threshold_hu": CALCIUM_THRESHOLD,
    "agatston.min_area_mm2": Number(0.1, 10.0, "mm^2", "smaller counts noise pixels"),
    "agatston.reference_increment_mm": _mm(0.5, 10.0, "the scores are scaled by it"),
    "agatston.slab_below_thickness_mm": _mm(0.0, 5.0, "a slice thickness"),
    "agatston.slab_mm": _mm(0.5, 10.0, "a reconstruction thickness"),
    # Risk rules (section 7)
    "flags.pvl_lvot_calcium.min_gt_mm3": _MM3_COUNT,
    "flags.pvl_leaflet_calcium_850.min_ge_mm3": Number(0.0, 5000.0, "mm^3", "a volume"),
    "flags.pvl_leaflet_calcium_850.threshold_hu": CALCIUM_THRESHOLD,
    "flags.pvl_protrusion.inward_gt_mm": _mm(0.0, 20.0, "an inward extent"),
    "flags.pvl_undersizing_with_lvot_calcium.lt_pct": Number(
        -50.0, 50.0, "%", "an area oversizing (negative: undersized)"
    ),
    "flags.rupture_lvot_calcium_oversizing.oversizing_ge_pct": Number(
        0.0, 100.0, "%", "an area oversizing"
    ),
    "flags.conduction_ms_length.high_lt_mm": _mm(0.0, 20.0, "a membranous septum length"),
    "flags.conduction_ms_length.moderate_le_mm": _mm(0.0, 20.0, "a membranous septum length"),
    "flags.conduction_delta_msid.lt_mm": _mm(-20.0, 20.0, "MS length minus implant depth"),
    "flags.conduction_zone_calcium.min_gt_mm3": _MM3_COUNT,
    "flags.coronary_obstruction.vtc_le_mm": _mm(0.0, 15.0, "a valve-to-coronary distance"),
    "flags.coronary_obstruction.height_lt_mm": _mm(0.0, 30.0, "a coronary ostium height"),
    "flags.coronary_obstruction.sinus_lt_mm": _mm(15.0, 60.0, "a sinus of Valsalva diameter"),
    "flags.coronary_obstruction.cusp_calcium_gt_mm3": Number(
        0.0, 5000.0, "mm^3", "a leaflet calcium volume"
    ),
    "flags.as_agatston.men_very_likely_ge": _AGATSTON,
    "flags.as_agatston.men_likely_ge": _AGATSTON,
    "flags.as_agatston.men_unlikely_lt": _AGATSTON,
    "flags.as_agatston.women_very_likely_ge": _AGATSTON,
    "flags.as_agatston.women_likely_ge": _AGATSTON,
    "flags.as_agatston.women_unlikely_lt": _AGATSTON,
    "flags.as_agatston.required_kvp": Number(70.0, 150.0, "kVp", "a CT tube voltage"),
    # Mitral annulus and MAC (section 8)
    "mitral.min_curve_points": Number(4, 500, "points", "MA_* points of a curve", integer=True),
    "mitral.curve_sample_step_mm": _mm(0.05, 2.0, "samples along a ~100-150 mm curve"),
    "mitral.mac_max_distance_mm": _NEAR,
    "mitral.extent_distance_mm": _NEAR,
    "mitral.trigone_distance_mm": _NEAR,
    "mitral.crop_margin_mm": _mm(1.0, 40.0, "the box around annulus and leaflets"),
    "mitral.thickness_step_mm": _mm(0.1, 5.0, "a step along the calcified curve"),
    "mitral.thickness_window_mm": _mm(2.0, 40.0, "how far a bar is followed"),
    "mitral.thickness_min_mm": _mm(0.0, 10.0, "a MAC thickness"),
    "mitral.leaflet_inset_mm": _mm(0.0, 20.0, "beyond the bar's inner edge"),
    "mitral.leaflet_atrial_mm": _mm(0.0, 20.0, "on the atrial side"),
    "mitral.leaflet_ventricular_mm": _mm(0.0, 40.0, "on the ventricular side"),
    "mitral.leaflet_min_mm3": _MM3_COUNT,
    "mitral.caseous_min_enclosed_mm3": Number(1.0, 10000.0, "mm^3", "an enclosed core"),
    "mitral.grade_moderate_min": _MAC_POINTS,
    "mitral.grade_severe_min": _MAC_POINTS,
    # Neo-LVOT (section 8)
    "neo_lvot.valve_diameter_mm": _mm(15.0, 60.0, "a transcatheter mitral valve"),
    "neo_lvot.valve_height_mm": _mm(5.0, 80.0, "a transcatheter mitral valve"),
    "neo_lvot.ventricular_share": Number(0.0, 1.0, "", "a fraction of the valve height"),
    "neo_lvot.myocardium_hu": _hu(0.0, 300.0, "enhanced myocardium"),
    "neo_lvot.seed_offset_mm": _mm(0.0, 20.0, "below the aortic annulus"),
    "neo_lvot.min_valve_lumen_fraction": Number(0.0, 1.0, "", "a fraction"),
    "neo_lvot.coarse_step_mm": _mm(1.0, 5.0, "planes along the LVOT axis"),
    "neo_lvot.coarse_pixel_mm": _mm(0.5, 2.0, "section pixels"),
    "neo_lvot.step_mm": _mm(0.25, 5.0, "planes along the LVOT axis"),
    "neo_lvot.pixel_mm": _mm(0.25, 0.5, "sections are sampled at 0.5 mm at most"),
    "neo_lvot.window_half_width_mm": _mm(10.0, 30.0, "the section window"),
    "neo_lvot.centreline_search_mm": _mm(0.0, 20.0, "from the LVOT axis"),
    "neo_lvot.depth_margin_mm": _mm(0.0, 20.0, "past the valve"),
    "neo_lvot.max_depth_mm": _mm(10.0, 80.0, "below the aortic annulus"),
    "neo_lvot.high_le_mm2": Number(0.0, 1000.0, "mm^2", "a neo-LVOT area"),
    # Landmark plausibility (see [hinge_plausibility] in default.toml)
    "hinge_plausibility.radius_min_mm": _mm(3.0, 15.0, "a hinge circle radius"),
    "hinge_plausibility.radius_max_mm": _mm(10.0, 40.0, "a hinge circle radius"),
    "hinge_plausibility.centre_sphere_radius_mm": _mm(1.0, 8.0, "a sphere inside the annulus"),
    "hinge_plausibility.centre_min_hu": _hu(-200.0, 20.0, "between fat and blood"),
    "hinge_plausibility.centre_max_hu": _hu(600.0, 3000.0, "above any contrast lumen"),
}

#: Ascending lists of numbers.
LISTS: Mapping[str, NumberList] = {
    "agatston.weight_edges_hu": NumberList(4, CALCIUM_THRESHOLD),
    "mitral.score_thickness_edges_mm": NumberList(2, _mm(0.5, 50.0, "a MAC thickness")),
    "mitral.score_extent_edges_deg": NumberList(2, Number(0.0, 360.0, "deg", "an arc")),
}

#: Keys with a fixed set of values; ``threshold.contrast_method`` also takes a HU number.
CHOICES: Mapping[str, tuple[str, ...]] = {
    "schema": (RULES_SCHEMA,),
    "threshold.contrast_method": CONTRAST_METHODS,
}
NUMBER_OR_CHOICE: Mapping[str, Number] = {"threshold.contrast_method": CALCIUM_THRESHOLD}

#: ``(lower, relation, upper, why)``: ``value(lower) relation value(upper)`` must hold. A key
#: written ``-key`` stands for minus its value; ``key[0]`` for the first item of a list.
ORDER: tuple[tuple[str, str, str, str], ...] = (
    ("contrast.non_contrast_max_hu", "<=", "contrast.contrast_min_hu",
     "a lumen cannot be both non-contrast and contrast"),
    ("threshold.by_lumen_low_hu", "<=", "threshold.by_lumen_high_hu", "the brighter lumen's"),
    ("threshold.min_margin_above_lumen_hu", "<", "threshold.lumen_plus_offset_hu",
     "else lumen_plus_100 is always refused"),
    ("analysis_region.h_min_mm", "<=", "regions.lvot_h_min_mm",
     "the analysis cylinder must hold the LVOT region"),
    ("analysis_region.h_min_mm", "<=", "-regions.conduction_depth_mm",
     "the analysis cylinder must hold the conduction zone"),
    ("analysis_region.h_min_mm", "<=", "avc.h_min_mm", "it must hold the valve region"),
    ("regions.leaflet_h_max_mm", "<=", "analysis_region.h_max_mm",
     "the analysis cylinder must hold the leaflet region"),
    ("avc.h_max_mm", "<=", "analysis_region.h_max_mm", "it must hold the valve region"),
    ("regions.radial_margin_mm", "<=", "analysis_region.radial_margin_mm",
     "the analysis cylinder must hold the regions"),
    ("regions.conduction_r_outer_mm", "<=", "analysis_region.radial_margin_mm",
     "the analysis cylinder must hold the conduction zone"),
    ("avc.radial_margin_mm", "<=", "analysis_region.radial_margin_mm",
     "the analysis cylinder must hold the valve region"),
    ("annulus.min_area_ratio", "<", "annulus.max_area_ratio", "a range"),
    ("hinge_plausibility.radius_max_mm", "<", "annulus.max_radius_mm",
     "the lumen contour must reach the widest accepted annulus"),
    ("regions.annulus_half_height_mm", "<=", "regions.leaflet_h_min_mm",
     "the leaflet and annulus regions must not overlap"),
    ("regions.leaflet_h_min_mm", "<", "regions.leaflet_h_max_mm", "a range"),
    ("regions.lvot_h_min_mm", "<", "-regions.annulus_half_height_mm",
     "the LVOT region lies below the annulus band"),
    ("avc.h_min_mm", "<", "avc.h_max_mm", "a range"),
    ("lvot_grade.moderate_min_nodules", "<=", "lvot_grade.severe_min_nodules", "the grades"),
    ("lvot_grade.moderate_extension_mm", "<=", "lvot_grade.severe_extension_mm", "the grades"),
    ("lvot_grade.moderate_coverage_pct", "<=", "lvot_grade.severe_coverage_pct", "the grades"),
    ("agatston.weight_edges_hu[0]", "<=", "agatston.threshold_hu",
     "pixels from the threshold up must have a weight"),
    ("flags.conduction_ms_length.high_lt_mm", "<=", "flags.conduction_ms_length.moderate_le_mm",
     "the strata"),
    ("flags.as_agatston.men_unlikely_lt", "<=", "flags.as_agatston.men_likely_ge", "the bands"),
    ("flags.as_agatston.men_likely_ge", "<=", "flags.as_agatston.men_very_likely_ge",
     "the bands"),
    ("flags.as_agatston.women_unlikely_lt", "<=", "flags.as_agatston.women_likely_ge",
     "the bands"),
    ("flags.as_agatston.women_likely_ge", "<=", "flags.as_agatston.women_very_likely_ge",
     "the bands"),
    ("mitral.mac_max_distance_mm", "<=", "mitral.crop_margin_mm",
     "the crop must hold the calcium near the annulus"),
    ("mitral.extent_distance_mm", "<=", "mitral.crop_margin_mm", "the crop must hold it"),
    ("mitral.trigone_distance_mm", "<=", "mitral.crop_margin_mm", "the crop must hold it"),
    ("mitral.thickness_min_mm", "<", "mitral.thickness_window_mm", "a bar must fit the window"),
    ("mitral.grade_moderate_min", "<", "mitral.grade_severe_min", "the grades"),
    ("neo_lvot.myocardium_hu", "<", "contrast.contrast_min_hu",
     "the lumen threshold lies between myocardium and contrast blood"),
    ("neo_lvot.step_mm", "<=", "neo_lvot.coarse_step_mm", "the fine pass refines the coarse"),
    ("neo_lvot.centreline_search_mm", "<=", "neo_lvot.window_half_width_mm",
     "the search stays in the section window"),
    ("hinge_plausibility.radius_min_mm", "<", "hinge_plausibility.radius_max_mm", "a range"),
    ("hinge_plausibility.centre_min_hu", "<", "hinge_plausibility.centre_max_hu", "a range"),
)  # fmt: skip


def shown(value: Any) -> str:
    """A value for a message, cut short (a 4,000-digit integer must not fill the screen)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10**30:
        # repr() itself fails past 4,300 digits (Python's integer string conversion limit)
        digits = math.floor(math.log10(abs(value))) + 1
        digits -= 10 ** (digits - 1) > abs(value)  # log10 rounds up just below a power of 10
        return f"an integer of {digits} digits"
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:20]}...({len(text)} characters)"


def _where(source: str) -> str:
    return f" in {source}" if source else ""


def check_value(key: str, value: Any, source: str = "") -> None:
    """Check one value against the table; raise :class:`RulesError` naming the key.

    Parameters
    ----------
    key
        Dotted key, e.g. ``"contrast.lumen_sphere_radius_mm"``.
    value
        The value as read from TOML (or passed as an override).
    source
        Where the value came from (a file name), for the message.
    """
    hint = "Fix the value or remove the key to use the default."
    if key in CHOICES:
        choices = CHOICES[key]
        number = NUMBER_OR_CHOICE.get(key)
        is_number = isinstance(value, int | float) and not isinstance(value, bool)
        if number is not None and is_number:
            if not number.accepts(value):
                raise RulesError(
                    f"Rules key {key!r} is {shown(value)}{_where(source)}; a HU value must be "
                    f"{number.describe()} ({number.why}).",
                    hint,
                )
            return
        if value not in choices:
            also = " or a HU value" if number is not None else ""
            raise RulesError(
                f"Rules key {key!r} is {shown(value)}{_where(source)}; it must be one of "
                f"{', '.join(choices)}{also}.",
                hint,
            )
        return
    spec: Number | NumberList | None = NUMBERS.get(key) or LISTS.get(key)
    if spec is None:
        return  # free text and true/false: typed against the default by the loader
    if not spec.accepts(value):
        why = spec.why if isinstance(spec, Number) else spec.each.why
        raise RulesError(
            f"Rules key {key!r} is {shown(value)}{_where(source)}; it must be "
            f"{spec.describe()} ({why}).",
            hint,
        )


def _lookup(data: Mapping[str, Any], key: str) -> float:
    """The value at an :data:`ORDER` operand (``key``, ``-key`` or ``key[i]``)."""
    sign = -1.0 if key.startswith("-") else 1.0
    key = key.lstrip("-")
    index = None
    if key.endswith("]"):
        key, _, rest = key.partition("[")
        index = int(rest[:-1])
    node: Any = data
    for part in key.split("."):
        node = node[part]
    if index is not None:
        node = node[index]
    return sign * float(node)


def _leaves(data: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for name, value in data.items():
        key = f"{prefix}{name}"
        if isinstance(value, Mapping):
            out.extend(_leaves(value, f"{key}."))
        else:
            out.append((key, value))
    return out


def numeric_keys(data: Mapping[str, Any]) -> set[str]:
    """The dotted keys of ``data`` that hold a number (not a bool)."""
    return {
        key
        for key, value in _leaves(data)
        if isinstance(value, int | float) and not isinstance(value, bool)
    }


def validate(data: Mapping[str, Any], source: str = "") -> None:
    """Check every value of the merged rules and the order of the :data:`ORDER` pairs.

    Raises
    ------
    RulesError
        The first bad value or broken order, naming the key(s), the value(s) and the range.
    """
    for key, value in _leaves(data):
        declared = key in CHOICES or key in LISTS or key in NUMBERS
        if not declared and isinstance(value, int | float) and not isinstance(value, bool):
            # A numeric key without a declared range is a gap in this table.
            raise RulesError(f"Rules key {key!r} has no declared range (internal error).")
        check_value(key, value, source)
    for lower, relation, upper, why in ORDER:
        a, b = _lookup(data, lower), _lookup(data, upper)
        if not (a < b if relation == "<" else a <= b):
            shown = [f"{k.lstrip('-')} = {_lookup(data, k.lstrip('-')):g}" for k in (lower, upper)]
            raise RulesError(
                f"Rules keys {shown[0]} and {shown[1]}{_where(source)} break "
                f"{lower} {relation} {upper}: {why}.",
                "Fix one of the two values.",
            )
