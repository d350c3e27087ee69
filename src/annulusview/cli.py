"""The ``annulusview`` command line: one program for the window and every headless job.

Exit codes: 0 success, 2 usage error, 3 input error (one plain line on stderr, no traceback),
70 an internal error (a bug; one line, ``-v`` shows the traceback), 130 interrupted or
cancelled, 141 the reader of stdout went away.
Each sub-command's work lives in :mod:`annulusview.commands`; this module only parses
arguments, configures logging and turns typed errors into exit codes.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_INPUT = 3
EXIT_INTERNAL = 70  # EX_SOFTWARE: a bug, reported in one line (-v shows the traceback)
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as shell tools report a closed pipe

PHANTOM_CASES = ("tavr-contrast", "tavr-noncontrast", "mac", "normal", "neo-lvot")
VIEWS = (
    "3d", "annulus", "lvot", "axial", "coronal", "sagittal", "lvot_plane", "sinus_plane",
    "stj_plane",
)  # fmt: skip


def _add_analysis_options(p: argparse.ArgumentParser) -> None:
    """Options shared by analyze, screenshot and report."""
    p.add_argument("path", help="DICOM folder, zip of DICOM files, single file or NIfTI volume")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--landmarks", metavar="FILE", help="3D Slicer markups JSON")
    source.add_argument(
        "--auto-landmarks",
        action="store_true",
        help="propose the aortic landmarks from the contrast CTA (marked unconfirmed)",
    )
    p.add_argument("--series", metavar="UID", help="SeriesInstanceUID when the study has several")
    p.add_argument("--rules", metavar="FILE", help="rules file (TOML) replacing the defaults")
    p.add_argument(
        "--threshold",
        metavar="METHOD|HU",
        help="calcium threshold: lumen_plus_100, fixed_850, by_lumen_450_850 or a HU value",
    )
    p.add_argument(
        "--valve",
        metavar="FAMILY:SIZE",
        help="planned valve from resources/devices.toml, e.g. sapien3:26 or evolut:29",
    )
    p.add_argument("--valve-size", type=float, metavar="MM", help="planned valve nominal size")
    p.add_argument("--valve-type", choices=("balloon", "self-expanding"), help="planned valve type")
    p.add_argument(
        "--implant-depth",
        type=float,
        metavar="MM",
        help="planned implant depth below the annular plane (NCC side), mm; 0 = at the plane",
    )
    p.add_argument("--sex", choices=("M", "F"), help="patient sex when the header lacks it")
    p.add_argument(
        "--mitral-valve",
        metavar="D,H,SHARE",
        help="virtual mitral valve for the neo-LVOT: diameter mm, height mm, ventricular share "
        "(default from the rules file, e.g. 29,22,0.8)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="annulusview",
        description=(
            "AnnulusView: aortic and mitral annular calcium, distances to the LVOT and the "
            "conduction system, and procedural risk flags from cardiac CT. Decision support, "
            "not a diagnosis."
        ),
    )
    from annulusview import __version__

    parser.add_argument("--version", action="version", version=f"annulusview {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="check this installation offline (demo analysis, pictures, PDF, SEG, JSON) and exit",
    )
    parser.add_argument(
        "--self-test-dir",
        metavar="DIR",
        help="make the self-test's temporary folder inside DIR (default: the system's)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("open", help="open the desktop app on a study")
    p.add_argument("path", nargs="?", help="DICOM folder, zip or NIfTI volume")
    p.add_argument("--landmarks", metavar="FILE", help="landmarks to load with the study")

    p = sub.add_parser("demo", help="open the app on the built-in demo case")
    p.add_argument(
        "--force",
        action="store_true",
        help="without a display: replace the files of an earlier ./demo-output/ without asking",
    )

    p = sub.add_parser("info", help="list every series found under PATH")
    p.add_argument("path", help="folder (searched recursively), zip, single file or NIfTI")
    p.add_argument("--json", action="store_true", help="print the annulusview.info/1 JSON")

    p = sub.add_parser("phantom", help="write a synthetic cardiac CT case with known answers")
    p.add_argument("outdir", help="output folder (created; must be empty or new)")
    p.add_argument("--case", default="tavr-contrast", choices=PHANTOM_CASES)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--size", default="small", choices=("small", "full"))
    p.add_argument(
        "--transfer-syntax",
        default="explicit",
        choices=("explicit", "jpeg2000"),
        help="pixel encoding of the written series (jpeg2000 = lossless)",
    )
    p.add_argument(
        "--phases",
        type=int,
        default=1,
        metavar="N",
        help="write N cardiac phases (100*i/N %% R-R), one series each, into one study folder",
    )

    p = sub.add_parser("analyze", help="run the whole analysis headless")
    _add_analysis_options(p)
    p.add_argument("--json", metavar="OUT", help="write the results JSON here ('-' for stdout)")
    p.add_argument("--csv", metavar="OUT", help="write the lesion table CSV here")
    p.add_argument("--force", action="store_true", help="overwrite existing output files")

    p = sub.add_parser("screenshot", help="render an annotated, de-identified picture")
    _add_analysis_options(p)
    p.add_argument("--out", required=True, metavar="PNG")
    p.add_argument("--view", default="3d", choices=VIEWS)
    p.add_argument("--size", default="1920x1080", metavar="WxH")
    p.add_argument("--scale", type=int, default=1, choices=(1, 2))
    p.add_argument("--force", action="store_true", help="overwrite an existing file")
    p.add_argument("--show-identity", action="store_true", help="print patient name and ID")

    p = sub.add_parser("report", help="write the PDF case report")
    _add_analysis_options(p)
    p.add_argument("--out", required=True, metavar="FILE.pdf")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")
    p.add_argument("--show-identity", action="store_true", help="print patient name and ID")

    p = sub.add_parser("export", help="write meshes (STL/PLY) and DICOM SEG/SR")
    _add_analysis_options(p)
    p.add_argument("--stl", metavar="OUT.stl", help="all calcium as one STL surface (LPS mm)")
    p.add_argument("--ply", metavar="OUT.ply", help="all calcium as one PLY surface (LPS mm)")
    p.add_argument("--meshes-dir", metavar="DIR", help="per-lesion and region STL+PLY files")
    p.add_argument(
        "--seg", metavar="OUT.dcm", help="DICOM Segmentation of the calcium and the root lumen"
    )
    p.add_argument("--seg-per-region", action="store_true", help="one SEG segment per region")
    p.add_argument(
        "--no-root-lumen",
        action="store_true",
        help="leave the aortic root lumen segment out of the SEG (contrast CTA only)",
    )
    p.add_argument("--sr", metavar="OUT.dcm", help="DICOM SR TID 1500 measurement report")
    p.add_argument("--force", action="store_true", help="overwrite existing files")
    p.add_argument(
        "--show-identity",
        action="store_true",
        help="keep the patient's name and ID in the SEG/SR (all other identifying data is "
        "still removed)",
    )
    p = sub.add_parser("landmarks", help="propose landmarks on a contrast CTA")
    landmarks_sub = p.add_subparsers(dest="landmarks_command", metavar="ACTION", required=True)
    q = landmarks_sub.add_parser(
        "propose", help="propose the aortic root landmarks (hinges, commissures, ostia)"
    )
    q.add_argument("path", help="DICOM folder, zip of DICOM files, single file or NIfTI volume")
    q.add_argument("--out", required=True, metavar="FILE.mrk.json", help="markups file to write")
    q.add_argument("--series", metavar="UID", help="SeriesInstanceUID when the study has several")
    q.add_argument("--json", metavar="OUT", help="confidences and reasons as JSON ('-': stdout)")
    q.add_argument("--force", action="store_true", help="overwrite existing output files")

    p = sub.add_parser("batch", help="analyse a cohort (a manifest CSV of studies) on Dask")
    p.add_argument("manifest", help="CSV: case_id,study[,landmarks,valve,implant_depth_mm,sex]")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (created)")
    p.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="an existing Dask scheduler, e.g. tcp://host:8786 (default: an embedded local "
        "cluster on 127.0.0.1)",
    )
    p.add_argument(
        "--workers", type=int, metavar="N", help="worker processes of the embedded cluster"
    )
    p.add_argument(
        "--memory-per-worker",
        metavar="SIZE",
        help="memory limit of each embedded worker, e.g. 4GB (a case over it fails alone)",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="keep cases whose results match the manifest row; analyse the rest",
    )
    p.add_argument(
        "--force", action="store_true", help="analyse every case again in a folder of a run"
    )
    p.add_argument("--summary", action="store_true", help="also write summary.pdf and summary.png")
    return parser


def _configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not verbose:
        # pydicom logs every odd header value; the loader reports what matters per file.
        logging.getLogger("pydicom").setLevel(logging.ERROR)


def _prefer_egl_without_display() -> None:
    """On Linux with no display, render off-screen with EGL directly.

    VTK would otherwise try X first and print a "bad X server connection" warning on every
    successful render. Only set when there is no display, so Qt windows (which need the
    default window class for their grabs) are never affected.
    """
    import os

    if (
        sys.platform.startswith("linux")
        and not os.environ.get("DISPLAY")
        and not os.environ.get("WAYLAND_DISPLAY")
        and "VTK_DEFAULT_OPENGL_WINDOW" not in os.environ
    ):
        os.environ["VTK_DEFAULT_OPENGL_WINDOW"] = "vtkEGLRenderWindow"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``annulusview`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args.verbose)
    _prefer_egl_without_display()
    command = "selftest" if args.self_test else (args.command or "open")
    if command == "open" and not hasattr(args, "path"):
        args.path, args.landmarks = None, None

    from annulusview.core.errors import AnnulusViewError, Cancelled

    module = importlib.import_module(f"annulusview.commands.{command}")
    try:
        code = int(module.run(args) or 0)
        sys.stdout.flush()  # a full or closed stdout must fail here, not at exit
        return code
    except BrokenPipeError:
        # The reader went away (`annulusview info ... | head`): stop quietly, as `cat` does.
        _detach_stdout()
        return EXIT_BROKEN_PIPE
    except Cancelled as exc:
        print(f"annulusview: {exc.user_text()}", file=sys.stderr)
        return 130
    except AnnulusViewError as exc:
        print(f"annulusview: {exc.user_text()}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print("annulusview: interrupted.", file=sys.stderr)
        return 130
    except OSError as exc:
        # Outputs to files go through core.atomic (typed errors); a bare OSError here is the
        # terminal's stdout (`> /dev/full`) or a file the command read.
        _detach_stdout()
        print(f"annulusview: could not complete: {exc.strerror or exc}.", file=sys.stderr)
        return EXIT_INPUT
    except Exception as exc:
        if args.verbose:
            raise
        logging.getLogger("annulusview").debug("internal error", exc_info=True)
        print(
            f"annulusview: internal error ({type(exc).__name__}: {str(exc)[:200]}). This is a "
            "bug: please report it with the command line; run with -v for the details.",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


def _detach_stdout() -> None:
    """Point stdout at the null device so the interpreter's final flush cannot fail again."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
