"""``annulusview open [PATH] [--landmarks FILE]``: the desktop app, optionally on a study."""

from __future__ import annotations

import argparse
from pathlib import Path

from annulusview.core.errors import InputError


def run(args: argparse.Namespace) -> int:
    """Open the main window; with ``PATH`` the study loads as the window appears."""
    path = getattr(args, "path", None)
    landmarks = getattr(args, "landmarks", None)
    if path is not None and not Path(path).expanduser().exists():
        raise InputError(f"{path} does not exist.", "Give a DICOM folder, a zip or a NIfTI file.")
    if landmarks is not None and not Path(landmarks).expanduser().is_file():
        raise InputError(f"Landmark file {landmarks} does not exist.", "Check the path.")
    from annulusview.app.application import run_app

    return run_app(path, landmarks)
