"""``annulusview landmarks propose``: proposed aortic landmarks written as markups JSON."""

from __future__ import annotations

import argparse
import json
import sys


def proposal_document(proposal: object) -> dict[str, object]:
    """The confidences and reasons of a proposal as a plain JSON document."""
    from annulusview.core.aortic.propose import ProposedLandmarks

    assert isinstance(proposal, ProposedLandmarks)
    lm = proposal.landmarks
    return {
        "schema": "annulusview.proposed-landmarks/1",
        "blood_hu": proposal.blood_hu,
        "landmarks": [
            {
                "name": name,
                "position_lps_mm": [round(float(v), 4) for v in lm[name]],
                "confidence": proposal.confidence.get(name),
                "reason": proposal.reasons.get(name) or None,
            }
            for name in lm.names()
        ],
        "manual": ["MS_inferior", "MS_superior", "mitral landmarks"],
    }


def run(args: argparse.Namespace) -> int:
    import annulusview
    from annulusview.commands._common import check_run_outputs, stderr_progress
    from annulusview.core.atomic import atomic_write_text
    from annulusview.core.landmarks import write_landmarks

    outputs = check_run_outputs(
        args, {"--out": args.out, "--json": None if args.json == "-" else args.json}
    )
    volume = annulusview.load(args.path, series=args.series, progress=stderr_progress("Loading"))
    proposal = annulusview.propose_landmarks(volume, progress=stderr_progress("Proposing"))
    write_landmarks(outputs["--out"], proposal.landmarks)
    print(f"Proposed landmarks: {outputs['--out']}", file=sys.stderr)
    text = json.dumps(proposal_document(proposal), indent=2) + "\n"
    if args.json == "-":
        sys.stdout.write(text)
    elif "--json" in outputs:
        atomic_write_text(outputs["--json"], text)
        print(f"Confidences: {outputs['--json']}", file=sys.stderr)
    else:
        for name in proposal.landmarks.names():
            reason = proposal.reasons.get(name, "")
            line = f"  {name:<20} confidence {proposal.confidence[name]:.2f}"
            print(line + (f"  ({reason})" if reason else ""))
    return 0
