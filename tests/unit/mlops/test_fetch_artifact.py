"""The init container's download script, run for real with the busybox applets the
image has, against a loopback HTTP server that counts the downloads."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from hooks.mlops import configs
from tests.unit.mlops.servers import Served, http_server

APPLETS = ("sh", "wget", "sha256sum", "tar", "mkdir", "rm", "mv", "touch", "cut", "gzip", "timeout")
BUSYBOX = shutil.which("busybox") or "/bin/busybox"


def _tarball() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, body in (("model.bin", b"\x00weights" * 64), ("config.json", b'{"layers": 2}')):
            info = tarfile.TarInfo(name)
            info.size = len(body)
            archive.addfile(info, io.BytesIO(body))
    return buffer.getvalue()


TARBALL = _tarball()
CHECKSUM = "sha256:" + hashlib.sha256(TARBALL).hexdigest()


@pytest.fixture
def busybox_path(tmp_path: Path) -> str:
    """A PATH with only busybox applets, as in the busybox image. Debian builds busybox
    without its `flock` applet: util-linux's flock(1), which takes the same `flock FD`,
    stands in for it."""
    flock = shutil.which("flock")
    if not os.access(BUSYBOX, os.X_OK) or flock is None:
        pytest.skip("busybox or flock is not installed (Debian packages busybox, util-linux)")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for applet in APPLETS:
        (bin_dir / applet).symlink_to(BUSYBOX)
    (bin_dir / "flock").symlink_to(flock)
    (tmp_path / configs.FETCH_SCRIPT).write_text(configs.fetch_script("m"))
    return str(bin_dir)


@pytest.fixture
def artifacts() -> Iterator[Served]:
    with http_server({"/model.tar.gz": TARBALL, "/other.tar.gz": TARBALL + b"x"}) as served:
        yield served


def _run(
    busybox_path: str, tmp_path: Path, url: str, checksum: str = CHECKSUM
) -> subprocess.CompletedProcess[str]:
    script = tmp_path / configs.FETCH_SCRIPT
    env = {
        "PATH": busybox_path,
        "ARTIFACT_URL": url,
        "ARTIFACT_CHECKSUM": checksum,
        "ARTIFACT_KEY": configs.artifact_key(url, checksum),
        "ARTIFACT_ROOT": str(tmp_path / "volume"),
    }
    return subprocess.run(
        [f"{busybox_path}/sh", str(script)], env=env, capture_output=True, text=True, timeout=60
    )


def _unpacked(tmp_path: Path, url: str, checksum: str = CHECKSUM) -> Path:
    return tmp_path / "volume" / "artifacts" / configs.artifact_key(url, checksum)


def test_unpacks_once_and_a_restart_does_not_download(
    busybox_path: str, tmp_path: Path, artifacts: Served
) -> None:
    url = f"http://127.0.0.1:{artifacts.port}/model.tar.gz"
    first = _run(busybox_path, tmp_path, url)
    assert first.returncode == 0, first.stderr
    target = _unpacked(tmp_path, url)
    assert (target / "config.json").read_text() == '{"layers": 2}'
    assert (target / "model.bin").stat().st_size == 8 * 64
    again = _run(busybox_path, tmp_path, url)
    assert again.returncode == 0, again.stderr
    assert "already unpacked" in again.stdout
    assert artifacts.count("/model.tar.gz") == 1


def test_concurrent_replicas_download_once(
    busybox_path: str, tmp_path: Path, artifacts: Served
) -> None:
    url = f"http://127.0.0.1:{artifacts.port}/model.tar.gz"
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: _run(busybox_path, tmp_path, url), range(4)))
    assert [r.returncode for r in results] == [0, 0, 0, 0], [r.stderr for r in results]
    assert artifacts.count("/model.tar.gz") == 1
    assert sum("already unpacked" in r.stdout for r in results) == 3


def test_a_new_artifact_unpacks_beside_the_old_one(
    busybox_path: str, tmp_path: Path, artifacts: Served
) -> None:
    old = f"http://127.0.0.1:{artifacts.port}/model.tar.gz"
    new = f"http://127.0.0.1:{artifacts.port}/model.tar.gz?v=2"
    artifacts.files["/model.tar.gz?v=2"] = TARBALL
    assert _run(busybox_path, tmp_path, old).returncode == 0
    assert _run(busybox_path, tmp_path, new).returncode == 0
    assert (_unpacked(tmp_path, old) / "model.bin").exists()
    assert (_unpacked(tmp_path, new) / "model.bin").exists()


def test_a_checksum_mismatch_fails_and_leaves_no_marker(
    busybox_path: str, tmp_path: Path, artifacts: Served
) -> None:
    url = f"http://127.0.0.1:{artifacts.port}/other.tar.gz"
    result = _run(busybox_path, tmp_path, url)
    assert result.returncode != 0
    assert f"checksum mismatch for {url}: want {CHECKSUM}" in result.stderr
    assert not _unpacked(tmp_path, url).exists()
    assert not Path(f"{_unpacked(tmp_path, url)}.done").exists()
    # The next attempt downloads again (nothing was recorded as done).
    _run(busybox_path, tmp_path, url)
    assert artifacts.count("/other.tar.gz") == 2


def test_a_failed_download_says_so(busybox_path: str, tmp_path: Path, artifacts: Served) -> None:
    url = f"http://127.0.0.1:{artifacts.port}/missing.tar.gz"
    result = _run(busybox_path, tmp_path, url, checksum="")
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1] == f"fetch-artifact: download of {url} failed"
