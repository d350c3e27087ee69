"""Cohort batch benchmark: Dask throughput with 1 and 2 workers, and the Dask path's overhead.

Usage::

    .venv/bin/python benchmarks/bench_batch.py [--cases 8] [--size full] [--runs 3]

Writes ``--cases`` phantoms (tavr-contrast, seeds 0..N-1) under ``benchmarks/_data/`` once,
then measures, in one run:

- a plain loop: :func:`annulusview.batch.tasks.analyse_case` and the same result writes on
  every case, in a fresh process after one untimed pass (page cache, imports), with one
  thread for the numeric libraries as on a Dask worker;
- ``annulusview.batch.run`` on warm embedded clusters (the batch's own settings) of 1 and 2
  workers, from the first case handed out to the last result; loop and clusters in turn,
  ``--runs`` times, medians;
- one cold ``annulusview.batch.run`` per worker count: cluster start-up, worker imports and all.

Prints throughput (cases/min), the 2-worker / 1-worker ratio, and the Dask path's overhead
per task against the plain loop (target <= 5 % on full-size cases). The load average is
printed before and after: the ratio needs both cores free.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import annulusview as av
from annulusview.batch import cluster
from annulusview.batch.engine import BatchProgress
from annulusview.batch.manifest import read_manifest
from annulusview.batch.store import OutputFolder, RunLog
from annulusview.batch.tasks import OK, analyse_case
from annulusview.phantom.dicom import write_case

DATA = Path(__file__).resolve().parent / "_data" / "batch"


def make_cohort(cases: int, size: str) -> Path:
    folder = DATA / size
    manifest = folder / f"manifest-{cases}.csv"
    rows = []
    for seed in range(cases):
        case = folder / f"case{seed:02d}"
        if not (case / "landmarks.mrk.json").exists():
            shutil.rmtree(case, ignore_errors=True)
            print(f"writing phantom {case} ...", flush=True)
            write_case(case, "tavr-contrast", seed=seed, size=size)
        rows.append(
            {
                "case_id": case.name,
                "study": f"{case.name}/dicom",
                "landmarks": f"{case.name}/landmarks.mrk.json",
            }
        )
    with open(manifest, "w", newline="") as handle:
        writer = csv.DictWriter(handle, ["case_id", "study", "landmarks"])
        writer.writeheader()
        writer.writerows(rows)
    return manifest


def plain_loop(manifest: Path) -> float:
    """Wall time of analysing and saving every case one after another in this process
    (the same task and the same writes as the batch, without Dask)."""
    rows = read_manifest(manifest).rows
    out = Path(tempfile.mkdtemp(prefix="bench-loop-"))
    try:
        folder, log = OutputFolder(out), RunLog(out / "batch.log", "loop")
        start = time.perf_counter()
        for row in rows:
            outcome = analyse_case(row)
            assert outcome.status == OK, outcome.reason
            folder.save(outcome, row.row_hash(), "loop")
            log.write(f"case {row.case_id} ok")
        return time.perf_counter() - start
    finally:
        shutil.rmtree(out, ignore_errors=True)


def plain_loop_process(manifest: Path) -> float:
    """:func:`plain_loop` in a fresh process (after an untimed pass), with the one-thread
    numeric libraries of a Dask worker: no cluster threads of this process compete with it."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "OPENBLAS_NUM_THREADS": "1"}  # fmt: skip
    proc = subprocess.run(
        [sys.executable, __file__, "--loop-only", str(manifest)],
        capture_output=True, text=True, env=env, check=True,
    )  # fmt: skip
    return float(proc.stdout.strip().splitlines()[-1])


