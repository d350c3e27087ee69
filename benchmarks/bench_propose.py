"""Landmark proposal benchmark: accuracy on seeded phantoms and speed against one analysis.

Usage::

    .venv/bin/python benchmarks/bench_propose.py [--seeds 24] [--size demo] [--runs 3]

Accuracy (issue 12 goals in brackets), over ``--seeds`` varied phantoms (root size, axis tilt,
cusp turn, blood 250-550 HU; scalloped sinuses whose lower border follows the crown of the
leaflet attachment, lowest at the nadirs): mean and worst hinge error [<= 1.5 / 3 mm], mean
and worst normal error [4 / 8 deg], cusp names right [always], worst ostium error [<= 2.5 mm],
worst annulus-area deviation of the proposal from the true landmarks [3 %]; refusals are counted
and listed (an explicit refusal is not a wrong answer). Speed: median of ``--runs`` proposals and
analyses of the full-size phantom, their ratio [<= 10x, < 15 s], and the extra peak memory
of one proposal against the volume [<= 2x].
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
import tracemalloc

import numpy as np

from annulusview.core.analysis import analyze
from annulusview.core.aortic.frame import AnnulusFrame
from annulusview.core.aortic.propose import propose_landmarks
from annulusview.core.errors import InputError
from annulusview.phantom import make_case
from annulusview.phantom.case import make_varied_case

HINGES = ("RCC_hinge", "LCC_hinge", "NCC_hinge")
OSTIA = ("LCA_ostium", "RCA_ostium")


def _angle(a: np.ndarray, b: np.ndarray) -> float:
    c = abs(float(np.dot(a, b)) / (np.linalg.norm(a) * np.linalg.norm(b)))
    return math.degrees(math.acos(min(1.0, c)))


def accuracy(seeds: int, size: str) -> None:
    hinge, normal, ostia, area = [], [], [], []
    names_wrong, refused = 0, []
    for seed in range(seeds):
        case = make_varied_case(seed, size)
        try:
            proposal = propose_landmarks(case.volume)
        except InputError as exc:
            refused.append((seed, exc.message[:90]))
            continue
        lm = proposal.landmarks
        errors = {n: float(np.linalg.norm(lm[n] - case.landmarks[n])) for n in HINGES}
        hinge += list(errors.values())
        # a name is wrong when another cusp's true hinge is nearer the proposed point
        for n in HINGES:
            nearest = min(HINGES, key=lambda m, n=n: np.linalg.norm(lm[n] - case.landmarks[m]))
            names_wrong += nearest != n
        truth = AnnulusFrame.from_landmarks(case.landmarks).normal_lps
        normal.append(_angle(AnnulusFrame.from_landmarks(lm).normal_lps, truth))
        ostia += [float(np.linalg.norm(lm[n] - case.landmarks[n])) for n in OSTIA if n in lm]
        a_true = analyze(case.volume, case.landmarks).annulus.area_mm2
        a_prop = analyze(case.volume, lm).annulus.area_mm2
        if a_true and a_prop:
            area.append(abs(a_prop / a_true - 1.0) * 100.0)
    done = seeds - len(refused)
    print(f"varied phantoms ({size}): {done} proposed, {len(refused)} refused of {seeds}")
    if hinge:
        print(f"  hinge error mean {np.mean(hinge):.2f} mm, worst {max(hinge):.2f} mm "
              "(goal <= 1.5 / 3)")  # fmt: skip
        print(f"  normal error mean {np.mean(normal):.2f} deg, worst {max(normal):.2f} deg "
              "(goal <= 4 / 8)")  # fmt: skip
        print(f"  cusp names wrong: {names_wrong} (goal 0)")
        if ostia:
            print(f"  ostium error worst {max(ostia):.2f} mm (goal <= 2.5)")
        if area:
            print(f"  annulus area deviation worst {max(area):.2f} % (goal <= 3)")
    for seed, why in refused:
        print(f"  refused seed {seed}: {why}")


def speed(runs: int) -> None:
    case = make_case("tavr-contrast", 0, "full")
    propose_landmarks(case.volume)  # warm caches
    t_propose, t_analyze = [], []
    for _ in range(runs):
        start = time.perf_counter()
        propose_landmarks(case.volume)
        t_propose.append(time.perf_counter() - start)
        start = time.perf_counter()
        analyze(case.volume, case.landmarks)
        t_analyze.append(time.perf_counter() - start)
    p, a = statistics.median(t_propose), statistics.median(t_analyze)
    print(f"full phantom {case.volume.shape}: propose {p:.2f} s, analyze {a:.2f} s, "
          f"ratio {p / a:.1f}x (goal <= 10x and < 15 s)")  # fmt: skip
    # extra peak memory of one proposal (numpy allocations, tracemalloc) against the volume
    tracemalloc.start()
    propose_landmarks(case.volume)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    size = case.volume.hu.nbytes
    print(
        f"  extra peak memory of one proposal {peak / 1e6:.0f} MB = {peak / size:.2f} x the "
        f"volume ({size / 1e6:.0f} MB; goal <= 2)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=24)
    parser.add_argument("--size", default="demo", choices=("small", "demo", "full"))
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    accuracy(args.seeds, args.size)
    speed(args.runs)


if __name__ == "__main__":
    main()
