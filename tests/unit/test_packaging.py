"""The distribution builds as the Dockerfile builds it, and both entry points work."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from hooks.cli import REPO_ROOT


def test_python_dash_m_and_console_script() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "hooks", "--help"], capture_output=True, text=True, check=True
    )
    for command in ("serve", "render", "crds", "controllers"):
        assert command in result.stdout


def test_wheel_carries_the_package(tmp_path: Path) -> None:
    # Build from a copy, as the Dockerfile does, so no stale build/ dir is reused.
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO_ROOT / name, source / name)
    shutil.copytree(
        REPO_ROOT / "hooks", source / "hooks", ignore=shutil.ignore_patterns("__pycache__")
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(source),
        ],
        check=True,
    )
    (wheel,) = tmp_path.glob("aihooks-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "hooks/app.py" in names
    assert "hooks/py.typed" in names
    assert not any(name.startswith(("tests/", "hooks/devcluster/")) for name in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "aihooks = hooks.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_dockerfile_takes_its_base_as_an_argument() -> None:
    # Built and run for real in tests/e2e/test_image.py; this only pins what
    # users get without build arguments.
    lines = [line.strip() for line in (REPO_ROOT / "Dockerfile").read_text().splitlines()]
    assert "ARG BASE=docker.io/library/python:3.11-slim-bookworm" in lines
    stages = [line for line in lines if line.startswith("FROM ")]
    assert stages == ["FROM ${BASE} AS build", "FROM ${BASE}"]
    final = lines[lines.index(stages[-1]) :]
    assert "USER 10001:10001" in final
    assert 'ENTRYPOINT ["aihooks"]' in final
