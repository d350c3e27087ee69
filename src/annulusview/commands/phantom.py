"""``annulusview phantom OUTDIR``: write a synthetic cardiac CT case with known answers.

``--phases N`` writes N cardiac phases (``100 * i / N`` % R-R, one series each) into the one
study folder.
"""

from __future__ import annotations

import argparse
import sys

from annulusview.commands._common import stderr_progress

EXIT_INPUT = 3


def run(args: argparse.Namespace) -> int:
    """Write the case; print the folder's path. Exit 3 (one line) for an unusable OUTDIR."""
    from annulusview.phantom import BUILT_CASES
    from annulusview.phantom.dicom import MAX_PHASES, write_case

    if args.case not in BUILT_CASES:
        print(
            f"annulusview: the phantom case {args.case!r} is not available yet; "
            f"choose one of {', '.join(BUILT_CASES)}.",
            file=sys.stderr,
        )
        return EXIT_INPUT
    if not 0 <= args.seed < 2**32:
        print(
            f"annulusview: --seed {args.seed} is out of range; give a whole number from 0 "
            f"to {2**32 - 1}.",
            file=sys.stderr,
        )
        return EXIT_INPUT
    phases = getattr(args, "phases", 1)
    if not 1 <= phases <= MAX_PHASES:
        print(
            f"annulusview: --phases {phases} is out of range; give a whole number from 1 "
            f"to {MAX_PHASES}.",
            file=sys.stderr,
        )
        return EXIT_INPUT
    folder = write_case(
        args.outdir,
        case=args.case,
        seed=args.seed,
        size=args.size,
        transfer_syntax=args.transfer_syntax,
        progress=stderr_progress("phantom"),
        phases=phases,
    )
    print(folder)
    return 0
