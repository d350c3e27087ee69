"""``bash packaging/build.sh --check``: the frozen app's bundle table matches the package."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_build_check_passes() -> None:
    done = subprocess.run(
        ["bash", "packaging/build.sh", "--check"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"PATH": "/usr/bin:/bin", "PYTHON": sys.executable},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "spec and package agree" in done.stdout


def test_check_finds_a_lazy_import_the_spec_lacks() -> None:
    """The check reads the real source: a module named in a string table must exist."""
    sys.path.insert(0, str(REPO / "packaging"))
    try:
        import ast

        import check_bundle

        tree = ast.parse('_LAZY = {"x": ("annulusview.core.no_such_module", "x")}')
        found = check_bundle.named_imports([(REPO / "src" / "annulusview" / "fake.py", tree)])
        assert "annulusview.core.no_such_module" in found
        assert not check_bundle._module_exists("annulusview.core.no_such_module")
        assert "annulusview.commands.selftest" in check_bundle.subcommands()
    finally:
        sys.path.remove(str(REPO / "packaging"))
