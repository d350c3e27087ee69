"""Reading the small text inputs (rules, landmarks, sessions) safely.

Every text file a user names is read through :func:`read_small_text`: only regular files,
never more than a stated size (``/dev/zero`` or a FIFO would otherwise read forever or
hang), and every failure an :class:`InputError` subclass that names the file and what to do.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from annulusview.core.errors import InputError

#: Largest rules, landmarks or session file read (bytes). Real ones are a few kB.
TEXT_INPUT_LIMIT = 4 * 1024 * 1024

#: Deepest JSON nesting accepted: markups and sessions nest 4-5 levels.
JSON_DEPTH_LIMIT = 32


def read_small_text(
    path: str | Path,
    what: str,
    *,
    limit: int = TEXT_INPUT_LIMIT,
    error: type[InputError] = InputError,
    encoding: str = "utf-8",
) -> str:
    """Return the text of the regular file ``path``, at most ``limit`` bytes.

    ``what`` names the file in messages ("landmarks file", "rules file"). Raises ``error``
    (an :class:`InputError` subclass) when the path is missing, a folder, a device or FIFO,
    unreadable, too large or not text in ``encoding``.
    """
    p = Path(path).expanduser()
    try:
        info = p.stat()
    except FileNotFoundError:
        raise error(f"The {what} {p} does not exist.", "Check the path.") from None
    except OSError as exc:
        raise error(f"The {what} {p} cannot be read: {exc.strerror or exc}.") from None
    if stat.S_ISDIR(info.st_mode):
        raise error(f"The {what} {p} is a folder, not a file.", "Give the file inside it.")
    if not stat.S_ISREG(info.st_mode):
        raise error(
            f"The {what} {p} is not a regular file (a device, pipe or socket).",
            "Give an ordinary file.",
        )
    if info.st_size > limit:
        raise error(
            f"The {what} {p} is {info.st_size / 1e6:.1f} MB; at most {limit / 1e6:.0f} MB is read.",
            f"Check that this is a {what}.",
        )
    try:
        # O_NONBLOCK: if the file was swapped for a FIFO after stat, open does not hang.
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise error(f"The {what} {p} cannot be read: {exc.strerror or exc}.") from None
    if len(data) > limit:
        raise error(f"The {what} {p} is larger than {limit / 1e6:.0f} MB.")
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        raise error(
            f"The {what} {p} is not {encoding} text.", f"Check that it is a {what}."
        ) from None


def json_depth(value: Any, limit: int = JSON_DEPTH_LIMIT) -> int:
    """Nesting depth of a parsed JSON value, iteratively (never recursion), stopping past
    ``limit``."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = list(item.values())
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        stack.extend((child, depth + 1) for child in children)
    return deepest


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def parse_small_json(
    text: str, source: Path | str, what: str, *, error: type[InputError] = InputError
) -> Any:
    """Parse JSON text from ``source``; malformed, too deeply nested or non-finite-number
    input raises ``error`` naming the file."""
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise error(f"The {what} {source} is nested too deeply to be a {what}.") from None
    except ValueError as exc:
        raise error(f"The {what} {source} is not readable as JSON ({exc}).") from None
    if json_depth(data) > JSON_DEPTH_LIMIT:
        raise error(
            f"The {what} {source} is nested more than {JSON_DEPTH_LIMIT} levels deep.",
            f"Check that it is a {what}.",
        )
    return data
