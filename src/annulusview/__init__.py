"""AnnulusView: structural-heart procedural planning from cardiac CT.

Decision support for planning and teaching, not a diagnosis.

The Python API mirrors the command line::

    import annulusview as av
    vol = av.load("study/")
    lm = av.read_landmarks("case.mrk.json")
    res = av.analyze(vol, lm)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.2.0"  # the one place the version is written (pyproject reads it)

DISCLAIMER = (
    "Decision support for procedural planning and teaching, not a diagnosis. "
    "Every number must be checked by a qualified physician against the images."
)

__all__ = [
    "DISCLAIMER",
    "InputError",
    "Volume",
    "__version__",
    "analyze",
    "batch",
    "calcium_score",
    "load",
    "propose_landmarks",
    "read_landmarks",
]

if TYPE_CHECKING:
    from annulusview.core.errors import InputError
    from annulusview.core.volume import Volume

_LAZY = {
    "InputError": ("annulusview.core.errors", "InputError"),
    "Volume": ("annulusview.core.volume", "Volume"),
    "load": ("annulusview.core.io.loader", "load"),
    "read_landmarks": ("annulusview.core.landmarks", "read_landmarks"),
    "analyze": ("annulusview.core.analysis", "analyze"),
    "calcium_score": ("annulusview.core.calcium_score", "calcium_score"),
    "propose_landmarks": ("annulusview.core.aortic.propose", "propose_landmarks"),
}


def __getattr__(name: str) -> Any:
    # Lazy so that `annulusview --help` and the GUI start do not pay for scipy/pydicom imports.
    if name == "batch":  # the subpackage `av.batch` (it imports Dask only when a batch runs)
        import importlib

        return importlib.import_module("annulusview.batch")
    if name in _LAZY:
        import importlib

        module_name, attr = _LAZY[name]
        value = getattr(importlib.import_module(module_name), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'annulusview' has no attribute {name!r}")
