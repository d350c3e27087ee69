"""The cohort manifest: a CSV with one case per row, checked before any case runs.

``case_id,study[,landmarks,valve,implant_depth_mm,sex]``; paths are relative to the manifest.
A manifest that cannot name its cases safely (no header, a missing column, an empty, unsafe or
repeated case id, a row with too many fields) is refused as a whole with
:class:`ManifestError`. Anything about one case's values (a study that does not load, a
landmarks file that does not exist, an unknown valve) is that case's failure, found when it
runs, so one bad row never stops the rest.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from annulusview.core.errors import InputError
from annulusview.core.textfile import read_small_text

REQUIRED_COLUMNS = ("case_id", "study")
OPTIONAL_COLUMNS = ("landmarks", "valve", "implant_depth_mm", "sex")
COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS

#: The ``landmarks`` value that asks for proposed (automatic) landmarks. An empty value
#: means the same.
AUTO = "auto"

#: Largest manifest read (bytes): tens of thousands of rows.
MANIFEST_LIMIT = 64 * 1024 * 1024

#: Names the batch writes at the top of its output folder; no case folder may take them.
RESERVED_NAMES = frozenset(
    {"cohort.csv", "cohort.parquet", "failures.csv", "batch.log", "summary.pdf", "summary.png"}
)

# A case id becomes a folder name on every platform: ASCII letters, digits, '.', '_', '-';
# it starts with a letter or digit (so never '.', '..' or a hidden folder).
_CASE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class ManifestError(InputError):
    """The manifest cannot be used at all (the batch exits 3 before any case runs)."""


@dataclass(frozen=True)
class ManifestRow:
    """One case of the cohort, with its paths resolved against the manifest's folder.

    Attributes
    ----------
    case_id
        The case's name; also its folder in the output.
    study
        DICOM folder, zip, file or NIfTI volume (absolute).
    landmarks
        Markups file (absolute), or None for proposed landmarks (``auto`` or empty).
    valve
        ``FAMILY:SIZE`` as ``analyze --valve`` takes it, or None.
    implant_depth_mm
        The value as written (checked when the case runs), or None.
    sex
        ``M``/``F`` as written (checked when the case runs), or None.
    line
        Line of the manifest the row is on (1 = the header).
    """

    case_id: str
    study: Path
    landmarks: Path | None
    valve: str | None = None
    implant_depth_mm: str | None = None
    sex: str | None = None
    line: int = 0

    def identity(self) -> dict[str, str | None]:
        """What the row asks for, as plain text (the input of :meth:`row_hash`)."""
        return {
            "case_id": self.case_id,
            "study": str(self.study),
            "landmarks": AUTO if self.landmarks is None else str(self.landmarks),
            "landmarks_sha256": _file_sha256(self.landmarks),
            "valve": self.valve,
            "implant_depth_mm": self.implant_depth_mm,
            "sex": self.sex,
        }

    def row_hash(self) -> str:
        """SHA-256 of the row's values and of its landmarks file's content.

        A changed value, a moved manifest (the resolved paths change) or an edited landmarks
        file gives another hash, so ``--resume`` analyses that case again. The study's own
        files are not hashed (a cohort is terabytes): replacing a study in place is not seen.
        """
        text = json.dumps(self.identity(), sort_keys=True)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Manifest:
    """A checked manifest: its rows in file order and the columns it ignored."""

    path: Path
    rows: tuple[ManifestRow, ...]
    ignored_columns: tuple[str, ...] = ()


def _file_sha256(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        with open(path, "rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError:
        return None  # a missing file fails the case when it runs; the hash just differs


def check_case_id(case_id: str, line: int) -> str:
    """Return ``case_id`` when it is a safe folder name, else raise :class:`ManifestError`."""
    where = f"line {line}"
    if not case_id:
        raise ManifestError(f"The manifest has an empty case_id on {where}.", "Name every case.")
    if case_id.lower() in RESERVED_NAMES:
        raise ManifestError(
            f"The case_id {case_id!r} on {where} is the name of a batch output.",
            "Rename the case.",
        )
    if not _CASE_ID.match(case_id):
        raise ManifestError(
            f"The case_id {case_id!r} on {where} cannot be a folder name.",
            "Case ids become folder names: use letters, digits, '.', '_' and '-' (up to 100, "
            "starting with a letter or digit; no path separators, spaces or dots-only names).",
        )
    return case_id


def _resolve(value: str, folder: Path) -> Path:
    p = Path(value).expanduser()
    return (p if p.is_absolute() else folder / p).absolute()


def parse_manifest(text: str, path: Path) -> Manifest:
    """Check the manifest ``text`` read from ``path`` (paths resolve against its folder)."""
    folder = path.absolute().parent
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        records = list(reader)
    except csv.Error as exc:
        raise ManifestError(
            f"The manifest {path} is not readable as CSV ({exc}).", "Save it as CSV."
        ) from None
    header_index = next((n for n, r in enumerate(records) if any(c.strip() for c in r)), None)
    if header_index is None:
        raise ManifestError(
            f"The manifest {path} is empty.",
            f"Write a header line ({','.join(COLUMNS)}) and one line per case.",
        )
    header = [c.strip().lower() for c in records[header_index]]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise ManifestError(
            f"The manifest {path} has no {' or '.join(missing)} column in its header "
            f"(first line: {','.join(records[header_index])[:80]!r}).",
            f"The first line names the columns: {','.join(REQUIRED_COLUMNS)} and optionally "
            f"{','.join(OPTIONAL_COLUMNS)}.",
        )
    repeated = sorted({c for c in header if c and header.count(c) > 1})
    if repeated:
        raise ManifestError(
            f"The manifest {path} names the column(s) {', '.join(repeated)} twice.",
            "Name each column once.",
        )
    index = {name: header.index(name) for name in COLUMNS if name in header}
    ignored = tuple(c for c in header if c not in COLUMNS)
    rows: list[ManifestRow] = []
    seen: dict[str, int] = {}
    for n, record in enumerate(records[header_index + 1 :], start=header_index + 2):
        if not any(c.strip() for c in record):
            continue
        if len(record) > len(header):
            raise ManifestError(
                f"Line {n} of the manifest {path} has {len(record)} fields; the header names "
                f"{len(header)}.",
                "Quote values that hold commas.",
            )
        values = {name: (record[i].strip() if i < len(record) else "") for name, i in index.items()}
        rows.append(_row(values, n, folder, path, seen))
    if not rows:
        raise ManifestError(f"The manifest {path} lists no case.", "Add one line per case.")
    return Manifest(path.absolute(), tuple(rows), ignored)


def _row(
    values: Mapping[str, str], line: int, folder: Path, path: Path, seen: dict[str, int]
) -> ManifestRow:
    case_id = check_case_id(values["case_id"], line)
    # Folder names clash on case-insensitive file systems (macOS, Windows) too.
    key = case_id.casefold()
    if key in seen:
        raise ManifestError(
            f"The case_id {case_id!r} on line {line} of {path} repeats line {seen[key]}.",
            "Give each case its own id (ids differing only in case count as the same).",
        )
    seen[key] = line
    if not values["study"]:
        raise ManifestError(
            f"The case {case_id!r} on line {line} of {path} names no study.",
            "Give the study's DICOM folder, zip or NIfTI file.",
        )
    landmarks = values.get("landmarks", "")
    return ManifestRow(
        case_id=case_id,
        study=_resolve(values["study"], folder),
        landmarks=None if landmarks.lower() in ("", AUTO) else _resolve(landmarks, folder),
        valve=values.get("valve") or None,
        implant_depth_mm=values.get("implant_depth_mm") or None,
        sex=values.get("sex") or None,
        line=line,
    )


def read_manifest(path: str | Path) -> Manifest:
    """Read and check the manifest at ``path``.

    Raises
    ------
    ManifestError
        The file is missing or unreadable, has no header or lacks ``case_id``/``study``, or
        a case id is empty, unsafe as a folder name or repeated.
    """
    p = Path(path).expanduser()
    text = read_small_text(p, "manifest", limit=MANIFEST_LIMIT, error=ManifestError)
    return parse_manifest(text.removeprefix("\ufeff"), p)  # spreadsheets write a BOM
