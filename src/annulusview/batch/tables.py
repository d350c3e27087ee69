"""The cohort tables: one row per manifest case, from the results files on disk.

The tables are a projection of the results JSON (schema 2, the file contract), so they can be
rebuilt from any mix of runs (``--resume``). Column names carry units; a value that is not
applicable or not available is empty (CSV) or null (Parquet). Flag columns follow the rules:
``<flag id>.status`` and ``<flag id>.level`` for every flag any case reports.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from annulusview.batch.manifest import AUTO, ManifestRow
from annulusview.batch.store import RESULTS_NAME, CaseRecord
from annulusview.batch.tasks import FAILED
from annulusview.core.atomic import atomic_write_text, atomic_write_with

COHORT_CSV = "cohort.csv"
COHORT_PARQUET = "cohort.parquet"
FAILURES_CSV = "failures.csv"

STR, FLOAT, INT, BOOL = "string", "float", "int", "bool"

REGIONS = ("leaflet", "annulus", "lvot", "conduction", "other")
CUSPS = ("RCC", "LCC", "NCC")

#: (column, type, path into the results JSON) for the measurement columns.
_MEASURES: tuple[tuple[str, str, tuple[str | int, ...]], ...] = (
    ("series_instance_uid", STR, ("series_instance_uid",)),
    ("contrast_state", STR, ("contrast_state",)),
    ("calcium_assessed", BOOL, ("calcium_assessed",)),
    ("lumen_hu", FLOAT, ("lumen_hu",)),
    ("threshold_hu", FLOAT, ("threshold_hu",)),
    ("threshold_method", STR, ("threshold_method",)),
    ("annulus_perimeter_mm", FLOAT, ("annulus", "perimeter_mm")),
    ("annulus_area_mm2", FLOAT, ("annulus", "area_mm2")),
    ("annulus_d_min_mm", FLOAT, ("annulus", "d_min_mm")),
    ("annulus_d_max_mm", FLOAT, ("annulus", "d_max_mm")),
    ("annulus_d_area_mm", FLOAT, ("annulus", "d_area_mm")),
    ("annulus_d_perimeter_mm", FLOAT, ("annulus", "d_perimeter_mm")),
    ("annulus_eccentricity", FLOAT, ("annulus", "eccentricity")),
    ("annulus_method", STR, ("annulus", "method")),
    ("annulus_area_plane_min_mm2", FLOAT, ("annulus", "area_plane_range_mm2", 0)),
    ("annulus_area_plane_max_mm2", FLOAT, ("annulus", "area_plane_range_mm2", 1)),
    ("coronary_height_lca_mm", FLOAT, ("coronary_heights_mm", "LCA")),
    ("coronary_height_rca_mm", FLOAT, ("coronary_heights_mm", "RCA")),
    ("ms_length_mm", FLOAT, ("ms_length_mm",)),
    ("ms_height_mm", FLOAT, ("ms_height_mm",)),
    ("calcium_volume_mm3", FLOAT, ("calcium", "volume_mm3")),
    ("calcium_agatston", FLOAT, ("calcium", "agatston")),
    ("valve_agatston", FLOAT, ("calcium", "valve_agatston")),
    ("leaflet_volume_850_mm3", FLOAT, ("calcium", "leaflet_volume_850_mm3")),
    *(
        (f"calcium_{region}_mm3", FLOAT, ("calcium", "by_region", region, "volume_mm3"))
        for region in REGIONS
    ),
    *(
        (f"calcium_{region}_agatston", FLOAT, ("calcium", "by_region", region, "agatston"))
        for region in REGIONS
    ),
    *(
        (f"calcium_{cusp.lower()}_mm3", FLOAT, ("calcium", "by_cusp", cusp, "volume_mm3"))
        for cusp in CUSPS
    ),
    ("lvot_calcium_grade", STR, ("lvot_calcium_grade", "grade")),
    (
        "lvot_calcium_grade_above_noise_floor",
        STR,
        ("lvot_calcium_grade", "grade_above_noise_floor"),
    ),
    ("mac_score_total", INT, ("mitral", "mac", "score", "total")),
    ("mac_score_grade", STR, ("mitral", "mac", "score", "grade")),
    ("neo_lvot_area_mm2", FLOAT, ("mitral", "neo_lvot", "area_mm2")),
)

#: Columns before the measurements: the case, its outcome and its inputs.
_CASE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("case_id", STR),
    ("status", STR),
    ("reason", STR),
    ("error_type", STR),
    ("resumed", BOOL),
    ("study", STR),
    ("landmarks", STR),
    ("valve", STR),
    ("implant_depth_mm", STR),
    ("sex", STR),
    ("results", STR),
)

#: Columns after the flags: counts, timings, provenance.
_TAIL_COLUMNS: tuple[tuple[str, str], ...] = (
    ("lesion_count", INT),
    ("flags_raised", INT),
    ("warnings_count", INT),
    ("load_s", FLOAT),
    ("analysis_s", FLOAT),
    ("case_s", FLOAT),
    ("worker", STR),
    ("run_id", STR),
    ("finished", STR),
    ("app_version", STR),
)

FAILURE_COLUMNS = ("case_id", "reason", "error_type", "study", "landmarks", "line", "worker")


@dataclass(frozen=True)
class CaseState:
    """Where one manifest case stands after a run.

    Attributes
    ----------
    row
        The manifest row.
    status, reason
        ``ok`` / ``failed`` / ``skipped`` and why (failed, skipped).
    record
        Its ``batch-meta.json``, when the case ran for this row and version.
    results
        Its parsed results JSON (ok cases).
    resumed
        The outcome comes from an earlier run (``--resume``).
    """

    row: ManifestRow
    status: str
    reason: str = ""
    record: CaseRecord | None = None
    results: Mapping[str, Any] | None = None
    resumed: bool = False


@dataclass(frozen=True)
class CohortTable:
    """The cohort table: its columns (name, type) in order and one dict per case."""

    columns: tuple[tuple[str, str], ...]
    rows: tuple[Mapping[str, Any], ...]

    def column(self, name: str) -> list[Any]:
        return [row.get(name) for row in self.rows]

    def count(self, status: str) -> int:
        return sum(1 for row in self.rows if row["status"] == status)


def _at(doc: Mapping[str, Any], path: Sequence[str | int]) -> Any:
    value: Any = doc
    for key in path:
        if isinstance(key, int):  # an item of a list ([smallest, largest] ranges)
            if not isinstance(value, list | tuple) or not -len(value) <= key < len(value):
                return None
            value = value[key]
        elif not isinstance(value, Mapping):
            return None
        else:
            value = value.get(key)
    return value


def _typed(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == FLOAT:
        number = float(value)
        return number if math.isfinite(number) else None
    if kind == INT:
        return int(value)
    if kind == BOOL:
        return bool(value)
    return str(value)


def flag_columns(docs: Iterable[Mapping[str, Any] | None]) -> list[str]:
    """Every flag id the results report, in the order they first appear."""
    ids: dict[str, None] = {}
    for doc in docs:
        for flag in (doc or {}).get("flags") or ():
            ids.setdefault(str(flag.get("id")), None)
    return list(ids)


def case_row(state: CaseState, flag_ids: Sequence[str]) -> dict[str, Any]:
    """One table row: the manifest's values, the outcome, and (when ok) the measurements."""
    row, status, record, doc = state.row, state.status, state.record, state.results
    out: dict[str, Any] = {
        "case_id": row.case_id,
        "status": status,
        "reason": state.reason or None,
        "error_type": (record.error_type if record is not None and status == FAILED else None)
        or None,
        "resumed": state.resumed,
        "study": str(row.study),
        "landmarks": AUTO if row.landmarks is None else str(row.landmarks),
        "valve": row.valve,
        "implant_depth_mm": row.implant_depth_mm,
        "sex": row.sex,
        "results": f"{row.case_id}/{RESULTS_NAME}" if doc is not None else None,
    }
    data: Mapping[str, Any] = doc or {}
    for name, kind, path in _MEASURES:
        out[name] = _typed(_at(data, path), kind)
    flags = {str(f.get("id")): f for f in data.get("flags") or ()}
    for flag_id in flag_ids:
        flag = flags.get(flag_id) or {}
        out[f"{flag_id}.status"] = flag.get("status")
        out[f"{flag_id}.level"] = flag.get("level")
    has = doc is not None
    out["lesion_count"] = len(data.get("lesions") or ()) if has else None
    out["flags_raised"] = sum(1 for f in flags.values() if f.get("raised")) if has else None
    out["warnings_count"] = len(data.get("warnings") or ()) if has else None
    timings = data.get("timings_s") or {}
    out["load_s"] = record.load_s if record is not None else None
    out["analysis_s"] = _typed(timings.get("total"), FLOAT) if has else None
    if out["analysis_s"] is None and record is not None:
        out["analysis_s"] = record.analysis_s
    out["case_s"] = record.total_s if record is not None else None
    out["worker"] = record.worker if record is not None else None
    out["run_id"] = record.run_id if record is not None else None
    out["finished"] = record.finished if record is not None else None
    out["app_version"] = data.get("app_version") if has else None
    if out["app_version"] is None and record is not None:
        out["app_version"] = record.app_version
    return out


