"""``annulusview batch``: analyse a cohort on Dask (see :mod:`annulusview.batch`)."""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from annulusview.batch.engine import BatchProgress, BatchReport


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


class ProgressLine:
    """Batch progress on stderr: one redrawn bar on a terminal, plain lines otherwise."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.cluster_shown = False
        self.drawn = False

    def status(self, p: BatchProgress) -> str:
        return (
            f"{p.finished}/{p.total} done ({p.failed} failed"
            + (f", {p.resumed} kept" if p.resumed else "")
            + f"), {p.running} running, ETA {_duration(p.eta_s)}"
        )

    def __call__(self, p: BatchProgress) -> None:
        if p.cluster is not None and not self.cluster_shown:
            self.cluster_shown = True
            self._line(f"Dask: {p.cluster.description} ({p.cluster.address})")
            if p.cluster.dashboard_link:
                self._line(f"Dask dashboard: {p.cluster.dashboard_link}{_bokeh_note()}")
        if self.tty:
            width = 24
            filled = round(width * p.finished / max(1, p.total))
            bar = "#" * filled + "-" * (width - filled)
            self.stream.write(f"\r[{bar}] {self.status(p):<60}")
            self.stream.flush()
            self.drawn = True
        elif p.last is not None:
            last = p.last
            what = "ok" if last.status == "ok" else f"failed: {last.reason}"
            self._line(f"batch: {self.status(p)}; {last.case_id} {what}")

    def _line(self, text: str) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.drawn = False
        print(text, file=self.stream, flush=True)

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()
            self.drawn = False


def _bokeh_note() -> str:
    import importlib.util

    return "" if importlib.util.find_spec("bokeh") else " (install bokeh to see its pages)"


def summary_text(report: BatchReport) -> str:
    rows = report.table.rows
    lines = [
        f"{len(rows)} cases: {report.ok} ok, {report.failed} failed, {report.skipped} not "
        f"analysed ({_duration(report.elapsed_s)})"
    ]
    lines += [f"  {r['case_id']}: {r['reason']}" for r in rows if r["status"] == "failed"]
    lines += [f"{path}" for path in report.outputs]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Run the batch; exit 0 when it ran (failed cases are listed), 3 for an unusable
    manifest or output folder (raised as typed errors), 130 on Ctrl-C."""
    from annulusview.batch.engine import run as run_batch

    if args.scheduler and (args.workers is not None or args.memory_per_worker):
        print(
            "annulusview batch: --workers and --memory-per-worker set up the embedded "
            "cluster; an existing cluster (--scheduler) keeps its own workers.",
            file=sys.stderr,
        )
        return 2
    line = ProgressLine()
    try:
        report = run_batch(
            args.manifest,
            args.out,
            scheduler=args.scheduler,
            workers=args.workers,
            memory_per_worker=args.memory_per_worker,
            resume=args.resume,
            force=args.force,
            summary=args.summary,
            progress=line,
            quiet=not args.verbose,
        )
    finally:
        line.close()
    print(summary_text(report))
    return 0
