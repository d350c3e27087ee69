"""``annulusview info PATH [--json]``: list every series found under PATH (headers only)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from annulusview.commands._common import stderr_progress
from annulusview.core.io import ScanResult, scan


def _table(result: ScanResult) -> str:
    lines = [
        f"{result.path}: {len(result.series)} CT series, {len(result.skipped)} file(s) skipped"
    ]
    for n, s in enumerate(result.series):
        mark = "*" if n == 0 else " "
        contrast = {True: "contrast", False: "no contrast", None: "contrast unknown"}[s.contrast]
        spacing = " x ".join(f"{v:.3g}" for v in s.spacing_mm)
        shape = " x ".join(str(v) for v in s.shape)
        lines.append(
            f"{mark} {s.id or '(NIfTI)'}\n"
            f"    {s.description or '(no description)'} | {s.modality} | {s.num_images} images | "
            f"shape {shape} (slices x rows x cols) | spacing {spacing} mm | {contrast}"
        )
        lines.extend(f"    warning: {w}" for w in s.warnings)
    if result.series:
        lines.append("* = loaded when no --series is given")
    if result.skipped:
        lines.append("skipped:")
        lines.extend(f"  {k.path}: {k.reason}" for k in result.skipped)
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Scan ``args.path``, print the table or the ``annulusview.info/1`` JSON.

    Returns 0; raises :class:`~annulusview.core.errors.NoSeriesError` (exit 3) when no usable
    CT series is found.
    """
    from annulusview.core.io.loader import no_series_error

    if not getattr(args, "verbose", False):
        # pydicom logs every odd header value as a warning; the skip reasons say what matters.
        logging.getLogger("pydicom").setLevel(logging.ERROR)
    result = scan(Path(args.path), progress=stderr_progress("scanning"))
    if not result.series:
        raise no_series_error(Path(result.path), result.skipped)
    if args.json:
        json.dump(result.to_info_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(_table(result))
    return 0
