"""Safe outputs: atomic writes, and the checks that keep an output off every input.

A crash, ``kill -9`` or a full disk never leaves a half-written file: every output is written
to a hidden temporary beside it (``.NAME.PID-XXXXXXXX.part``) and renamed into place.
Temporaries left by a killed run of this program are removed on the next write to that folder.
:func:`check_outputs` refuses, before any work, an output that is an input of the same run or
lies inside the study folder (``--force`` or not), and two outputs that share a path.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import IO

from annulusview.core.errors import OutputError

# mkstemp creates 0600 files; outputs are ordinary documents the user may share.
_FILE_MODE = 0o644

# When this process started (close enough: core is imported before any write). A temporary
# older than this cannot be one this process is writing.
_PROCESS_START = time.time()

# Our temporaries: ".NAME.PID-RANDOM.part" (and ".NAME.RANDOM.part" from versions before the
# PID was recorded). The random part is tempfile's: 8 characters of [a-z0-9_].
_PART = re.compile(r"^\..+\.(?:(?P<pid>\d{1,10})-)?[a-z0-9_]{8}\.part$")

# Longest name part kept in a temporary's name, so that the temporary of a long (legal) output
# name stays within the file system's 255-byte limit.
_TMP_NAME_BYTES = 180


def _name_max(folder: Path) -> int:
    try:
        return int(os.pathconf(folder, "PC_NAME_MAX"))
    except (OSError, ValueError, AttributeError):
        return 255


def check_output_path(path: Path, force: bool = False) -> Path:
    """Resolve ``path`` and fail early, with a hint, when it cannot be written.

    Raises
    ------
    OutputError
        The file exists and ``force`` is False, the name is too long, the path is a folder
        or a special file, or the folder is missing or not writable.
    """
    path = Path(path).expanduser()
    folder = path.parent if str(path.parent) else Path(".")
    _check_name(path)
    try:
        is_dir = folder.is_dir()
        exists = path.exists() or path.is_symlink()
    except OSError as exc:  # e.g. a path component longer than the file system allows
        raise OutputError(
            f"The output path {path} cannot be used: {exc.strerror or exc}."
        ) from None
    if not is_dir:
        raise OutputError(f"The folder {folder} does not exist.", "Create it first.")
    if exists:
        if path.is_dir():
            raise OutputError(f"{path} is a folder.", "Give a file name inside it.")
        if not force:
            raise OutputError(f"{path} already exists.", "Choose another name or pass --force.")
        if not path.is_file():
            raise OutputError(f"{path} is not a regular file.", "Choose another name.")
    if not os.access(folder, os.W_OK):
        raise OutputError(f"The folder {folder} is not writable.", "Choose another folder.")
    return path


def _same_or_inside(path: Path, other: Path) -> tuple[bool, bool]:
    """(``path`` is ``other``, ``path`` lies inside the folder ``other``), links followed."""
    resolved = path.resolve()
    target = other.resolve()
    same = resolved == target
    if not same and path.exists() and other.exists():
        with contextlib.suppress(OSError):
            same = os.path.samefile(path, other)  # hard links, bind mounts
    inside = not same and target.is_dir() and resolved.is_relative_to(target)
    return same, inside


def check_not_input(
    path: Path, label: str, inputs: Mapping[str, str | Path | None], study: str | Path | None
) -> None:
    """Refuse ``path`` (the output ``label``) when it is one of ``inputs`` or the study, or
    lies inside the study folder. ``--force`` never overrides this."""
    named = {what: Path(p).expanduser() for what, p in inputs.items() if p is not None}
    try:
        for what, other in named.items():
            if _same_or_inside(path, other)[0]:
                raise OutputError(
                    f"{label} {path} is the {what} of this run.",
                    "Input files are never modified: write the output somewhere else.",
                )
        if study is None:
            return
        study_path = Path(study).expanduser()
        same, inside = _same_or_inside(path, study_path)
    except OSError as exc:
        raise OutputError(
            f"{label} {path} cannot be used: {exc.strerror or exc}.", "Check the path."
        ) from None
    if same:
        raise OutputError(
            f"{label} {path} is the study itself.",
            "Input files are never modified: write the output somewhere else.",
        )
    if inside:
        raise OutputError(
            f"{label} {path} lies inside the study folder {study_path}.",
            "Input files are never modified: write outputs outside the study folder.",
        )


def _check_name(path: Path) -> None:
    """A name the file system can hold, with room for the temporary beside it."""
    folder = path.parent if str(path.parent) else Path(".")
    limit = _name_max(folder) if folder.is_dir() else 255
    name_bytes = len(os.fsencode(path.name))
    if name_bytes > limit:
        raise OutputError(
            f"The output name {path.name[:40]}... is {name_bytes} bytes long; this file "
            f"system allows at most {limit}.",
            "Choose a shorter name.",
        )


def check_outputs(
    outputs: Mapping[str, str | Path | None],
    *,
    inputs: Mapping[str, str | Path | None] | None = None,
    study: str | Path | None = None,
    force: bool = False,
) -> dict[str, Path]:
    """Check every output of one run before any work is done.

    ``outputs`` maps a label (the option, e.g. ``"--json"``) to a path or None (not asked
    for); ``inputs`` maps a description ("landmarks file") to each input file; ``study`` is
    the study path (folder, zip or file). Each output must be writable
    (:func:`check_output_path`), must not exist unless ``force``, must not be an input or the
    study or inside the study folder (even with ``force``), and no two outputs may share a
    path. Returns label -> path for the outputs asked for.
    """
    checked: dict[str, Path] = {}
    seen: dict[Path, str] = {}
    for label, value in outputs.items():
        if value is None or value == "":
            continue
        path = Path(value).expanduser()
        _check_name(path)
        check_not_input(path, label, inputs or {}, study)
        path = check_output_path(path, force)
        key = path.resolve()
        if key in seen:
            raise OutputError(
                f"{seen[key]} and {label} name the same file {path}.",
                "Give each output its own name.",
            )
        seen[key] = label
        checked[label] = path
    return checked


def _pid_alive(pid: int) -> bool | None:
    """Whether process ``pid`` runs on this machine; None when that cannot be told."""
    if sys.platform.startswith("win"):
        return None  # os.kill(pid, 0) would terminate the process on Windows
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def clean_stale_parts(folder: Path) -> list[Path]:
    """Remove temporaries of this program that a killed run left in ``folder``.

    Only names matching this program's pattern are touched, and only those whose writer is
    gone: the PID in the name no longer runs (a reused PID keeps the file, which is harmless);
    for names without a PID, or where liveness cannot be told, older than this process and
    than one day. Returns what was removed; errors are ignored
    (cleaning is a courtesy, never a reason for a write to fail).
    """
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        m = _PART.match(entry.name)
        if m is None:
            continue
        try:
            mtime = entry.stat(follow_symlinks=False).st_mtime
        except OSError:
            continue
        pid = int(m.group("pid")) if m.group("pid") is not None else None
        if pid == os.getpid():
            continue  # ours: another thread of this process may be writing it
        alive = _pid_alive(pid) if pid is not None else None
        if alive is None:
            # No PID in the name (earlier versions) or no way to tell: only when clearly old.
            if mtime >= _PROCESS_START or now - mtime < 86400.0:
                continue
        elif alive:
            continue
        path = Path(entry.path)
        with contextlib.suppress(OSError):
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(path)
            else:
                path.unlink()
            removed.append(path)
    return removed


def temporary_prefix(name: str) -> str:
    """The prefix of a temporary for the output ``name`` (pass to mkstemp/mkdtemp with
    ``suffix=".part"``): hidden, carrying the PID, short enough for any legal name."""
    # A cut inside a multi-byte character drops that character.
    short = os.fsencode(name)[:_TMP_NAME_BYTES].decode("utf-8", "ignore")
    return f".{short}.{os.getpid()}-"


def _root_os_error(exc: BaseException) -> OSError | None:
    """The first OSError with an errno in ``exc``'s chain (pydicom re-raises a bare copy whose
    message holds a whole traceback, the original kept as the cause)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno is not None:
            return current
        current = current.__cause__ or current.__context__
    return None


