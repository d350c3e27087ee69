"""The whole headless pipeline runs with Qt, VTK and pyvista made unimportable.

This is the "CI row with Qt uninstalled" of the house style, done in one interpreter: a meta-path
finder refuses those packages, then a phantom is generated, loaded from DICOM and analysed.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path


def test_core_pipeline_without_qt_vtk(tmp_path: Path) -> None:
    code = textwrap.dedent(
        f"""
        import importlib.abc
        import sys

        class Refuse(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("PySide6", "vtk", "vtkmodules", "pyvista", "pyvistaqt"):
                    raise ImportError("blocked: " + name)
                return None

        sys.meta_path.insert(0, Refuse())
        import annulusview as av
        from annulusview.phantom.dicom import write_case

        case = write_case({str(tmp_path / "case")!r}, case="tavr-contrast")
        vol = av.load(case / "dicom")
        res = av.analyze(vol, av.read_landmarks(case / "landmarks.mrk.json"))
        doc = res.to_dict()
        assert doc["schema"] == "annulusview.results/2"
        import json
        truth = json.loads((case / "truth.json").read_text())
        assert len(doc["lesions"]) == len(truth["lesions"]), doc["lesions"]
        print("ok")
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("ok")
