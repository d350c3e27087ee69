"""Helpers shared by the sub-commands: progress on stderr, and the load-and-analyse step
that analyze, screenshot, report and export share."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from annulusview.core.errors import InputError

if TYPE_CHECKING:
    from annulusview.core.aortic.valve import PlannedValve
    from annulusview.core.landmarks import Landmarks
    from annulusview.core.mitral.neo_lvot import VirtualValve
    from annulusview.core.results import Results
    from annulusview.core.rules import Rules
    from annulusview.core.volume import Volume


def stderr_progress(label: str) -> Callable[[float, str], None]:
    """A progress callback: a bar on a terminal, a few plain lines otherwise."""
    tty = sys.stderr.isatty()
    last = {"decile": -1}

    def progress(fraction: float, text: str) -> None:
        if tty:
            width = 30
            filled = round(fraction * width)
            bar = "#" * filled + "-" * (width - filled)
            sys.stderr.write(f"\r{label} [{bar}] {fraction * 100:5.1f}% {text[:40]:<40}")
            if fraction >= 1.0:
                sys.stderr.write("\n")
            sys.stderr.flush()
        else:
            decile = int(fraction * 10)
            if decile != last["decile"]:
                last["decile"] = decile
                print(f"{label}: {fraction * 100:.0f}% {text}", file=sys.stderr)

    return progress


@dataclass(frozen=True)
class AnalysisInputs:
    """Everything the analysis options name, checked before the study is loaded."""

    rules: Rules
    threshold: str | float | None
    valve: PlannedValve
    mitral_valve: VirtualValve | None
    landmarks: Landmarks | None  # None with --auto-landmarks: proposed once the study is loaded


@dataclass(frozen=True)
class PreparedCase:
    """A loaded study, its landmarks and the analysis results."""

    volume: Volume
    landmarks: Landmarks
    results: Results


def check_run_outputs(
    args: argparse.Namespace, outputs: dict[str, str | None], *, force: bool | None = None
) -> dict[str, Path]:
    """Check every output option of an analysis command against its inputs, before any work.

    An output may not be the study, lie inside the study folder, be the landmarks or rules
    file, or share a path with another output; an existing file needs ``--force``.
    """
    from annulusview.core.atomic import check_outputs

    inputs = {
        "landmarks file": getattr(args, "landmarks", None),
        "rules file": getattr(args, "rules", None),
    }
    return check_outputs(
        outputs,
        inputs=inputs,
        study=getattr(args, "path", None),
        force=bool(getattr(args, "force", False)) if force is None else force,
    )


def check_analysis_inputs(args: argparse.Namespace) -> AnalysisInputs:
    """Check the cheap inputs (rules, threshold, valves, landmarks) so a bad option does not
    cost a study load. Typed errors propagate to the CLI (exit 3)."""
    from annulusview.core.aortic.calcium import parse_threshold_option
    from annulusview.core.aortic.frame import check_hinges
    from annulusview.core.aortic.valve import VALVE_SIZE_RANGE_MM, PlannedValve
    from annulusview.core.landmarks import read_landmarks
    from annulusview.core.mitral.neo_lvot import VirtualValve
    from annulusview.core.rules import load_rules

    rules = load_rules(args.rules)
    threshold = parse_threshold_option(args.threshold)
    low, high = VALVE_SIZE_RANGE_MM
    if args.valve_size is not None and not low <= args.valve_size <= high:
        raise InputError(
            f"Valve size {args.valve_size} mm is implausible.", f"Use {low:.0f}-{high:.0f} mm."
        )
    valve_option = getattr(args, "valve", None)
    if valve_option and (args.valve_size is not None or args.valve_type is not None):
        raise InputError(
            "--valve FAMILY:SIZE names the size and type already.",
            "Give either --valve or --valve-size / --valve-type.",
        )
    if valve_option:
        from annulusview.core.aortic.devices import parse_valve_option

        valve = parse_valve_option(valve_option, args.implant_depth)
    else:
        valve = PlannedValve(args.valve_size, args.valve_type, args.implant_depth)
    mitral_valve = None
    if getattr(args, "mitral_valve", None) is not None:
        parts = [p.strip() for p in args.mitral_valve.split(",")]
        try:
            diameter, height, share = (float(p) for p in parts)
        except ValueError:
            raise InputError(
                f"--mitral-valve {args.mitral_valve!r} is not three numbers.",
                "Give diameter mm, height mm and ventricular share, e.g. 29,22,0.8.",
            ) from None
        mitral_valve = VirtualValve(diameter, height, share)
    landmarks = None
    if not getattr(args, "auto_landmarks", False):
        landmarks = read_landmarks(args.landmarks)
        check_hinges(landmarks)
    return AnalysisInputs(
        rules=rules,
        threshold=threshold,
        valve=valve,
        mitral_valve=mitral_valve,
        landmarks=landmarks,
    )


def load_and_analyze(args: argparse.Namespace, inputs: AnalysisInputs) -> PreparedCase:
    """Load the study named by ``args.path`` / ``args.series`` and run the analysis."""
    import annulusview
    from annulusview.core.analysis import analyze

    volume = annulusview.load(args.path, series=args.series, progress=stderr_progress("Loading"))
    landmarks = inputs.landmarks
    if landmarks is None:
        proposal = annulusview.propose_landmarks(
            volume, progress=stderr_progress("Proposing landmarks"), rules=inputs.rules
        )
        landmarks = proposal.landmarks
    results = analyze(
        volume,
        landmarks,
        inputs.rules,
        threshold=inputs.threshold,
        valve=inputs.valve,
        sex=args.sex,
        mitral_valve=inputs.mitral_valve,
        progress=stderr_progress("Analysing"),
    )
    return PreparedCase(volume, landmarks, results)


def prepare_case(args: argparse.Namespace) -> PreparedCase:
    """:func:`check_analysis_inputs` then :func:`load_and_analyze`."""
    return load_and_analyze(args, check_analysis_inputs(args))