def write_error(path: Path, exc: OSError) -> OutputError:
    """One plain line for a failed write of ``path``: a full disk named as such, else the
    system's reason (never a library's multi-line message)."""
    root = _root_os_error(exc)
    if root is not None and root.errno == errno.ENOSPC:
        return OutputError(f"The disk is full while writing {path}.", "Free space.")
    if root is not None:
        return OutputError(f"Could not write {path}: {root.strerror or root}.")
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
    return OutputError(f"Could not write {path}: {first}.")


@contextlib.contextmanager
def _temporary_beside(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it over ``path``.

    On any error the temporary file is removed, ``path`` is left as it was, and an
    :class:`OSError` becomes an :class:`OutputError` that names the file (full disk included).
    """
    clean_stale_parts(path.parent)
    try:
        fd, tmp_name = tempfile.mkstemp(
            prefix=temporary_prefix(path.name), suffix=".part", dir=path.parent
        )
    except OSError as exc:
        raise OutputError(f"Could not write {path}: {exc.strerror or exc}.") from exc
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise write_error(path, exc) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_open(path: Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """Open a temporary file beside ``path``; on success rename it over ``path``.

    On any error the temporary file is removed and ``path`` is left as it was.
    """
    binary = "b" in mode
    with (
        _temporary_beside(Path(path)) as tmp,
        open(tmp, mode, encoding=None if binary else encoding) as handle,
    ):
        yield handle
        handle.flush()
        os.fsync(handle.fileno())


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (UTF-8)."""
    with atomic_open(path, "w") as handle:
        handle.write(text)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_open(path, "wb", encoding=None) as handle:
        handle.write(data)


def atomic_write_with(path: Path, writer: Callable[[Path], None]) -> None:
    """Let ``writer`` fill a temporary path beside ``path``, then rename it into place.

    For libraries that want a file name rather than a handle (pydicom, PIL, reportlab).
    """
    with _temporary_beside(Path(path)) as tmp:
        writer(tmp)
