"""``annulusview export``: calcium and region meshes (STL/PLY) and DICOM SEG/SR, headless."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from annulusview.commands._common import prepare_case
from annulusview.core.atomic import check_output_path
from annulusview.core.errors import OutputError

if TYPE_CHECKING:
    pass


def run(args: argparse.Namespace) -> int:
    """Write every requested output; nothing requested is a usage error (exit 2)."""
    from annulusview.core.outputs.deid import volume_identity

    outputs = {
        "stl": args.stl,
        "ply": args.ply,
        "seg": args.seg,
        "sr": args.sr,
    }
    if not any(outputs.values()) and not args.meshes_dir:
        print(
            "annulusview: export: nothing to write; give --stl, --ply, --meshes-dir, --seg "
            "or --sr.",
            file=sys.stderr,
        )
        return 2
    checked = {
        key: check_output_path(Path(value), args.force) for key, value in outputs.items() if value
    }
    meshes_dir = None
    if args.meshes_dir:
        meshes_dir = Path(args.meshes_dir).expanduser()
        if meshes_dir.exists() and not meshes_dir.is_dir():
            raise OutputError(f"{meshes_dir} is not a folder.", "Choose a folder.")
        if not meshes_dir.exists():
            check_output_path(meshes_dir, False)  # its parent must exist and be writable
            try:
                meshes_dir.mkdir()
            except OSError as exc:
                raise OutputError(f"Cannot create {meshes_dir}: {exc.strerror or exc}.") from exc
        check_output_path(meshes_dir / ".annulusview-check", True)

    case = prepare_case(args)
    identity = volume_identity(case.volume, args.show_identity)
    written: list[Path] = []
    if "stl" in checked or "ply" in checked or meshes_dir is not None:
        from annulusview.scene import mesh_export

        meshes = mesh_export.case_meshes(case.volume, case.results)
        for key in ("stl", "ply"):
            if key in checked:
                written.append(mesh_export.write_mesh(checked[key], meshes.all_calcium(), key))
        if meshes_dir is not None:
            written.extend(mesh_export.write_mesh_folder(meshes_dir, meshes, args.force))
    if "seg" in checked or "sr" in checked:
        from annulusview.core.outputs import dicom as dicom_export

        if "seg" in checked:
            written.append(
                dicom_export.write_segmentation(
                    checked["seg"],
                    case.volume,
                    case.results,
                    identity,
                    per_region=args.seg_per_region,
                )
            )
        if "sr" in checked:
            written.append(
                dicom_export.write_measurement_report(
                    checked["sr"], case.volume, case.results, identity
                )
            )
    for path in written:
        print(path)
    return 0
