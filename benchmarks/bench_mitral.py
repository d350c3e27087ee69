"""Mitral benchmark: the mitral stage of ``analyze`` against its aortic stages.

Usage::

    .venv/bin/python benchmarks/bench_mitral.py [--runs 7] [--sizes small full]
        [--cases mac tavr-contrast]

``analyze`` runs the mitral section (annulus, MAC with its score, neo-LVOT) as its stage
``mitral`` on the aortic results (threshold, lumen attenuation, annulus frame), so one run times
both on the same volume: the aortic time is the sum of the other stages of ``timings_s`` (its
``total`` minus ``mitral``). For each phantom case and size, prints the medians over the runs of
the aortic time, the mitral stage and their ratio (target <= 2, aim 1.5), and the split of
``analyze_mitral`` between MAC and neo-LVOT (timed separately).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from annulusview.core.analysis import analyze
from annulusview.core.mitral import analyze_mac, analyze_mitral, fit_mitral_annulus
from annulusview.core.mitral.neo_lvot import analyze_neo_lvot
from annulusview.core.rules import load_rules
from annulusview.phantom import make_case


def median_time(func: Callable[[], Any], runs: int) -> float:
    func()  # warm caches (imports, page faults of the volume)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--sizes", nargs="+", default=["small", "full"])
    parser.add_argument("--cases", nargs="+", default=["mac", "tavr-contrast"])
    args = parser.parse_args()
    rules = load_rules()

    print(
        f"{'case':15s} {'size':6s} {'aortic ms':>10s} {'mitral ms':>10s} {'ratio':>6s}"
        f" {'alone ms':>9s} {'MAC ms':>8s} {'neo ms':>8s}"
    )
    for size in args.sizes:
        for name in args.cases:
            case = make_case(name, seed=0, size=size)
            volume, landmarks = case.volume, case.landmarks
            aortic = analyze(volume, landmarks, rules)
            frame = aortic.frame
            annulus, _ = fit_mitral_annulus(landmarks, aortic_normal=frame.normal_lps, rules=rules)

            def run_mitral(volume=volume, landmarks=landmarks, aortic=aortic):
                return analyze_mitral(
                    volume,
                    landmarks,
                    aortic.threshold_hu,
                    aortic_origin=aortic.frame.origin_lps,
                    aortic_normal=aortic.frame.normal_lps,
                    lumen_hu=aortic.lumen_hu,
                    contrast=aortic.contrast,
                    rules=rules,
                )

            analyze(volume, landmarks, rules)  # warm caches
            aortic_s, mitral_s, ratios = [], [], []
            for _ in range(args.runs):
                times = analyze(volume, landmarks, rules).timings_s
                mitral_stage = times["mitral"]
                aortic_stages = sum(v for k, v in times.items() if k not in ("total", "mitral"))
                aortic_s.append(aortic_stages)
                mitral_s.append(mitral_stage)
                ratios.append(mitral_stage / aortic_stages)
            t_aortic = statistics.median(aortic_s)
            t_mitral = statistics.median(mitral_s)
            ratio = statistics.median(ratios)
            t_alone = median_time(run_mitral, args.runs)
            t_mac = median_time(
                lambda v=volume, a=annulus, t=aortic.threshold_hu, lm=landmarks: analyze_mac(
                    v, a, t, lm, rules=rules
                ),
                args.runs,
            )
            t_neo = median_time(
                lambda v=volume, a=annulus, r=aortic: analyze_neo_lvot(
                    v,
                    a.center_lps,
                    a.normal_lps,
                    aortic_origin_lps=r.frame.origin_lps,
                    aortic_normal_lps=r.frame.normal_lps,
                    lumen_hu=r.lumen_hu,
                    contrast=r.contrast,
                    calcium=r.threshold_hu,
                    rules=rules,
                ),
                args.runs,
            )
            print(
                f"{name:15s} {size:6s} {t_aortic * 1e3:10.1f} {t_mitral * 1e3:10.1f} "
                f"{ratio:6.2f} {t_alone * 1e3:9.1f} {t_mac * 1e3:8.1f} {t_neo * 1e3:8.1f}"
            )
    print(
        "ratio: median over runs of the mitral stage / the aortic stages of the same analyze "
        "(target <= 2, aim 1.5); alone: analyze_mitral called by itself"
    )


if __name__ == "__main__":
    main()
