"""Run a cohort on Dask: one task per case, a failed row per failing case, resumable.

:func:`run` checks the manifest and the output folder, connects (:mod:`.cluster`), hands the
cases to the cluster no more at once than it has threads, saves each outcome as it arrives
(:mod:`.store`), and rebuilds the tables (:mod:`.tables`) and the summary (:mod:`.summary`)
from everything on disk. Dask is imported only when a batch runs.
"""

from __future__ import annotations

import contextlib
import math
import os
import secrets
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from annulusview import __version__
from annulusview.batch import cluster
from annulusview.batch.cluster import ClusterInfo
from annulusview.batch.manifest import RESERVED_NAMES, Manifest, ManifestRow, read_manifest
from annulusview.batch.store import OutputFolder, RunLog
from annulusview.batch.tables import (
    CaseState,
    CohortTable,
    build_table,
    write_tables,
)
from annulusview.batch.tasks import FAILED, OK, SKIPPED, CaseOutcome, analyse_case, now_iso
from annulusview.core.atomic import check_not_input
from annulusview.core.errors import Cancelled, InputError, OutputError

if TYPE_CHECKING:
    from distributed import Client, Future

#: Stop (rather than wait for ever) when the cluster has had no worker this long.
NO_WORKER_TIMEOUT_S = 300.0
SUMMARY_PDF, SUMMARY_PNG = "summary.pdf", "summary.png"


@dataclass(frozen=True)
class BatchProgress:
    """Where a running batch stands (passed to the progress callback after each event).

    Attributes
    ----------
    total
        Cases in the manifest.
    done, failed
        Cases finished ok / failed so far (this run and, with ``--resume``, earlier runs).
    resumed
        Cases whose results from an earlier run were kept (counted in ``done``).
    running
        Cases handed to the cluster and not finished.
    elapsed_s, eta_s
        Time since the first case was handed out; estimated time to the last (None until a
        case of this run has finished).
    last
        The case that just finished (None for other events).
    cluster
        The cluster, once connected.
    """

    total: int
    done: int = 0
    failed: int = 0
    resumed: int = 0
    running: int = 0
    elapsed_s: float = 0.0
    eta_s: float | None = None
    last: CaseOutcome | None = None
    cluster: ClusterInfo | None = None

    @property
    def finished(self) -> int:
        return self.done + self.failed


@dataclass
class _Tracker:
    """The counts behind :class:`BatchProgress`, updated as the run goes."""

    total: int
    to_run: int
    resumed: int
    done: int = 0
    failed: int = 0
    running: int = 0
    start: float = 0.0
    cluster: ClusterInfo | None = None

    def snapshot(self, last: CaseOutcome | None = None) -> BatchProgress:
        elapsed = time.perf_counter() - self.start if self.start else 0.0
        finished_here = self.done + self.failed
        remaining = self.to_run - finished_here
        eta: float | None = None
        if remaining <= 0:
            eta = 0.0
        elif finished_here:
            eta = elapsed / finished_here * remaining
        return BatchProgress(
            total=self.total,
            done=self.done + self.resumed,
            failed=self.failed,
            resumed=self.resumed,
            running=self.running,
            elapsed_s=elapsed,
            eta_s=eta,
            last=last,
            cluster=self.cluster,
        )


ProgressCallback = Callable[[BatchProgress], None]


@dataclass(frozen=True)
class BatchReport:
    """What a batch run produced."""

    out: Path
    run_id: str
    table: CohortTable
    outputs: tuple[Path, ...]
    interrupted: bool
    elapsed_s: float
    cluster: ClusterInfo | None

    @property
    def ok(self) -> int:
        return self.table.count(OK)

    @property
    def failed(self) -> int:
        return self.table.count(FAILED)

    @property
    def skipped(self) -> int:
        return self.table.count(SKIPPED)


class BatchInterrupted(Cancelled):
    """Ctrl-C stopped the batch; the tables list what was done (``report``)."""

    def __init__(self, report: BatchReport) -> None:
        self.report = report
        super().__init__(
            f"Interrupted: {report.ok + report.failed} of {len(report.table.rows)} cases "
            f"finished, {report.skipped} not analysed (tables in {report.out}). "
            "Rerun with --resume to finish the rest."
        )


