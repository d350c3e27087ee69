"""``annulusview analyze``: the whole analysis headless, results as JSON, CSV or a summary."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from annulusview.core.presentation import (
    coronary_rows,
    flag_rank,
    flag_word,
    fluoro_rows,
    fmt,
    plane_range,
    root_rows,
)

if TYPE_CHECKING:
    from annulusview.core.results import Results


def format_summary(r: Results) -> str:
    """A readable summary: annulus, calcium by region and cusp, lesions, rules, disclaimer."""
    a = r.annulus
    lines = [
        "AnnulusView analysis",
        f"  series: {r.series_instance_uid or '(no UID)'}",
        f"  contrast state: {r.contrast_state} (lumen {fmt(r.lumen_hu, 0)} HU, "
        f"SD {fmt(r.lumen_hu_sd, 0)}); calcium threshold {r.threshold_hu:.0f} HU "
        f"({r.threshold_method})",
    ]
    if r.scan is not None:
        s = r.scan
        lines.append(
            f"  scan: phase {s.phase_text}; {fmt(s.kvp, 0)} kVp; slices "
            f"{fmt(s.slice_thickness_mm, 2)} mm every {fmt(s.slice_increment_mm, 2)} mm"
        )
    if r.calcium_not_assessed_reason:
        lines.append(f"  CALCIUM NOT ASSESSED: {r.calcium_not_assessed_reason}")
    lines += [
        "",
        f"Annulus ({a.method}{'' if a.sized else ': not sized'})",
        f"  perimeter {fmt(a.perimeter_mm)} mm   area {fmt(a.area_mm2)} mm^2",
        f"  diameters min {fmt(a.d_min_mm)}  max {fmt(a.d_max_mm)}  "
        f"area-derived {fmt(a.d_area_mm)}  perimeter-derived {fmt(a.d_perimeter_mm)} mm",
        f"  with the plane moved {fmt(a.plane_check_mm)} mm either way: area "
        f"{plane_range(a.area_plane_range_mm2, 'mm2')}, perimeter "
        f"{plane_range(a.perimeter_plane_range_mm, 'mm')}",
        f"  coronary heights LCA {fmt(r.coronary_heights_mm.get('LCA'))} mm, "
        f"RCA {fmt(r.coronary_heights_mm.get('RCA'))} mm; "
        f"infra-annular membranous septum {fmt(r.ms_length_mm)} mm",
        "",
        "Root and LVOT (planes parallel to the annulus)",
    ]
    lines += [
        f"  {measure:<26}{value:>16}   {note}"
        for measure, value, note in root_rows(r.root, a.eccentricity)
    ]
    lines += ["", "Coronary arteries (VTC: ostium outside a virtual valve of the planned size)"]
    lines += [
        f"  {artery}: ostium {height}, sinus {sinus}, VTC {vtc}; rule {outcome}"
        for artery, height, sinus, vtc, outcome in coronary_rows(r)
    ]
    views = fluoro_rows(r)
    if views:
        lines += ["", "C-arm views (annular plane edge-on; LAO/RAO, cranial/caudal)"]
        lines += [f"  {view:<20}{angles:<18}{shows}" for view, angles, shows in views]
    lines += [
        "",
        f"Calcium: {fmt(r.calcium.volume_mm3)} mm^3"
        + (f", Agatston {r.calcium.agatston:.0f}" if r.calcium.agatston is not None else ""),
        f"  {'region':<12}{'mm^3':>10}{'Agatston':>10}",
    ]
    for name, total in r.calcium.by_region.items():
        lines.append(f"  {name:<12}{fmt(total.volume_mm3):>10}{fmt(total.agatston, 0):>10}")
    for name, total in r.calcium.by_cusp.items():
        lines.append(f"  {name + ' sector':<12}{fmt(total.volume_mm3):>10}")
    if r.lvot_calcium_grade is not None:
        lines.append(f"  LVOT calcium grade: {r.lvot_calcium_grade['grade']}")
    lines += [
        "",
        f"Lesions ({len(r.lesions)})",
        f"  {'id':>3} {'mm^3':>8} {'region':<9}{'cusp':<5}{'to LVOT':>8}{'to cond.':>9}"
        f"{'inward':>8}",
    ]
    for les in r.lesions:
        lines.append(
            f"  {les.id:>3} {les.volume_mm3:>8.1f} {les.region:<9}{les.cusp:<5}"
            f"{les.distance_to_lvot_mm:>8.1f}{les.distance_to_conduction_mm:>9.1f}"
            f"{les.inward_extent_mm:>8.1f}"
        )
    lines += _mitral_summary(r)
    lines += ["", "Risk rules (not met = the criterion does not hold; it is not 'low risk')"]
    for flag in sorted(r.flags, key=flag_rank):
        lines.append(f"  [{flag_word(flag):^16}] {flag.id}: {flag.message}")
        verified = "" if flag.evidence.verified else " (not verified)"
        lines.append(f"  {'':18} source{verified}: {flag.reference}")
    if r.warnings:
        lines += ["", "Warnings"] + [f"  - {w}" for w in r.warnings]
    lines += ["", r.disclaimer]
    return "\n".join(lines)


def _mitral_summary(r: Results) -> list[str]:
    """Mitral annulus, MAC score and neo-LVOT lines, or why they were not assessed."""
    m = r.mitral
    if m is None:
        return []
    lines = ["", "Mitral"]
    ann = m.annulus
    if ann is not None:
        lines.append(
            f"  annulus perimeter {ann.perimeter_mm:.1f} mm  area {ann.area_mm2:.1f} mm^2  "
            f"AP {fmt(ann.ap_diameter_mm)}  IC {fmt(ann.ic_diameter_mm)} mm"
        )
    mac = m.mac
    if mac is not None:
        score = mac.score
        lines.append(
            f"  MAC extent {fmt(mac.extent_deg, 0)} deg, thickness mean "
            f"{fmt(mac.thickness_mean_mm)} / max {fmt(mac.thickness_max_mm)} mm; "
            f"MAC CT score {score.total} ({score.grade}): thickness {score.thickness}, "
            f"extent {score.extent}, trigones {score.trigones}, leaflets {score.leaflets}"
        )
    neo = m.neo_lvot
    if neo is not None:
        lines.append(
            f"  neo-LVOT {neo.area_mm2:.0f} mm^2, narrowest "
            f"{fmt(neo.distance_from_annulus_mm)} mm below the aortic annulus"
        )
    for part, reason in m.not_assessed.items():
        lines.append(f"  {part}: not assessed ({reason})")
    return lines


def run(args: argparse.Namespace) -> int:
    """Load, analyse, write. Typed errors propagate to the CLI (exit 3)."""
    from annulusview.commands._common import (
        check_analysis_inputs,
        check_run_outputs,
        load_and_analyze,
    )
    from annulusview.core.results import write_lesions_csv, write_results_json

    # Cheap checks first, so a bad option does not cost a study load.
    inputs = check_analysis_inputs(args)
    outputs = check_run_outputs(
        args, {"--json": None if args.json == "-" else args.json, "--csv": args.csv}
    )
    json_out, csv_out = outputs.get("--json"), outputs.get("--csv")
    results = load_and_analyze(args, inputs).results
    if args.json == "-":
        sys.stdout.write(results.to_json())
    elif json_out is not None:
        write_results_json(json_out, results)
        print(f"Results: {json_out}", file=sys.stderr)
    if csv_out is not None:
        write_lesions_csv(csv_out, results)
        print(f"Lesions: {csv_out}", file=sys.stderr)
    if args.json is None:
        print(format_summary(results))
    return 0
