"""The batch output folder: per-case results and their record, and the run log.

Layout of ``DIR``::

    CASE_ID/results.json     the analyze JSON (schema 2), only for a case that succeeded
    CASE_ID/batch-meta.json  which manifest row (hash), app version and run produced it
    cohort.csv, cohort.parquet, failures.csv, summary.pdf/.png   (tables.py, summary.py)
    batch.log                one line per event, appended by every run

Every file but the log is written atomically (core.atomic). The log is appended one line per
``write`` call on a file opened with ``O_APPEND``, so a killed run leaves whole lines.
``batch-meta.json`` is written after ``results.json``: a case counts as done only when both
exist and the record matches the manifest row and this version.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from annulusview import __version__
from annulusview.batch.manifest import RESERVED_NAMES, ManifestRow
from annulusview.batch.tasks import FAILED, OK, CaseOutcome, now_iso
from annulusview.core.atomic import atomic_write_text
from annulusview.core.errors import OutputError

RESULTS_NAME = "results.json"
META_NAME = "batch-meta.json"
LOG_NAME = "batch.log"
META_SCHEMA = "annulusview.batch-meta/1"


@dataclass(frozen=True)
class CaseRecord:
    """The ``batch-meta.json`` of one case: how its current outcome was produced."""

    case_id: str
    status: str
    reason: str
    error_type: str
    row_hash: str
    app_version: str
    run_id: str
    started: str
    finished: str
    worker: str
    load_s: float | None
    analysis_s: float | None
    total_s: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"schema": META_SCHEMA, **asdict(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CaseRecord | None:
        """The record in ``data``, or None when it is not one of ours (a foreign or damaged
        file is treated as no record: the case is analysed again)."""
        if data.get("schema") != META_SCHEMA:
            return None
        try:
            return cls(**{f.name: data[f.name] for f in fields(cls)})
        except (KeyError, TypeError):
            return None

    def is_current(self, row: ManifestRow, row_hash: str | None = None) -> bool:
        """Whether this record belongs to ``row`` as the manifest has it now, in this version."""
        return (
            self.case_id == row.case_id
            and self.row_hash == (row_hash or row.row_hash())
            and self.app_version == __version__
        )


class OutputFolder:
    """The batch output folder ``root`` (created on first write)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser().absolute()

    def case_dir(self, case_id: str) -> Path:
        return self.root / case_id

    def results_path(self, case_id: str) -> Path:
        return self.case_dir(case_id) / RESULTS_NAME

    def meta_path(self, case_id: str) -> Path:
        return self.case_dir(case_id) / META_NAME

    @property
    def log_path(self) -> Path:
        return self.root / LOG_NAME

    def holds_a_run(self) -> bool:
        """Whether an earlier batch wrote here (its log, tables or any case record)."""
        if not self.root.is_dir():
            return False
        if any((self.root / name).exists() for name in RESERVED_NAMES):
            return True
        with contextlib.suppress(OSError):
            for entry in os.scandir(self.root):
                if entry.is_dir(follow_symlinks=False) and (Path(entry.path) / META_NAME).exists():
                    return True
        return False

    def read_record(self, case_id: str) -> CaseRecord | None:
        try:
            data = json.loads(self.meta_path(case_id).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return CaseRecord.from_dict(data) if isinstance(data, dict) else None

    def read_results(self, case_id: str) -> dict[str, Any] | None:
        """The parsed results JSON of a case, or None when absent or unreadable."""
        try:
            data = json.loads(self.results_path(case_id).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def current_record(self, row: ManifestRow, row_hash: str) -> CaseRecord | None:
        """The case's record when it matches the row and this version, else None."""
        record = self.read_record(row.case_id)
        if record is None or not record.is_current(row, row_hash):
            return None
        if record.status == OK and not self.results_path(row.case_id).is_file():
            return None
        return record

    def is_done(self, row: ManifestRow, row_hash: str) -> bool:
        """Whether ``--resume`` may skip the case: its results exist and match the row."""
        record = self.current_record(row, row_hash)
        return record is not None and record.status == OK

    def save(self, outcome: CaseOutcome, row_hash: str, run_id: str) -> CaseRecord:
        """Write a finished case: its results (when ok), then its record.

        A failed case's earlier results are removed, so ``results.json`` only ever holds the
        outcome its record describes.
        """
        folder = self.case_dir(outcome.case_id)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"Cannot create the folder {folder}: {exc.strerror or exc}.") from exc
        results = self.results_path(outcome.case_id)
        if outcome.status == OK and outcome.results_json is not None:
            atomic_write_text(results, outcome.results_json)
        else:
            results.unlink(missing_ok=True)
        record = CaseRecord(
            case_id=outcome.case_id,
            status=outcome.status if outcome.results_json is not None else FAILED,
            reason=outcome.reason,
            error_type=outcome.error_type,
            row_hash=row_hash,
            app_version=__version__,
            run_id=run_id,
            started=outcome.started,
            finished=outcome.finished,
            worker=outcome.worker,
            load_s=outcome.load_s,
            analysis_s=outcome.analysis_s,
            total_s=outcome.total_s,
        )
        atomic_write_text(self.meta_path(outcome.case_id), json.dumps(record.to_dict(), indent=2))
        return record


class RunLog:
    """The append-only ``batch.log``: ``TIME RUN_ID WHAT`` lines, one per event."""

    def __init__(self, path: Path, run_id: str) -> None:
        self.path = path
        self.run_id = run_id

    def write(self, text: str) -> None:
        line = f"{now_iso()} {self.run_id} {' '.join(text.split())}\n".encode()
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise OutputError(f"Could not write {self.path}: {exc.strerror or exc}.") from exc
        try:
            os.write(fd, line)
        except OSError as exc:
            raise OutputError(f"Could not write {self.path}: {exc.strerror or exc}.") from exc
        finally:
            os.close(fd)