def _run_id() -> str:
    """Unique per run, also for two runs in one second of one process (the API)."""
    return f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}-{os.getpid()}-{secrets.token_hex(3)}"


def _check_outputs(manifest: Manifest, folder: OutputFolder) -> None:
    """Refuse, before any work, outputs that would land on an input or inside a study."""
    root = folder.root
    if root.exists() and not root.is_dir():
        raise OutputError(f"{root} is a file.", "Give a folder for the batch outputs.")
    inputs = {"manifest": manifest.path}
    for name in sorted(RESERVED_NAMES):
        check_not_input(root / name, f"The batch output {name}", inputs, None)
    for row in manifest.rows:
        label = f"The output folder of case {row.case_id}"
        check_not_input(
            folder.results_path(row.case_id),
            label,
            {**inputs, "landmarks file": row.landmarks},
            row.study,
        )
        check_not_input(folder.case_dir(row.case_id), label, {}, row.study)


def _collect(future: Future, row: ManifestRow, memory: int | None) -> CaseOutcome:
    """The outcome of a finished future: the task's, or a failed one for a dead worker."""
    from dask.utils import format_bytes
    from distributed import KilledWorker

    try:
        outcome = future.result()
    except KilledWorker:
        limit = f" of {format_bytes(memory)}" if memory else ""
        return CaseOutcome(
            case_id=row.case_id,
            status=FAILED,
            reason=(
                "The worker process died while analysing this case (killed, crashed, or over "
                f"its memory limit{limit}); the other cases went on."
            ),
            error_type="KilledWorker",
            finished=now_iso(),
        )
    except Exception as exc:
        return CaseOutcome(
            case_id=row.case_id,
            status=FAILED,
            reason=f"The cluster could not run this case ({type(exc).__name__}: {str(exc)[:200]}).",
            error_type=type(exc).__name__,
            finished=now_iso(),
        )
    if not isinstance(outcome, CaseOutcome):  # pragma: no cover - a foreign task result
        return CaseOutcome(row.case_id, FAILED, reason="The task returned no outcome.")
    return outcome


def _log_outcome(log: RunLog, outcome: CaseOutcome) -> None:
    if outcome.status == OK:
        seconds = f"{outcome.total_s:.1f} s" if outcome.total_s is not None else "?"
        log.write(f"case {outcome.case_id} ok in {seconds} on {outcome.worker}")
    else:
        log.write(f"case {outcome.case_id} failed ({outcome.error_type}): {outcome.reason}")


class _Dispatcher:
    """Keeps the cluster's threads busy, one case per thread: submits from a queue and tells
    how many threads there are (asked of the scheduler at most once a second)."""

    def __init__(self, client: Client, rows: Sequence[ManifestRow], run_id: str) -> None:
        self.client = client
        self.queue = deque(rows)
        self.run_id = run_id
        self.pending: dict[Future, ManifestRow] = {}
        self.threads = 0
        self.asked = -math.inf
        self.last_worker_seen = time.monotonic()

    def _refresh_threads(self) -> None:
        now = time.monotonic()
        if now - self.asked < 1.0 and self.threads:
            return
        self.asked = now
        self.threads = cluster.thread_count(self.client)
        if self.threads:
            self.last_worker_seen = now
        elif now - self.last_worker_seen > NO_WORKER_TIMEOUT_S:
            raise InputError(
                f"The cluster has had no worker for {NO_WORKER_TIMEOUT_S:.0f} s; stopping.",
                "Start workers, then rerun with --resume.",
            )

    def top_up(self) -> None:
        """Submit queued cases until every thread has one (at least one in flight)."""
        self._refresh_threads()
        while self.queue and len(self.pending) < max(1, self.threads):
            row = self.queue.popleft()
            future = self.client.submit(
                analyse_case,
                row,
                key=f"annulusview-case-{self.run_id}-{row.case_id}",
                pure=False,
                retries=0,
            )
            self.pending[future] = row

    def next_finished(self, timeout_s: float) -> list[tuple[Future, ManifestRow]]:
        """The cases that finished within ``timeout_s`` (maybe none), out of ``pending``."""
        from distributed import wait

        try:
            with self.client.as_current():  # wait() finds its client there
                done = wait(list(self.pending), timeout=timeout_s, return_when="FIRST_COMPLETED")
        except TimeoutError:
            return []
        return [(future, self.pending.pop(future)) for future in done.done]

    def cancel(self) -> None:
        with contextlib.suppress(Exception):
            self.client.cancel(list(self.pending))


