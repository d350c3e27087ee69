"""Surface meshes for 3-D printing and other tools: calcium (all or per lesion) and the LVOT and
conduction-zone regions, as STL or PLY in LPS millimetres, written atomically.

The calcium surfaces are the scene's own (:func:`annulusview.scene.geometry.lesion_surfaces`), so
an exported mesh is what the 3D view shows. STL has no coordinate system field: the 80-byte
header and the PLY comment say "LPS mm".
"""

from __future__ import annotations

import errno
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyvista as pv
from vtkmodules.vtkCommonDataModel import vtkPolyData
from vtkmodules.vtkCommonMisc import vtkErrorCode
from vtkmodules.vtkIOGeometry import vtkSTLWriter
from vtkmodules.vtkIOPLY import vtkPLYWriter

from annulusview.core.atomic import atomic_write_with, check_output_path
from annulusview.core.results import Results
from annulusview.core.volume import Volume
from annulusview.scene import geometry

FORMATS = ("stl", "ply")
HEADER = "AnnulusView calcium surface, coordinates LPS mm"


@dataclass
class CaseMeshes:
    """Closed surfaces of one case, LPS mm."""

    lesions: dict[int, pv.PolyData] = field(default_factory=dict)
    regions: dict[str, pv.PolyData] = field(default_factory=dict)

    def all_calcium(self) -> pv.PolyData:
        """Every lesion in one mesh (point data ``lesion_id``)."""
        if not self.lesions:
            return pv.PolyData()
        parts = list(self.lesions.values())
        return parts[0].copy() if len(parts) == 1 else pv.merge(parts)


def case_meshes(volume: Volume, results: Results) -> CaseMeshes:
    """Per-lesion calcium surfaces and the LVOT / conduction-zone region shells."""
    out = CaseMeshes()
    if results.lesions:
        labels, offset = results.lesion_label_crop()
        merged = geometry.lesion_surfaces(
            volume, labels, results.lesions, "distance_to_conduction_mm", offset_kji=offset
        )
        if merged.n_points:
            ids = np.asarray(merged.point_data["lesion_id"])
            for lesion_id in sorted(set(ids.tolist())):
                part = merged.extract_points(ids == lesion_id, adjacent_cells=False)
                surf = part.extract_surface(algorithm="dataset_surface").triangulate().clean()
                plain = pv.PolyData(np.asarray(surf.points, dtype=np.float64), faces=surf.faces)
                plain.point_data["lesion_id"] = np.full(plain.n_points, lesion_id, np.int32)
                out.lesions[int(lesion_id)] = plain
    out.regions["lvot"] = geometry.lvot_mesh(results.regions)
    out.regions["conduction"] = geometry.conduction_mesh(results.regions)
    return out


def _to_vtk_polydata(mesh: pv.PolyData) -> vtkPolyData:
    """Triangles and points only: no arrays that could carry anything but geometry."""
    bare = mesh.copy(deep=False)
    bare.clear_data()  # stale filter arrays (vtkOriginalCellIds) would warn as invalid
    tri = bare.triangulate()
    return pv.PolyData(np.asarray(tri.points, dtype=np.float64), faces=tri.faces)


def _check(writer: Any, tmp: Path) -> None:
    code = writer.GetErrorCode()
    if code:
        full = code == vtkErrorCode.OutOfDiskSpaceError
        raise OSError(errno.ENOSPC if full else errno.EIO, f"VTK writer error {code}", str(tmp))


def _write_stl(tmp: Path, mesh: pv.PolyData) -> None:
    writer = vtkSTLWriter()
    writer.SetFileName(str(tmp))
    writer.SetInputData(_to_vtk_polydata(mesh))
    writer.SetFileTypeToBinary()
    writer.SetHeader(HEADER)
    writer.Write()
    _check(writer, tmp)
    if tmp.stat().st_size == 0:
        raise OSError(errno.EIO, "the STL writer wrote nothing", str(tmp))


def _write_ply(tmp: Path, mesh: pv.PolyData) -> None:
    # vtkPLYWriter silently writes nothing unless the name ends in .ply: write beside the
    # temporary file under a .ply name, then move it onto the temporary file.
    named = tmp.with_name(tmp.name + ".ply")
    try:
        writer = vtkPLYWriter()
        writer.SetFileName(str(named))
        writer.SetInputData(_to_vtk_polydata(mesh))
        writer.SetFileTypeToBinary()
        writer.AddComment(HEADER)
        writer.Write()
        _check(writer, named)
        if not named.exists() or named.stat().st_size == 0:
            raise OSError(errno.EIO, "the PLY writer wrote nothing", str(named))
        named.replace(tmp)
    finally:
        named.unlink(missing_ok=True)


_WRITERS = {"stl": _write_stl, "ply": _write_ply}


def write_mesh(path: str | Path, mesh: pv.PolyData, fmt: str | None = None) -> Path:
    """Write ``mesh`` as STL or PLY (from ``fmt`` or the suffix) atomically. Returns the path."""
    p = Path(path).expanduser()
    kind = (fmt or p.suffix.lstrip(".")).lower()
    if kind not in _WRITERS:
        raise ValueError(f"mesh format must be one of {', '.join(FORMATS)}, got {kind!r}")
    writer = _WRITERS[kind]
    atomic_write_with(p, lambda tmp: writer(tmp, mesh))
    return p


def mesh_folder_targets(
    folder: str | Path, meshes: CaseMeshes, formats: tuple[str, ...] = FORMATS
) -> list[tuple[Path, pv.PolyData, str]]:
    """The files :func:`write_mesh_folder` writes: (path, mesh, format) for ``calcium_all``,
    ``calcium_lesion_<id>`` and ``region_<name>`` in every format."""
    out = Path(folder).expanduser()
    named: Mapping[str, pv.PolyData] = {
        **({"calcium_all": meshes.all_calcium()} if meshes.lesions else {}),
        **{f"calcium_lesion_{i:02d}": m for i, m in meshes.lesions.items()},
        **{f"region_{name}": m for name, m in meshes.regions.items()},
    }
    return [(out / f"{name}.{fmt}", mesh, fmt) for name, mesh in named.items() for fmt in formats]


def write_mesh_folder(
    folder: str | Path, meshes: CaseMeshes, force: bool = False, formats: tuple[str, ...] = FORMATS
) -> list[Path]:
    """Write every file of :func:`mesh_folder_targets` into ``folder`` (created).

    Every target is checked (exists without ``force``) before the first file is written.
    """
    Path(folder).expanduser().mkdir(parents=True, exist_ok=True)
    targets = mesh_folder_targets(folder, meshes, formats)
    for path, _, _ in targets:
        check_output_path(path, force)
    return [write_mesh(path, mesh, fmt) for path, mesh, fmt in targets]
