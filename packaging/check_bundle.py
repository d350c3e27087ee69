"""``build.sh --check``: fail when the frozen app's bundle table and the package diverge.

A few seconds and no build. Checks that every ``annulusview`` module the code imports by name
(sub-commands, ``_LAZY``, ``importlib.import_module`` strings, ``"annulusview.x.y"`` literals)
exists and is a hidden import of the spec; that every third-party hidden import and copied
metadata resolves in this venv; that nothing the package imports is excluded; that the
resources, entry point, icons and .desktop file are in place; and that the spec still takes
its lists from ``bundle.py``. Prints one line per problem; exit 1 when there is any.
"""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bundle

_NAME_LITERAL = re.compile(r"^annulusview(\.[a-z_][a-z0-9_]*)+$")
# "annulusview.log", "annulusview.svg": file names, not modules
_FILE_SUFFIXES = {"log", "svg", "png", "ico", "icns", "json", "toml", "html", "pdf", "txt", "md"}


def _sources() -> list[tuple[Path, ast.Module]]:
    return [
        (path, ast.parse(path.read_text(encoding="utf-8"), str(path)))
        for path in sorted(bundle.PACKAGE_DIR.rglob("*.py"))
    ]


def _module_exists(name: str) -> bool:
    relative = Path(*name.split("."))
    return (bundle.SRC_DIR / relative).with_suffix(".py").is_file() or (
        bundle.SRC_DIR / relative / "__init__.py"
    ).is_file()


def named_imports(trees: list[tuple[Path, ast.Module]]) -> dict[str, str]:
    """``annulusview`` modules named in strings: module -> where it was found."""
    found: dict[str, str] = {}
    for path, tree in trees:
        where = str(path.relative_to(bundle.REPO_DIR))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                name = node.value
                if _NAME_LITERAL.match(name) and name.rsplit(".", 1)[1] not in _FILE_SUFFIXES:
                    found.setdefault(node.value, where)
            # f"annulusview.commands.{command}": every sub-command module
            if isinstance(node, ast.JoinedStr) and node.values:
                head = node.values[0]
                if (
                    isinstance(head, ast.Constant)
                    and isinstance(head.value, str)
                    and head.value.startswith("annulusview.")
                    and head.value.endswith(".")
                ):
                    prefix = head.value[:-1]
                    found.setdefault(prefix, where)
                    folder = bundle.SRC_DIR / Path(*prefix.split("."))
                    for module in sorted(folder.glob("*.py")):
                        if module.stem != "__init__":
                            found.setdefault(f"{prefix}.{module.stem}", where)
    return found


def subcommands() -> list[str]:
    """The CLI's sub-commands (and the --self-test pseudo-command) as module names."""
    sys.path.insert(0, str(bundle.SRC_DIR))
    from annulusview.cli import build_parser

    parser = build_parser()
    names = ["selftest"]
    for action in parser._actions:  # argparse keeps sub-parsers only here
        choices = getattr(action, "choices", None)
        if isinstance(choices, dict):
            names += list(choices)
    return [f"annulusview.commands.{name}" for name in names]


def imported_top_levels(trees: list[tuple[Path, ast.Module]]) -> dict[str, str]:
    """Every module the package imports (dotted, absolute): module -> first file."""
    found: dict[str, str] = {}
    for path, tree in trees:
        where = str(path.relative_to(bundle.REPO_DIR))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    found.setdefault(alias.name, where)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.setdefault(node.module, where)
                for alias in node.names:
                    found.setdefault(f"{node.module}.{alias.name}", where)
    return found


