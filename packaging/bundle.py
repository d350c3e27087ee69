"""What the frozen AnnulusView bundles: one table read by the spec and by ``build.sh --check``.

Plain Python with no PyInstaller import, so ``build.sh --check`` can compare it with the
package in a second. Paths are built from this file's folder (the spec's ``SPECPATH``), never
written out, so the same table serves Linux, Windows and macOS builds.
"""

from __future__ import annotations

from pathlib import Path

PACKAGING_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGING_DIR.parent
SRC_DIR = REPO_DIR / "src"
PACKAGE_DIR = SRC_DIR / "annulusview"
RESOURCES_DIR = REPO_DIR / "resources"

APP_NAME = "AnnulusView"  # the executable, the folder in dist/ and the window's name
ENTRY_SCRIPT = PACKAGING_DIR / "annulusview_entry.py"
ICON_PNG = RESOURCES_DIR / "icons" / "annulusview.png"
ICON_ICO = RESOURCES_DIR / "icons" / "annulusview.ico"
ICON_ICNS = RESOURCES_DIR / "icons" / "annulusview.icns"
DESKTOP_FILE = PACKAGING_DIR / "annulusview.desktop"

# Where core.resources looks in an installed package: annulusview/resources next to the code.
RESOURCES_TARGET = "annulusview/resources"

# Imported by name at run time (entry points, plug-in tables), so PyInstaller cannot see them.
THIRD_PARTY_HIDDEN_IMPORTS = (
    # pydicom finds its JPEG decoders through pylibjpeg's entry points.
    "pylibjpeg",
    "libjpeg",
    "openjpeg",
    "rle",
    "pydicom.pixels.decoders.pylibjpeg",
    "pydicom.pixels.decoders.gdcm",
    # QtPy (inside pyvistaqt) picks the binding by name.
    "qtpy",
    "pyvistaqt",
    "PySide6.QtOpenGL",
    "PySide6.QtOpenGLWidgets",
    "vtkmodules.util.numpy_support",
    "vtkmodules.vtkRenderingOpenGL2",
    "vtkmodules.vtkInteractionStyle",
    "vtkmodules.vtkRenderingFreeType",
    "highdicom.seg",
    "highdicom.sr",
    "reportlab.graphics.barcode.common",
    "platformdirs",
)

# Distributions whose metadata must ship: pylibjpeg and pydicom read their entry points.
COPY_METADATA = (
    "pydicom",
    "pylibjpeg",
    "pylibjpeg-libjpeg",
    "pylibjpeg-openjpeg",
    "pylibjpeg-rle",
    "highdicom",
)

# Packages whose data files (not code) must ship: highdicom reads its copy of the standard
# (pydicom and pyvista data are test files and examples: left out).
COLLECT_DATA_PACKAGES = ("highdicom",)

# Never imported by the app; left out to keep the bundle small. ``--check`` fails when the
# package imports one of these.
EXCLUDES = (
    "tkinter",
    "_tkinter",
    "turtle",
    "idlelib",
    "pytest",
    "_pytest",
    "pytestqt",
    "hypothesis",
    "mypy",
    "ruff",
    "importlinter",
    "grimp",
    "IPython",
    "jupyter",
    "notebook",
    "bokeh",
    "SimpleITK",
    "trame",
    "trame_vtk",
    "PySide6.QtWebEngineCore",
    "PySide6.QtWebEngineWidgets",
    "PySide6.QtWebEngineQuick",
    "PySide6.QtQuick3D",
    "PySide6.Qt3DCore",
    "PySide6.Qt3DRender",
    "PySide6.QtMultimedia",
    "PySide6.QtDesigner",
    "PyQt5",
    "PyQt6",
    "PySide2",
)

# Qt libraries and plug-ins dropped from the collected binaries (file-name fragments).
EXCLUDED_BINARY_PARTS = (
    "Qt6WebEngine",
    "Qt6Quick3D",
    "Qt63D",
    "Qt6Designer",
    "Qt6Pdf",
    "Qt6Multimedia",
    "libavcodec",
    "libavformat",
)


def package_modules() -> list[str]:
    """Every module of the ``annulusview`` package, found on disk (no import).

    All of them are hidden imports: sub-commands, ``_LAZY`` and the batch workers are
    imported by name, and the bundle must hold whatever the CLI can reach.
    """
    modules = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        parts = list(path.relative_to(SRC_DIR).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules.append(".".join(parts))
    return modules


def hidden_imports() -> list[str]:
    """The spec's ``hiddenimports``."""
    return package_modules() + list(THIRD_PARTY_HIDDEN_IMPORTS)


def datas() -> list[tuple[str, str]]:
    """The spec's ``datas``: (source folder or file, destination folder) pairs."""
    return [(str(RESOURCES_DIR), RESOURCES_TARGET)]
