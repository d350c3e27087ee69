"""Locate the runtime resources folder (rules, presets, icons, templates).

In a built wheel the folder ships as ``annulusview/resources``; in an editable install
(source checkout) it is the top-level ``resources/`` of the repository. Both are looked up,
so the same code works in either.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from annulusview.core.errors import AnnulusViewError

_PACKAGE_DIR = Path(__file__).resolve().parent.parent


@cache
def resources_dir() -> Path:
    """Return the folder that holds the runtime resources.

    Raises
    ------
    AnnulusViewError
        When neither location exists (a broken install).
    """
    candidates = (
        _PACKAGE_DIR / "resources",  # wheel
        _PACKAGE_DIR.parent.parent / "resources",  # editable install: src/annulusview -> repo
    )
    for path in candidates:
        if (path / "rules" / "default.toml").is_file():
            return path
    raise AnnulusViewError(
        "The AnnulusView resources folder is missing from this installation.",
        "Reinstall the package (pip install --force-reinstall annulusview).",
    )


def resource_path(*parts: str) -> Path:
    """Path of one resource file, e.g. ``resource_path("rules", "default.toml")``."""
    return resources_dir().joinpath(*parts)