def problems() -> list[str]:
    out: list[str] = []
    trees = _sources()
    hidden = set(bundle.hidden_imports())

    for module, where in sorted(named_imports(trees).items()):
        if not _module_exists(module):
            out.append(f"{where} imports {module} by name, but the package has no such module")
        elif module not in hidden:
            out.append(f"{where} imports {module} by name; it is not in the spec's hiddenimports")
    for module in subcommands():
        if not _module_exists(module):
            out.append(f"the CLI has the sub-command of {module}, but the module is missing")
        elif module not in hidden:
            out.append(f"sub-command module {module} is not in the spec's hiddenimports")

    for module in bundle.THIRD_PARTY_HIDDEN_IMPORTS:
        try:
            spec = importlib.util.find_spec(module)
        except (ImportError, ValueError):
            spec = None
        if spec is None:
            out.append(f"hidden import {module} is not installed in this venv")
    for package in bundle.COLLECT_DATA_PACKAGES:
        if importlib.util.find_spec(package) is None:
            out.append(f"collect_data_files({package!r}): the package is not installed")
    for dist in bundle.COPY_METADATA:
        try:
            importlib.metadata.distribution(dist)
        except importlib.metadata.PackageNotFoundError:
            out.append(f"copy_metadata({dist!r}): the distribution is not installed")

    excluded = set(bundle.EXCLUDES)
    for module, where in sorted(imported_top_levels(trees).items()):
        parts = module.split(".")
        for n in range(1, len(parts) + 1):
            if ".".join(parts[:n]) in excluded:
                out.append(f"{where} imports {module}, which the spec excludes")
                break

    if not (bundle.RESOURCES_DIR / "rules" / "default.toml").is_file():
        out.append(f"{bundle.RESOURCES_DIR}/rules/default.toml is missing")
    if (str(bundle.RESOURCES_DIR), bundle.RESOURCES_TARGET) not in bundle.datas():
        out.append("resources/ is not in the spec's datas")
    for target_parts in (("help", "user-guide.html"), ("icons", "annulusview.png")):
        if not bundle.RESOURCES_DIR.joinpath(*target_parts).is_file():
            out.append(f"resources/{'/'.join(target_parts)} is missing")
    resources_py = (bundle.PACKAGE_DIR / "core" / "resources.py").read_text(encoding="utf-8")
    if '"resources"' not in resources_py or bundle.RESOURCES_TARGET != "annulusview/resources":
        out.append("core/resources.py no longer looks in annulusview/resources")

    entry = bundle.ENTRY_SCRIPT.read_text(encoding="utf-8") if bundle.ENTRY_SCRIPT.is_file() else ""
    if "from annulusview.cli import main" not in entry:
        out.append(f"{bundle.ENTRY_SCRIPT.name} does not call annulusview.cli.main")
    for icon in (bundle.ICON_PNG, bundle.ICON_ICO, bundle.ICON_ICNS):
        if not icon.is_file():
            out.append(f"icon {icon.name} is missing (run packaging/make_icon.py)")
    desktop = (
        bundle.DESKTOP_FILE.read_text(encoding="utf-8") if bundle.DESKTOP_FILE.is_file() else ""
    )
    if f"Exec={bundle.APP_NAME}" not in desktop or "Icon=annulusview" not in desktop:
        out.append(f"{bundle.DESKTOP_FILE.name} must name Exec={bundle.APP_NAME} and the icon")

    spec = (bundle.PACKAGING_DIR / "annulusview.spec").read_text(encoding="utf-8")
    for needed in (
        "bundle.hidden_imports()",
        "bundle.datas()",
        "bundle.EXCLUDES",
        "bundle.COLLECT_DATA_PACKAGES",
        "bundle.ENTRY_SCRIPT",
        "SPECPATH",
    ):
        if needed not in spec:
            out.append(f"annulusview.spec no longer uses {needed}")
    if re.search(r"['\"](/home/|/usr/|/tmp/|/work/|[A-Z]:\\\\)", spec):
        out.append("annulusview.spec holds an absolute, machine-specific path")
    return out


def main() -> int:
    found = problems()
    for line in found:
        print(f"build.sh --check: {line}", file=sys.stderr)
    if found:
        print(f"build.sh --check: FAIL ({len(found)} problems)", file=sys.stderr)
        return 1
    modules = len(bundle.package_modules())
    print(f"build.sh --check: OK ({modules} package modules, spec and package agree)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
