"""Where the bytes come from: files in a folder, members of a zip, or one file.

A :class:`Source` names one candidate DICOM file and opens it for reading without ever
allocating more than the file holds: disk files are memory-mapped (pydicom's reads of a
declared-but-absurd length then stop at the end of the map), zip members are read into memory
after their uncompressed size was checked.
"""

from __future__ import annotations

import io
import logging
import mmap
import os
import stat
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from annulusview.core.io.types import SkippedFile

logger = logging.getLogger(__name__)

#: Largest single file or zip member we try to read, in bytes (a 4000-frame enhanced CT).
MAX_FILE_BYTES = 4 * 1024**3

NIFTI_SUFFIXES = (".nii", ".nii.gz")


def is_nifti(path: Path) -> bool:
    """True when ``path`` names a NIfTI volume by its suffix."""
    name = path.name.lower()
    return any(name.endswith(s) for s in NIFTI_SUFFIXES)


def is_zip(path: Path) -> bool:
    """True when ``path`` is a zip archive (by suffix, or by content when it is not DICOM)."""
    if path.suffix.lower() == ".zip":
        return True
    try:
        with path.open("rb") as f:
            head = f.read(132)
        if head[128:132] == b"DICM":
            return False
        return head[:4] == b"PK\x03\x04" and zipfile.is_zipfile(path)
    except OSError:
        return False


@dataclass(frozen=True)
class Source:
    """One candidate file.

    Attributes
    ----------
    display
        The path shown to users (for a zip member: ``archive.zip/member/name``).
    path
        The file on disk, or the zip archive holding the member.
    member
        Name of the member inside the zip archive, or None for a plain file.
    size
        Size of the (uncompressed) file in bytes.
    """

    display: str
    path: Path
    member: str | None
    size: int

    @contextmanager
    def open(self) -> Iterator[IO[bytes]]:
        """Open the file for reading as a seekable binary stream.

        Plain files are memory-mapped so that reads past the end stop there instead of
        allocating a declared length; empty files give an empty stream.
        """
        if self.member is not None:
            with zipfile.ZipFile(self.path) as zf:
                data = zf.read(self.member)
            yield io.BytesIO(data)
            return
        with self.path.open("rb") as f:
            if self.size == 0:
                yield io.BytesIO(b"")
                return
            mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            try:
                yield mm  # type: ignore[misc]  # mmap has read/seek/tell
            finally:
                mm.close()

    def read_bytes(self) -> bytes:
        """The whole file content (used for zip members and small files)."""
        if self.member is not None:
            with zipfile.ZipFile(self.path) as zf:
                return zf.read(self.member)
        return self.path.read_bytes()


def _walk_folder(root: Path) -> Iterator[Path]:
    """Every regular file under ``root`` in a stable order, not following links to folders."""
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        for name in sorted(filenames):
            yield Path(dirpath) / name


def _zip_sources(archive: Path) -> tuple[list[Source], list[SkippedFile]]:
    sources: list[Source] = []
    skipped: list[SkippedFile] = []
    try:
        with zipfile.ZipFile(archive) as zf:
            infos = zf.infolist()
    except (OSError, zipfile.BadZipFile, ValueError) as exc:
        return [], [SkippedFile(str(archive), f"unreadable zip archive ({exc})")]
    for info in sorted(infos, key=lambda i: i.filename):
        if info.is_dir():
            continue
        display = f"{archive}/{info.filename}"
        if info.file_size > MAX_FILE_BYTES:
            skipped.append(SkippedFile(display, "zip member too large to read"))
        elif info.flag_bits & 0x1:
            skipped.append(SkippedFile(display, "encrypted zip member"))
        elif info.filename.lower().endswith(".zip"):
            skipped.append(SkippedFile(display, "zip inside a zip: extract it first"))
        else:
            sources.append(Source(display, archive, info.filename, info.file_size))
    return sources, skipped


def list_sources(path: Path) -> tuple[list[Source], list[SkippedFile]]:
    """All candidate DICOM files at ``path`` (a folder, a zip or a single file).

    Returns
    -------
    sources, skipped
        Files to read, and files rejected by name or size before reading.
    """
    try:
        top = os.stat(path)
    except OSError as exc:
        return [], [SkippedFile(str(path), f"cannot be read ({exc.strerror or exc})")]
    if not (stat.S_ISDIR(top.st_mode) or stat.S_ISREG(top.st_mode)):
        # A FIFO would block the reader forever; a device reads without end.
        return [], [SkippedFile(str(path), "not a regular file or folder (a device or pipe)")]
    if stat.S_ISDIR(top.st_mode):
        sources: list[Source] = []
        skipped: list[SkippedFile] = []
        for file in _walk_folder(path):
            try:
                st = os.stat(file)  # one stat: size and file type
            except OSError as exc:
                skipped.append(SkippedFile(str(file), f"unreadable ({exc.strerror})"))
                continue
            if not stat.S_ISREG(st.st_mode):
                continue
            size = st.st_size
            if is_nifti(file):
                skipped.append(
                    SkippedFile(str(file), "NIfTI file inside a folder: open it directly")
                )
            elif file.suffix.lower() == ".zip":
                skipped.append(SkippedFile(str(file), "zip inside a folder: open it directly"))
            elif size > MAX_FILE_BYTES:
                skipped.append(SkippedFile(str(file), "file too large to be one DICOM image"))
            else:
                sources.append(Source(str(file), file, None, size))
        return sources, skipped
    if is_zip(path):
        return _zip_sources(path)
    size = top.st_size
    if size > MAX_FILE_BYTES:
        return [], [SkippedFile(str(path), "file too large to be one DICOM image")]
    return [Source(str(path), path, None, size)], []


def describe(obj: Any) -> str:
    """Short text for an exception, for skip reasons (never a traceback)."""
    text = str(obj).strip().splitlines()[0] if str(obj).strip() else ""
    name = type(obj).__name__
    return f"{name}: {text[:160]}" if text else name
