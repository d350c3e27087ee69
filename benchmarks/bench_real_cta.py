"""The landmark proposal on the real CTA against its ``annulus_proper`` mask (issue 12).

Usage::

    .venv/bin/python benchmarks/bench_real_cta.py [--figures DIR]

On ``../shared/data/real/aortic_root_cta`` (a diastolic 1.5 mm CTA: the valve is closed) it prints
how far the proposed annulus plane lies from the mask's plane (the mask's centre from the plane,
the angle between the normals), the annulus area measured on the proposal, on hinges built on
the mask's plane (as tests/test_analysis_realcta.py builds them) and the mask's own
cross-section, each with the plane check (the area with the plane moved 0.5 mm either way),
the height of each proposed hinge above the mask's plane, and the time of one proposal against
one analysis. With ``--figures`` it writes ``real-cta-planes.png``: the proposal's plane and the
mask's, each at -0.5, 0 and +0.5 mm, with the measured contour (yellow) and the mask's section
(green).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the mask-plane helpers of the real-CTA tests

import annulusview  # noqa: E402
from annulusview.core.analysis import analyze  # noqa: E402
from annulusview.core.aortic.annulus import measure_annulus, sample_plane  # noqa: E402
from annulusview.core.aortic.frame import AnnulusFrame  # noqa: E402
from annulusview.core.rules import default_rules  # noqa: E402
from test_analysis_realcta import DATA, _mask_on_plane, _mask_points, real_case  # noqa: E402

SHIFTS_MM = (-0.5, 0.0, 0.5)


def _shifted(frame: AnnulusFrame, h: float) -> AnnulusFrame:
    return dataclasses.replace(frame, origin_lps=frame.origin_lps + h * frame.normal_lps)


def _figure(volume, frames: dict[str, AnnulusFrame], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _, mask, mask_affine = _mask_points("annulus_proper")
    rules = default_rules()
    fig, axes = plt.subplots(len(frames), len(SHIFTS_MM), figsize=(12, 8.4))
    for row, (name, frame) in enumerate(frames.items()):
        for col, h in enumerate(SHIFTS_MM):
            moved = _shifted(frame, h)
            image, axis = sample_plane(volume, moved, 22.0, 0.25)
            measured, _ = measure_annulus(volume, moved, rules, contrast=True)
            ax = axes[row, col]
            ax.imshow(
                image,
                cmap="gray",
                vmin=-200,
                vmax=700,
                origin="lower",
                extent=(axis[0], axis[-1], axis[0], axis[-1]),
            )
            grid, section = _mask_on_plane(
                mask, mask_affine, moved.origin_lps, moved.u_lps, moved.v_lps
            )
            ax.contour(grid, grid, section.astype(float), [0.5], colors="lime", linewidths=1.0)
            rel = measured.contour_lps - moved.origin_lps
            xy = np.stack([rel @ moved.u_lps, rel @ moved.v_lps], axis=1)
            xy = np.vstack([xy, xy[:1]])
            ax.plot(xy[:, 0], xy[:, 1], color="yellow", linewidth=1.2)
            area = section.sum() * 0.0625
            ax.set_title(
                f"{name} plane {h:+.1f} mm: contour {measured.area_mm2:.0f}, mask {area:.0f} mm²",
                fontsize=9,
            )
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle(
        "Real diastolic CTA: measured annulus contour (yellow) and annulus_proper mask (green)",
        fontsize=11,
    )
    fig.tight_layout()
    fig.savefig(out, dpi=72)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--figures", type=Path, help="write real-cta-planes.png here")
    args = parser.parse_args()

    volume, mask_section, on_mask = real_case()
    t0 = time.perf_counter()
    proposal = annulusview.propose_landmarks(volume)
    t_propose = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = analyze(volume, proposal.landmarks)
    t_analyze = time.perf_counter() - t0

    pts, _, _ = _mask_points("annulus_proper")
    centre = pts.mean(axis=0)
    mask_frame = on_mask.frame
    frame = AnnulusFrame.from_landmarks(proposal.landmarks)
    angle = np.degrees(np.arccos(min(1.0, abs(float(frame.normal_lps @ mask_frame.normal_lps)))))
    offset = float((centre - frame.origin_lps) @ frame.normal_lps)
    print(f"real CTA {DATA.name}: proposal {t_propose:.2f} s, analysis {t_analyze:.2f} s")
    print(f"  plane: mask centre {abs(offset):.2f} mm from the proposed plane (goal <= 2.5)")
    print(f"  normal: {angle:.2f} deg from the mask's (goal <= 8)")
    for name in ("RCC_hinge", "LCC_hinge", "NCC_hinge"):
        h = float((proposal.landmarks[name] - centre) @ mask_frame.normal_lps)
        print(
            f"  {name}: {h:+.2f} mm above the mask's plane, confidence {proposal.confidence[name]}"
        )
    for name, res in (("proposal", result), ("hinges on the mask plane", on_mask)):
        a = res.annulus
        low, high = a.area_plane_range_mm2 or (float("nan"), float("nan"))
        print(f"  area on the {name}: {a.area_mm2:.0f} mm2 (plane check {low:.0f}-{high:.0f})")
    truth = mask_section["area_mm2"]
    got = result.annulus.area_mm2
    print(f"  mask's own section on its plane: {truth:.0f} mm2")
    print(f"  proposal vs mask section: {100 * (got - truth) / truth:+.1f} % (goal within 10 %)")
    strict = on_mask.annulus.area_mm2
    print(f"  proposal vs analysis on the mask plane: {100 * (got - strict) / strict:+.1f} %")
    if args.figures is not None:
        args.figures.mkdir(parents=True, exist_ok=True)
        out = args.figures / "real-cta-planes.png"
        _figure(volume, {"proposal": frame, "mask": mask_frame}, out)
        print(f"  wrote {out}")


if __name__ == "__main__":
    main()
