"""Atomic file writes: a crash or a full disk never leaves a half-written file behind."""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from annulusview.core.errors import OutputError

# mkstemp creates 0600 files; outputs are ordinary documents the user may share.
_FILE_MODE = 0o644


def check_output_path(path: Path, force: bool = False) -> Path:
    """Resolve ``path`` and fail early, with a hint, when it cannot be written.

    Raises
    ------
    OutputError
        The file exists and ``force`` is False, or the folder is missing or not writable.
    """
    path = Path(path).expanduser()
    if path.exists() and not force:
        raise OutputError(f"{path} already exists.", "Choose another name or pass --force.")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise OutputError(f"The folder {folder} does not exist.", "Create it first.")
    if not os.access(folder, os.W_OK):
        raise OutputError(f"The folder {folder} is not writable.", "Choose another folder.")
    return path


@contextlib.contextmanager
def _temporary_beside(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it over ``path``.

    On any error the temporary file is removed, ``path`` is left as it was, and an
    :class:`OSError` becomes an :class:`OutputError` that names the file (full disk included).
    """
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if exc.errno == errno.ENOSPC:
            raise OutputError(f"The disk is full while writing {path}.", "Free space.") from exc
        raise OutputError(f"Could not write {path}: {exc.strerror or exc}.") from exc
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
