"""``annulusview export``: calcium and region meshes (STL/PLY) and DICOM SEG/SR, headless.

Every output is checked before anything is written: none may be an input of the run or lie
inside the study folder, none may share a path with another, an existing file needs
``--force``; and calcium outputs of a case without calcium are refused up front.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from annulusview.commands._common import check_analysis_inputs, check_run_outputs, load_and_analyze
from annulusview.core.errors import OutputError

_CALCIUM_OUTPUTS = ("--stl", "--ply", "--seg")


def _check_meshes_dir(args: argparse.Namespace) -> Path | None:
    """The ``--meshes-dir`` folder, checked (not an input, not inside the study, its parent
    writable); created only once the case is known to be writable."""
    if not args.meshes_dir:
        return None
    folder = Path(args.meshes_dir).expanduser()
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"--meshes-dir {folder} is not a folder.", "Choose a folder.")
    from annulusview.core.atomic import check_not_input

    check_not_input(
        folder,
        "--meshes-dir",
        {"landmarks file": args.landmarks, "rules file": args.rules},
        args.path,
    )
    if folder.exists():
        check_run_outputs(args, {"--meshes-dir": folder / ".annulusview-check"}, force=True)
    else:
        check_run_outputs(args, {"--meshes-dir": folder}, force=False)  # parent writable
    return folder


def run(args: argparse.Namespace) -> int:
    """Write every requested output; nothing requested is a usage error (exit 2)."""
    from annulusview.core.outputs.deid import volume_identity

    requested = {"--stl": args.stl, "--ply": args.ply, "--seg": args.seg, "--sr": args.sr}
    if not any(requested.values()) and not args.meshes_dir:
        print(
            "annulusview: export: nothing to write; give --stl, --ply, --meshes-dir, --seg "
            "or --sr.",
            file=sys.stderr,
        )
        return 2
    inputs = check_analysis_inputs(args)
    checked = check_run_outputs(args, requested)
    meshes_dir = _check_meshes_dir(args)

    case = load_and_analyze(args, inputs)
    if not case.results.lesions:
        wanted = [label for label in _CALCIUM_OUTPUTS if label in checked]
        if wanted:
            raise OutputError(
                f"This case has no calcium above the threshold, so there is nothing for "
                f"{', '.join(wanted)} to hold.",
                "Nothing was written; drop those options (--sr and --meshes-dir still work).",
            )
    identity = volume_identity(case.volume, args.show_identity)

    meshes = None
    mesh_targets: list = []
    if "--stl" in checked or "--ply" in checked or meshes_dir is not None:
        from annulusview.scene import mesh_export

        meshes = mesh_export.case_meshes(case.volume, case.results)
        if meshes_dir is not None:
            mesh_targets = mesh_export.mesh_folder_targets(meshes_dir, meshes)
            created = not meshes_dir.exists()
            try:
                meshes_dir.mkdir(exist_ok=True)
            except OSError as exc:
                raise OutputError(f"Cannot create {meshes_dir}: {exc.strerror or exc}.") from exc
            try:
                # Every file of the folder against every other output and input, before writing.
                check_run_outputs(
                    args,
                    {**checked, **{f"--meshes-dir {p.name}": p for p, _, _ in mesh_targets}},
                )
            except OutputError:
                if created:
                    meshes_dir.rmdir()
                raise
    written: list[Path] = []
    if meshes is not None:
        from annulusview.scene import mesh_export

        for label, key in (("--stl", "stl"), ("--ply", "ply")):
            if label in checked:
                written.append(mesh_export.write_mesh(checked[label], meshes.all_calcium(), key))
        if meshes_dir is not None:
            written.extend(mesh_export.write_mesh(p, m, fmt) for p, m, fmt in mesh_targets)
    if "--seg" in checked or "--sr" in checked:
        from annulusview.core.outputs import dicom as dicom_export

        if "--seg" in checked:
            written.append(
                dicom_export.write_segmentation(
                    checked["--seg"],
                    case.volume,
                    case.results,
                    identity,
                    per_region=args.seg_per_region,
                    # the root lumen segment is left out (with a warning) on non-contrast CT
                    include_root_lumen=not args.no_root_lumen,
                )
            )
        if "--sr" in checked:
            written.append(
                dicom_export.write_measurement_report(
                    checked["--sr"], case.volume, case.results, identity
                )
            )
    for path in written:
        print(path)
    return 0
