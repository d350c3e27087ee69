"""The mitral section of an analysis: annulus, MAC and neo-LVOT, with their flags.

The entry point is :func:`analyze_mitral`; it never raises for missing or unusable mitral
inputs, it records ``not_assessed`` with the reason instead. Decision support for planning and
teaching, not a diagnosis.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from annulusview.core.flags import HIGH, MET, Flag, met, not_assessed, not_met
from annulusview.core.landmarks import Landmarks
from annulusview.core.mitral.annulus import LANDMARK_CURVE, MitralAnnulus, fit_mitral_annulus
from annulusview.core.mitral.common import (
    NotAssessed,
    median_hu_in_sphere,
    round_opt,
    unit,
)
from annulusview.core.mitral.dshape import (
    EMPTY_MEASUREMENTS,
    DShape,
    aorto_mitral_angle_deg,
    d_shape_from_landmarks,
)
from annulusview.core.mitral.mac import TRIGONES, MacResult, analyze_mac
from annulusview.core.mitral.neo_lvot import (
    NeoLvotResult,
    ValveBesideLvot,
    VirtualValve,
    analyze_neo_lvot,
)
from annulusview.core.progress import CancelToken, ProgressCallback, report
from annulusview.core.rules import Rules, coerce_rules
from annulusview.core.volume import Volume

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class MitralResults:
    """The ``mitral`` section of the results.

    Attributes
    ----------
    annulus, mac, neo_lvot
        Each part, or None when not assessed (``not_assessed`` says why).
    d_shape
        The D-shaped annulus for TMVR sizing (Blanke et al. 2015), or None (needs the annulus
        and both trigones; ``not_assessed["d_shape"]`` says why when the annulus exists).
    aorto_mitral_angle_deg
        Acute angle (0-90 degrees) between the aortic annulus normal ``n`` and the mitral
        normal ``N``, or None (needs the annulus and ``n``; ``not_assessed["aorto_mitral_angle"]``
        says why when the annulus exists).
    flags
        ``mitral.mac_score`` and ``mitral.neo_lvot`` (always both; ``not_assessed`` when their
        inputs are missing).
    warnings
        Findings the user must know about.
    not_assessed
        Part name (``annulus``, ``mac``, ``neo_lvot``, ``d_shape``, ``aorto_mitral_angle``)
        -> reason.
    parameters
        Every rule value and input setting used.
    """

    annulus: MitralAnnulus | None
    mac: MacResult | None
    neo_lvot: NeoLvotResult | None
    flags: tuple[Flag, ...] = ()
    warnings: tuple[str, ...] = ()
    not_assessed: Mapping[str, str] = field(default_factory=dict)
    parameters: Mapping[str, Any] = field(default_factory=dict)
    d_shape: DShape | None = None
    aorto_mitral_angle_deg: float | None = None

    @property
    def status(self) -> str:
        """``assessed`` (all parts), ``partial`` or ``not_assessed`` (nothing)."""
        parts = (self.annulus, self.mac, self.neo_lvot)
        done = sum(p is not None for p in parts)
        return "assessed" if done == 3 else "not_assessed" if done == 0 else "partial"

    def _annulus_dict(self) -> dict[str, object] | None:
        """The annulus measurements with the D-shape numbers (results contract, schema 2).

        In the contract ``d_perimeter_mm`` of the mitral annulus is the perimeter of the D
        shape; the perimeter-derived diameter the annulus reported under that name before is
        kept as ``perimeter_derived_diameter_mm``.
        """
        if self.annulus is None:
            return None
        data = self.annulus.to_dict()
        data["perimeter_derived_diameter_mm"] = data.pop("d_perimeter_mm")
        if self.d_shape is None:
            data.update(EMPTY_MEASUREMENTS)
            data["d_shape"] = None
        else:
            data.update(self.d_shape.measurements())
            data["d_shape"] = self.d_shape.points_dict()
        return data

    def to_dict(self) -> dict[str, object]:
        """JSON-ready ``mitral`` section (layout in ``.notes-mitral.md`` / the docs)."""
        return {
            "status": self.status,
            "annulus": self._annulus_dict(),
            "aorto_mitral_angle_deg": round_opt(self.aorto_mitral_angle_deg, 1),
            "mac": self.mac.to_dict() if self.mac else None,
            "neo_lvot": self.neo_lvot.to_dict() if self.neo_lvot else None,
            "flags": [flag.to_dict() for flag in self.flags],
            "warnings": list(self.warnings),
            "not_assessed": dict(self.not_assessed),
            "parameters": dict(self.parameters),
        }


def _mac_flag(mac: MacResult | None, reason: str, rules: Rules) -> Flag:
    """The MAC CT score as a descriptor: met with no risk level (it was derived for valve-in-MAC
    embolisation, not as a general risk grade)."""
    evidence = rules.evidence("mitral")
    if mac is None:
        return not_assessed("mitral.mac_score", reason or "no MAC analysis.", evidence, "points")
    s = mac.score
    parts = (
        f"thickness {s.thickness}, extent {s.extent}, trigones {s.trigones}, leaflets {s.leaflets}"
    )
    if s.grade == "none":
        message = "No mitral annular calcification near the annulus (MAC CT score 0)."
    else:
        message = (
            f"MAC CT score {s.total} of 10, {s.grade} MAC ({parts}); in the source higher "
            "scores went with more valve embolization in valve-in-MAC."
        )
    return Flag("mitral.mac_score", MET, None, float(s.total), None, message, evidence, "points")


def _neo_flag(
    neo: NeoLvotResult | None, reason: str, rules: Rules, beside: ValveBesideLvot | None = None
) -> Flag:
    limit = rules.number("neo_lvot.high_le_mm2")
    evidence = rules.evidence("neo_lvot")
    if beside is not None:
        return not_met(
            "mitral.neo_lvot", round(beside.native_area_mm2, 1), limit, beside.message, evidence,
            "mm2",
        )  # fmt: skip
    if neo is None:
        return not_assessed("mitral.neo_lvot", reason or "no neo-LVOT.", evidence, "mm2")
    area = neo.area_mm2
    if area <= limit:
        return met(
            "mitral.neo_lvot",
            HIGH,
            round(area, 1),
            limit,
            f"Criterion met: predicted neo-LVOT area {area:.0f} mm² <= {limit:g} mm² (LVOT "
            "obstruction after transcatheter mitral valve replacement in the sources).",
            evidence,
            "mm2",
        )
    return not_met(
        "mitral.neo_lvot",
        round(area, 1),
        limit,
        f"Criterion not met: predicted neo-LVOT area {area:.0f} mm² > {limit:g} mm².",
        evidence,
        "mm2",
    )


def _parameters(
    rules: Rules, valve: VirtualValve | None, extra: Mapping[str, Any]
) -> dict[str, Any]:
    data = rules.to_dict()
    out: dict[str, Any] = {
        "mitral": data.get("mitral", {}),
        "neo_lvot": data.get("neo_lvot", {}),
        "min_lesion_mm3": data.get("threshold", {}).get("min_lesion_mm3"),
    }
    if valve is not None:
        out["valve"] = valve.to_dict()
    out.update(extra)
    return out


def analyze_mitral(
    volume: Volume,
    landmarks: Landmarks,
    calcium_mask_or_threshold: npt.NDArray[np.bool_] | float | None = None,
    *,
    aortic_origin: npt.ArrayLike | None = None,
    aortic_normal: npt.ArrayLike | None = None,
    lumen_hu: float | None = None,
    contrast: bool = True,
    calcium_reason: str = "",
    valve: VirtualValve | None = None,
    lv_direction: npt.ArrayLike | None = None,
    rules: Rules | str | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> MitralResults:
    """Mitral annulus, MAC, MAC CT score and neo-LVOT: the ``mitral`` section of the results.

    Never raises for missing or unusable mitral inputs: each part that cannot be made is None
    with its reason in ``not_assessed``, and the two flags say ``not_assessed``.

    Parameters
    ----------
    volume
        The CT volume.
    landmarks
        Landmarks (``MA_*`` and/or ``MV_*``, trigones), LPS mm.
    calcium_mask_or_threshold
        Calcium as a boolean mask over the whole volume, or a threshold in HU (the engine's
        ``T``). None: 130 HU on non-contrast CT, ``lumen_hu + 100`` on contrast CT (section 5).
    aortic_origin, aortic_normal
        Aortic annulus centre ``O`` (LPS mm) and normal ``n`` (toward the aorta). Needed for the
        neo-LVOT; ``n`` also orients the mitral normal toward the LV.
    lumen_hu
        Lumen attenuation ``LA`` (HU); measured at ``O - 5 n`` when None.
    contrast
        Contrast-enhanced study; the neo-LVOT needs contrast.
    calcium_reason
        Why no calcium may be thresholded on this study (indeterminate contrast, a threshold
        inside the lumen); MAC and neo-LVOT are then not assessed, with this reason.
    valve
        Virtual valve for the neo-LVOT; the rules defaults when None.
    lv_direction
        Optional explicit direction toward the LV apex (LPS).
    rules
        Rules (or a path to a user rules file); the defaults when None.
    progress, cancel
        Progress callback and cancellation token.
    """
    rules = coerce_rules(rules)
    warnings: list[str] = []
    reasons: dict[str, str] = {}
    report(progress, 0.0, "Mitral annulus")
    origin = None if aortic_origin is None else np.asarray(aortic_origin, dtype=np.float64)
    normal = None if aortic_normal is None else unit(aortic_normal)
    if lumen_hu is None and origin is not None and normal is not None:
        centre = origin - rules.number("contrast.lumen_sphere_offset_mm") * normal
        lumen_hu = median_hu_in_sphere(
            volume, centre, rules.number("contrast.lumen_sphere_radius_mm")
        )
    if valve is None:
        valve = VirtualValve.from_rules(rules)

    annulus: MitralAnnulus | None = None
    try:
        annulus, found = fit_mitral_annulus(
            landmarks,
            lv_direction=lv_direction,
            aortic_normal=normal,
            aortic_origin=origin,
            rules=rules,
        )
        warnings.extend(found)
    except NotAssessed as exc:
        reasons["annulus"] = exc.message

    d_shape: DShape | None = None
    angle: float | None = None
    if annulus is not None:
        # the aortic annulus centre marks the anterior (aortic) side of the trigone line;
        # MV_anterior (on the anterior annulus) does when the aortic hinges are not placed
        aortic_side = origin if origin is not None else landmarks.get("MV_anterior")
        try:
            d_shape = d_shape_from_landmarks(
                annulus.curve_lps,
                annulus.center_lps,
                annulus.normal_lps,
                landmarks,
                aortic_side_lps=aortic_side,
            )
        except NotAssessed as exc:
            reasons["d_shape"] = exc.message
        if normal is None:
            reasons["aorto_mitral_angle"] = (
                "Aorto-mitral angle not assessed: needs the aortic annulus normal (place the "
                "aortic hinges)."
            )
        else:
            angle = aorto_mitral_angle_deg(normal, annulus.normal_lps)
    for name in (*LANDMARK_CURVE, *TRIGONES.values()):
        pos = landmarks.get(name)
        if pos is not None and not volume.contains_lps(pos):
            warnings.append(f"Mitral landmark {name} lies outside the CT volume.")

    threshold: npt.NDArray[np.bool_] | float | None = calcium_mask_or_threshold
    if threshold is None:
        if not contrast:
            threshold = rules.number("threshold.noncontrast_hu")
        elif lumen_hu is not None:
            threshold = lumen_hu + rules.number("threshold.lumen_plus_offset_hu")

    mac: MacResult | None = None
    if calcium_reason:
        reasons["mac"] = f"MAC not assessed: {calcium_reason}"
    elif annulus is None:
        reasons["mac"] = "MAC not assessed: no mitral annulus (see annulus)."
    elif threshold is None:
        reasons["mac"] = (
            "MAC not assessed: no calcium threshold (contrast CT without a lumen attenuation; "
            "place the aortic hinges or give a threshold)."
        )
    else:
        report(progress, 0.2, "Mitral annular calcification")
        try:
            mac, found = analyze_mac(
                volume, annulus, threshold, landmarks, rules=rules, cancel=cancel
            )
            warnings.extend(found)
        except NotAssessed as exc:
            reasons["mac"] = exc.message

    neo: NeoLvotResult | None = None
    beside: ValveBesideLvot | None = None
    if calcium_reason:
        reasons["neo_lvot"] = f"Neo-LVOT not assessed: {calcium_reason}"
    elif annulus is None:
        reasons["neo_lvot"] = "Neo-LVOT not assessed: no mitral annulus (see annulus)."
    else:
        report(progress, 0.6, "Neo-LVOT")
        try:
            neo = analyze_neo_lvot(
                volume,
                annulus.center_lps,
                annulus.normal_lps,
                aortic_origin_lps=origin,
                aortic_normal_lps=normal,
                valve=valve,
                lumen_hu=lumen_hu,
                contrast=contrast,
                calcium=threshold,
                rules=rules,
                cancel=cancel,
            )
            warnings.extend(neo.warnings)
        except ValveBesideLvot as exc:
            beside = exc  # the rule is not met; no neo-LVOT area exists, and the part says why
            reasons["neo_lvot"] = exc.message
            warnings.append(exc.message)
        except NotAssessed as exc:
            reasons["neo_lvot"] = exc.message
    report(progress, 1.0, "Mitral done")

    flags = (
        _mac_flag(mac, reasons.get("mac", ""), rules),
        _neo_flag(neo, reasons.get("neo_lvot", ""), rules, beside),
    )
    params = _parameters(
        rules,
        valve,
        {
            "threshold_hu": None
            if threshold is None or isinstance(threshold, np.ndarray)
            else float(threshold),
            "calcium_input": "mask" if isinstance(threshold, np.ndarray) else "threshold",
            "lumen_hu": None if lumen_hu is None else round(float(lumen_hu), 1),
            "contrast": bool(contrast),
            "lv_direction_given": lv_direction is not None,
        },
    )
    for reason in reasons.values():
        log.info("%s", reason)
    return MitralResults(
        annulus=annulus,
        mac=mac,
        neo_lvot=neo,
        flags=flags,
        warnings=tuple(dict.fromkeys(warnings)),
        not_assessed=reasons,
        parameters=params,
        d_shape=d_shape,
        aorto_mitral_angle_deg=angle,
    )
