"""The distribution builds as the Dockerfile builds it, and both entry points work."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from hooks.cli import REPO_ROOT


def test_python_dash_m_and_console_script() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "hooks", "--help"], capture_output=True, text=True, check=True
    )
    for command in ("serve", "render", "crds", "controllers"):
        assert command in result.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp_path = tmp_path_factory.mktemp("wheel")
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
    (built,) = tmp_path.glob("aihooks-*.whl")
    return built


def test_wheel_carries_the_package(wheel: Path) -> None:
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
    assert not any("gcc" in line or "build-essential" in line for line in final)


def test_installed_from_the_wheel_the_checkout_commands_say_so(wheel: Path, tmp_path: Path) -> None:
    """Outside a checkout, `dev` needs one and the generators need --out: one line each."""
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), wheel],
        check=True,
    )
    elsewhere = tmp_path / "work"
    elsewhere.mkdir()

    def aihooks(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "hooks", *argv],
            capture_output=True,
            text=True,
            cwd=elsewhere,
            env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"},
        )

    where = aihooks("--help")
    assert where.returncode == 0, where.stderr
    dev = aihooks("dev")
    assert (dev.returncode, dev.stdout) == (2, "")
    assert dev.stderr.startswith("aihooks dev: needs a checkout of the project")
    assert dev.stderr.count("\n") == 1
    for command in ("crds", "controllers"):
        refused = aihooks(command)
        assert refused.returncode == 2
        assert refused.stderr == (
            f"aihooks {command}: not run from a checkout of the project: "
            "give the output directory with --out\n"
        )
        written = aihooks(command, "--out", str(elsewhere / command))
        assert written.returncode == 0, written.stderr
        assert (elsewhere / command / "kustomization.yaml").is_file()
    assert not list(target.glob("crds")), "nothing is written into site-packages"
