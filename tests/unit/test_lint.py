"""The lint rules in pyproject.toml's [tool.ruff] (pyflakes, syntax, import order, bugbear,
pyupgrade), checked over the whole tree: an unused import or a shadowed name fails the
suite like a bug."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.timeout(120)


def test_the_tree_passes_the_lint_rules() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "concise",
         "controller", "firmware_bridges", "tests", "bench"],
        cwd=REPO, capture_output=True, text=True, timeout=100, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