def _run_cases(
    client: Client,
    rows: Sequence[ManifestRow],
    hashes: dict[str, str],
    folder: OutputFolder,
    log: RunLog,
    run_id: str,
    state: _Tracker,
    notify: Callable[[BatchProgress], None],
) -> None:
    """Hand the cases to the cluster, no more at once than it has threads (so a dying worker
    takes only the case it ran), and save each outcome as it arrives."""
    memory = state.cluster.memory_per_worker if state.cluster is not None else None
    dispatcher = _Dispatcher(client, rows, run_id)
    state.start = time.perf_counter()
    try:
        while dispatcher.queue or dispatcher.pending:
            dispatcher.top_up()
            state.running = len(dispatcher.pending)
            finished = dispatcher.next_finished(timeout_s=1.0)
            if not finished:
                notify(state.snapshot())
                continue
            dispatcher.top_up()  # the next cases start before these are saved
            for future, row in finished:
                outcome = _collect(future, row, memory)
                future.release()
                folder.save(outcome, hashes[row.case_id], run_id)
                _log_outcome(log, outcome)
                if outcome.status == OK:
                    state.done += 1
                else:
                    state.failed += 1
                state.running = len(dispatcher.pending)
                notify(state.snapshot(outcome))
    except BaseException:
        dispatcher.cancel()
        raise


def _case_states(
    manifest: Manifest,
    folder: OutputFolder,
    hashes: dict[str, str],
    run_id: str,
    interrupted: bool,
) -> list[CaseState]:
    """Every manifest case as its files on disk say now (the tables are built from these)."""
    states = []
    for row in manifest.rows:
        record = folder.current_record(row, hashes[row.case_id])
        if record is None:
            reason = (
                "not analysed: the run stopped first; rerun with --resume"
                if interrupted
                else "not analysed"
            )
            states.append(CaseState(row, SKIPPED, reason))
            continue
        resumed = record.run_id != run_id
        if record.status != OK:
            states.append(CaseState(row, FAILED, record.reason, record, None, resumed))
            continue
        doc = folder.read_results(row.case_id)
        if doc is None:
            states.append(CaseState(row, SKIPPED, "results unreadable; rerun with --resume"))
        else:
            states.append(CaseState(row, OK, "", record, doc, resumed))
    return states