def batch_run(manifest: Path, **options: Any) -> dict[str, float]:
    """One ``av.batch.run``: cluster start-up, cases phase and whole-run wall times."""
    marks: dict[str, float] = {}

    def progress(p: BatchProgress) -> None:
        now = time.perf_counter()
        if p.cluster is not None:
            marks.setdefault("up", now)
        if p.last is not None:
            marks["last"] = now

    out = Path(tempfile.mkdtemp(prefix="bench-batch-")) / "out"
    try:
        start = time.perf_counter()
        report = av.batch.run(manifest, out, progress=progress, **options)
        total = time.perf_counter() - start
        assert report.ok == len(report.table.rows), report.table.column("reason")
    finally:
        shutil.rmtree(out.parent, ignore_errors=True)
    return {
        "startup_s": marks["up"] - start,
        "cases_s": marks["last"] - marks["up"],
        "total_s": total,
    }


def interleaved(manifest: Path, runs: int) -> tuple[float, dict[int, float]]:
    """Median wall times of the plain loop and of ``av.batch.run`` on warm embedded clusters
    (same settings) of 1 and 2 workers, measured in turn so that a busy neighbour slows all
    three alike. Each cluster analyses the cohort once before timing (worker imports)."""
    loop: list[float] = []
    warm: dict[int, list[float]] = {1: [], 2: []}
    with contextlib.ExitStack() as stack:
        clients = {}
        for w in (1, 2):
            memory = cluster.parse_memory(None, 2)  # the same limit for both
            clients[w], _ = stack.enter_context(cluster.local_cluster(w, memory, True))
            batch_run(manifest, client=clients[w])
        for _ in range(runs):
            loop.append(plain_loop_process(manifest))
            for w in (1, 2):
                warm[w].append(batch_run(manifest, client=clients[w])["cases_s"])
    return median(loop), {w: median(v) for w, v in warm.items()}


def median(values: list[float]) -> float:
    return statistics.median(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=8)
    parser.add_argument("--size", default="full", choices=("small", "full"))
    parser.add_argument("--runs", type=int, default=3, help="timed repeats (medians)")
    parser.add_argument("--loop-only", metavar="MANIFEST", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.loop_only:  # the child of plain_loop_process
        plain_loop(Path(args.loop_only))
        print(plain_loop(Path(args.loop_only)))
        return

    manifest = make_cohort(args.cases, args.size)
    n = args.cases
    load_before = os.getloadavg()
    print(
        f"{n} {args.size} tavr-contrast phantoms; {os.cpu_count()} cores; load average "
        f"{load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}"
    )

    loop_s, warm = interleaved(manifest, args.runs)
    cold = {w: batch_run(manifest, workers=w) for w in (1, 2)}
    load_after = os.getloadavg()

    def rate(seconds: float) -> float:
        return n / seconds * 60.0

    print(f"medians of {args.runs} runs (cold runs: one each)")
    print(
        f"plain loop (one process, warm):  {loop_s:6.2f} s  {rate(loop_s):6.1f} cases/min  "
        f"({loop_s / n * 1e3:.0f} ms per case)"
    )
    for w in (1, 2):
        c = cold[w]
        print(f"Dask, {w} worker(s), warm:        {warm[w]:6.2f} s  {rate(warm[w]):6.1f} cases/min")
        print(
            f"Dask, {w} worker(s), cold run:    {c['cases_s']:6.2f} s  "
            f"{rate(c['cases_s']):6.1f} cases/min  (cluster start {c['startup_s']:.1f} s, "
            f"whole run {c['total_s']:.1f} s)"
        )
    print(
        f"throughput 2 workers / 1 worker: warm {warm[1] / warm[2]:.2f}x, "
        f"cold {cold[1]['cases_s'] / cold[2]['cases_s']:.2f}x"
    )
    per_task = (warm[1] - loop_s) / n
    print(
        f"Dask overhead vs plain loop (1 worker, warm): {per_task * 1e3:+.0f} ms per task = "
        f"{per_task / (loop_s / n) * 100:+.1f} % (target <= 5 %)"
    )
    print(f"load average after: {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}")


if __name__ == "__main__":
    main()
