"""Type hints everywhere, checked: `mypy --strict` over the daemon and the firmware bridges
(settings in pyproject.toml's [tool.mypy]). A type error fails the suite like a bug."""

from __future__ import annotations

from pathlib import Path

import pytest
from mypy import api

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.timeout(300)


def test_the_code_type_checks_strictly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)  # [tool.mypy] files are relative to the repository
    out, err, status = api.run(["--config-file", str(REPO / "pyproject.toml"),
                                "--cache-dir", str(tmp_path / "mypy-cache")])
    assert status == 0, out + err
    assert "Success: no issues found" in out