def run(
    manifest: str | Path,
    out: str | Path,
    client: Client | None = None,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    memory_per_worker: str | int | None = None,
    resume: bool = False,
    force: bool = False,
    summary: bool = False,
    progress: ProgressCallback | None = None,
    quiet: bool = True,
) -> BatchReport:
    """Analyse every case of ``manifest`` on Dask and write the cohort outputs into ``out``.

    Parameters
    ----------
    manifest
        The manifest CSV (see :mod:`annulusview.batch.manifest`).
    out
        Output folder (created): ``CASE_ID/results.json``, ``cohort.csv``,
        ``cohort.parquet``, ``failures.csv``, ``batch.log``.
    client
        A connected :class:`distributed.Client` to run on (left open). None: connect to
        ``scheduler``, or start the embedded local cluster.
    scheduler
        Address of an existing Dask scheduler (``tcp://host:8786``); its workers need
        annulusview installed and must read the studies at the paths the manifest gives.
    workers, memory_per_worker
        The embedded cluster's worker processes (default: one per core, as many as the
        memory holds) and each one's memory limit (bytes or e.g. ``"4GB"``; default the
        machine's memory x 0.8 shared among them). A case that needs more fails alone.
    resume
        Keep cases whose results exist and whose manifest row and app version are unchanged;
        analyse the rest. The tables are rebuilt from all results.
    force
        Analyse every case again in a folder that holds an earlier run.
    summary
        Also write ``summary.pdf`` and ``summary.png`` (distributions and flag counts).
    progress
        Called with a :class:`BatchProgress` after each case and about once a second.
    quiet
        Silence Dask's own log messages.

    Returns
    -------
    BatchReport
        The table and the files written.

    Raises
    ------
    ManifestError
        The manifest is unusable (nothing runs).
    InputError, OutputError
        A bad option, a cluster that cannot be reached, outputs that would overwrite an input
        or an earlier run without ``resume``/``force``.
    BatchInterrupted
        Ctrl-C: the cluster was stopped and the tables written for what was done.
    """
    started = time.perf_counter()
    if resume and force:
        raise InputError("--resume and --force contradict each other.", "Give one of them.")
    if client is not None and scheduler:
        raise InputError("Give a client or a scheduler address, not both.")
    if (client is not None or scheduler) and (workers is not None or memory_per_worker):
        raise InputError(
            "Workers and their memory are options of the embedded cluster.",
            "An existing cluster keeps its own workers: leave them out.",
        )
    if workers is not None and workers < 1:
        raise InputError(f"--workers {workers} is not a number of workers.", "Give 1 or more.")
    checked = read_manifest(manifest)
    folder = OutputFolder(out)
    _check_outputs(checked, folder)
    if folder.holds_a_run() and not (resume or force):
        raise OutputError(
            f"{folder.root} holds an earlier batch run.",
            "Pass --resume to finish it, --force to analyse every case again, or choose "
            "another folder.",
        )
    try:
        folder.root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(
            f"Cannot create the folder {folder.root}: {exc.strerror or exc}."
        ) from exc

    run_id = _run_id()
    log = RunLog(folder.log_path, run_id)
    hashes = {row.case_id: row.row_hash() for row in checked.rows}
    kept = [r for r in checked.rows if resume and folder.is_done(r, hashes[r.case_id])]
    kept_ids = {r.case_id for r in kept}
    to_run = [r for r in checked.rows if r.case_id not in kept_ids]
    log.write(
        f"run started: manifest {checked.path}, {len(checked.rows)} cases, "
        f"{len(kept)} kept from earlier runs, {len(to_run)} to analyse; "
        f"annulusview {__version__}{' (resume)' if resume else ''}{' (force)' if force else ''}"
    )
    if checked.ignored_columns:
        log.write(f"manifest columns ignored: {', '.join(checked.ignored_columns)}")
    for row in kept:
        log.write(f"case {row.case_id} kept: results of an earlier run match the row")

    state = _Tracker(total=len(checked.rows), to_run=len(to_run), resumed=len(kept))

    def notify(snapshot: BatchProgress) -> None:
        if progress is not None:
            progress(snapshot)

    interrupted = False
    try:
        if to_run:
            connection: contextlib.AbstractContextManager[tuple[Client, ClusterInfo]]
            if client is not None:
                connection = contextlib.nullcontext((client, cluster.given_client(client)))
            elif scheduler:
                connection = cluster.remote_cluster(scheduler)
            else:
                n = workers or cluster.default_workers(len(to_run))
                connection = cluster.local_cluster(
                    n, cluster.parse_memory(memory_per_worker, n), quiet
                )
            with cluster.dask_logs(quiet), connection as (dask_client, info):
                state.cluster = info
                log.write(f"cluster: {info.description} at {info.address}")
                notify(state.snapshot())
                _run_cases(dask_client, to_run, hashes, folder, log, run_id, state, notify)
    except KeyboardInterrupt:
        interrupted = True
        log.write("interrupted (Ctrl-C): cluster stopped")

    table = build_table(_case_states(checked, folder, hashes, run_id, interrupted))
    outputs = write_tables(folder.root, table, checked.rows)
    if summary:
        from annulusview.batch.summary import build_summary, write_summary_pdf, write_summary_png

        page = build_summary(table, checked.path.name)
        outputs.append(write_summary_pdf(folder.root / SUMMARY_PDF, page))
        outputs.append(write_summary_png(folder.root / SUMMARY_PNG, page))
    elapsed = time.perf_counter() - started
    report = BatchReport(
        folder.root, run_id, table, tuple(outputs), interrupted, elapsed, state.cluster
    )
    log.write(
        f"run {'interrupted' if interrupted else 'finished'} in {elapsed:.1f} s: "
        f"{report.ok} ok, {report.failed} failed, {report.skipped} not analysed"
    )
    if interrupted:
        raise BatchInterrupted(report)
    return report