def build_table(states: Sequence[CaseState]) -> CohortTable:
    """The cohort table, one row per case in manifest order."""
    flag_ids = flag_columns(state.results for state in states)
    columns = (
        *_CASE_COLUMNS,
        *((name, kind) for name, kind, _ in _MEASURES),
        *((f"{fid}.{part}", STR) for fid in flag_ids for part in ("status", "level")),
        *_TAIL_COLUMNS,
    )
    rows = tuple(case_row(state, flag_ids) for state in states)
    return CohortTable(columns, rows)


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(round(value, 4))
    return str(value)


def table_csv(table: CohortTable) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(name for name, _ in table.columns)
    for row in table.rows:
        writer.writerow(_csv_value(row.get(name)) for name, _ in table.columns)
    return buffer.getvalue()


def failures_csv(table: CohortTable, rows: Sequence[ManifestRow]) -> str:
    lines = {r.case_id: r.line for r in rows}
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(FAILURE_COLUMNS)
    for row in table.rows:
        if row["status"] != FAILED:
            continue
        values = {**row, "line": lines.get(row["case_id"])}
        writer.writerow(_csv_value(values.get(name)) for name in FAILURE_COLUMNS)
    return buffer.getvalue()


def _write_parquet(path: Path, table: CohortTable) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    types = {STR: pa.string(), FLOAT: pa.float64(), INT: pa.int64(), BOOL: pa.bool_()}
    schema = pa.schema([(name, types[kind]) for name, kind in table.columns])
    arrow = pa.table({name: table.column(name) for name, _ in table.columns}, schema=schema)
    atomic_write_with(path, lambda tmp: pq.write_table(arrow, str(tmp)))


def write_tables(folder: Path, table: CohortTable, rows: Sequence[ManifestRow]) -> list[Path]:
    """Write ``cohort.csv``, ``cohort.parquet`` and ``failures.csv`` atomically."""
    csv_path, parquet_path = folder / COHORT_CSV, folder / COHORT_PARQUET
    failures_path = folder / FAILURES_CSV
    atomic_write_text(csv_path, table_csv(table))
    _write_parquet(parquet_path, table)
    atomic_write_text(failures_path, failures_csv(table, rows))
    return [csv_path, parquet_path, failures_path]
