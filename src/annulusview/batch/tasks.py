"""One case of a cohort as one task: load, landmarks, analyse, return the results JSON text.

:func:`analyse_case` runs on a Dask worker. It gets the manifest row (paths, never arrays), so
the study is read where the worker runs and only the results text (tens of kB) travels back.
It never raises for a case's own problem: an unreadable study, bad landmarks or an internal
error becomes a failed :class:`CaseOutcome` with its plain reason. Only the death of the
worker process itself (killed, out of memory) is left to the caller, which sees it as
Dask's ``KilledWorker``.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from annulusview.batch.manifest import ManifestRow
from annulusview.core.errors import AnnulusViewError, InputError

if TYPE_CHECKING:
    from annulusview.core.aortic.valve import PlannedValve
    from annulusview.core.landmarks import Landmarks
    from annulusview.core.volume import Volume

logger = logging.getLogger(__name__)

OK = "ok"
FAILED = "failed"
SKIPPED = "skipped"


@dataclass(frozen=True)
class CaseOutcome:
    """What one case's task returns (small and picklable).

    Attributes
    ----------
    case_id
        The manifest's case id.
    status
        ``ok`` or ``failed``.
    reason
        Why the case failed, in plain words ('' when ok).
    error_type
        The error's class name ('' when ok), e.g. ``NoSeriesError`` or ``KilledWorker``.
    results_json
        The results JSON text, exactly as ``annulusview analyze --json`` writes it (None when
        failed).
    load_s, analysis_s, total_s
        Wall time to load the study, to analyse it, and of the whole task, s.
    worker
        ``host:pid`` of the process that ran the task.
    started, finished
        UTC times, ISO 8601.
    """

    case_id: str
    status: str
    reason: str = ""
    error_type: str = ""
    results_json: str | None = None
    load_s: float | None = None
    analysis_s: float | None = None
    total_s: float | None = None
    worker: str = ""
    started: str = ""
    finished: str = ""


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _landmarks_for(row: ManifestRow, volume: Volume) -> Landmarks:
    """The landmarks of one case: its markups file, or proposed from ``volume`` (``auto``).

    Proposed landmarks are marked ``"proposed"``: the results list them in
    ``landmarks_proposed`` and warn that they are unconfirmed.

    Raises
    ------
    LandmarkError
        The file is unreadable or lacks a hinge.
    InputError
        ``auto`` on a study where no aortic root is found with confidence (the reason says why).
    """
    from annulusview.core.aortic.frame import check_hinges
    from annulusview.core.landmarks import read_landmarks

    if row.landmarks is None:
        from annulusview.core.aortic.propose import propose_landmarks

        return propose_landmarks(volume).landmarks
    landmarks = read_landmarks(row.landmarks)
    check_hinges(landmarks)
    return landmarks


def _implant_depth(row: ManifestRow) -> float | None:
    if row.implant_depth_mm is None:
        return None
    try:
        depth = float(row.implant_depth_mm)
    except ValueError:
        raise InputError(
            f"implant_depth_mm {row.implant_depth_mm!r} is not a number.", "Give mm, e.g. 4."
        ) from None
    return depth  # its range is checked by PlannedValve, as for `analyze --implant-depth`


def _planned_valve(row: ManifestRow) -> PlannedValve:
    """The row's valve as ``analyze --valve FAMILY:SIZE --implant-depth MM`` builds it."""
    from annulusview.core.aortic.devices import parse_valve_option
    from annulusview.core.aortic.valve import PlannedValve

    depth = _implant_depth(row)
    if row.valve:
        return parse_valve_option(row.valve, depth)
    return PlannedValve(None, None, depth)


def _sex(row: ManifestRow) -> str | None:
    if row.sex is None:
        return None
    sex = row.sex.upper()
    if sex not in ("M", "F"):
        raise InputError(f"sex {row.sex!r} is not M or F.", "Leave it empty to use the header.")
    return sex


def analyse_case(row: ManifestRow) -> CaseOutcome:
    """Analyse one case as ``annulusview analyze STUDY --landmarks FILE --json`` would.

    The results JSON text is byte for byte what ``analyze --json`` writes for the same inputs,
    apart from ``timings_s``. Returns a failed outcome, never raises, for the case's own
    problems.
    """
    start = time.perf_counter()
    started = now_iso()
    load_s: float | None = None
    analysis_s: float | None = None

    def outcome(
        status: str, reason: str = "", error_type: str = "", results_json: str | None = None
    ) -> CaseOutcome:
        return CaseOutcome(
            case_id=row.case_id,
            status=status,
            reason=reason,
            error_type=error_type,
            results_json=results_json,
            load_s=load_s,
            analysis_s=analysis_s,
            total_s=time.perf_counter() - start,
            worker=worker_name(),
            started=started,
            finished=now_iso(),
        )

    try:
        import annulusview
        from annulusview.core.analysis import analyze
        from annulusview.core.rules import load_rules

        # The cheap inputs first, so a bad valve does not cost a study load.
        rules = load_rules(None)
        valve = _planned_valve(row)
        sex = _sex(row)
        t0 = time.perf_counter()
        volume = annulusview.load(row.study)
        load_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        landmarks = _landmarks_for(row, volume)
        results = analyze(volume, landmarks, rules, valve=valve, sex=sex)
        text = results.to_json()
        analysis_s = time.perf_counter() - t0
    except AnnulusViewError as exc:
        return outcome(FAILED, reason=exc.user_text(), error_type=type(exc).__name__)
    except MemoryError:
        return outcome(
            FAILED,
            reason="Out of memory while analysing this case.",
            error_type="MemoryError",
        )
    except Exception as exc:  # a bug must cost one case, not the cohort
        logger.debug("case %s: internal error", row.case_id, exc_info=True)
        return outcome(
            FAILED,
            reason=f"internal error ({type(exc).__name__}: {str(exc)[:200]}); please report it",
            error_type=type(exc).__name__,
        )
    return outcome(OK, results_json=text)
