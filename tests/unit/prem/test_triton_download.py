"""Triton's init containers unpack each model URI by its archive type, run here for real.

The scripts run under sh with curl, tar and Python's zipfile against archives
served on loopback, with the model repository `/models` moved to a temporary
directory.
"""

from __future__ import annotations

import functools
import http.server
import io
import shutil
import subprocess
import sys
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from hooks.prem.engines import archive_kind, triton_download_script

MODEL_FILE = "resnet/1/model.onnx"
CONFIG = "resnet/config.pbtxt"


def _tar(mode: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as archive:
        for name, data in ((MODEL_FILE, b"onnx"), (CONFIG, b'name: "resnet"')):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(MODEL_FILE, b"onnx")
        archive.writestr(CONFIG, b'name: "resnet"')
    return buffer.getvalue()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("served")
    (root / "resnet.tar").write_bytes(_tar("w"))
    (root / "resnet.tar.gz").write_bytes(_tar("w:gz"))
    (root / "resnet.tgz").write_bytes(_tar("w:gz"))
    (root / "resnet.zip").write_bytes(_zip())
    (root / "model.onnx").write_bytes(b"onnx")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def run(uri: str, models: Path) -> subprocess.CompletedProcess[str]:
    """The init container's script, with /models at `models` and the test's python3."""
    script = triton_download_script(uri).replace("/models", str(models))
    python = Path(shutil.which("python3") or sys.executable).parent
    environment = {"MODEL_PATH": uri, "MODEL_NAME": "resnet", "PATH": f"{python}:/usr/bin:/bin"}
    return subprocess.run(["sh", "-c", script], env=environment, capture_output=True, text=True)


@pytest.mark.parametrize(
    ("uri", "kind"),
    [
        ("https://h/m/resnet.tar", "tar"),
        ("https://h/m/resnet.tar.gz", "tar.gz"),
        ("https://h/m/RESNET.TGZ?sig=abc", "tar.gz"),
        ("https://h/m/resnet.zip#frag", "zip"),
        ("https://h/m/model.onnx", None),
        ("https://h/m.tar/model.onnx", None),
    ],
)
def test_archive_kind_is_read_from_the_path(uri: str, kind: str | None) -> None:
    assert archive_kind(uri) == kind


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl (Debian package curl)")
@pytest.mark.parametrize("name", ["resnet.tar", "resnet.tar.gz", "resnet.tgz", "resnet.zip"])
def test_each_archive_unpacks_into_the_model_repository(
    served: str, tmp_path: Path, name: str
) -> None:
    result = run(f"{served}/{name}", tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / MODEL_FILE).read_bytes() == b"onnx"
    assert (tmp_path / CONFIG).read_text() == 'name: "resnet"'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["resnet"], "no download left behind"


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl (Debian package curl)")
def test_a_plain_file_is_version_one_of_the_model(served: str, tmp_path: Path) -> None:
    result = run(f"{served}/model.onnx", tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "resnet/1/model.onnx").read_bytes() == b"onnx"


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl (Debian package curl)")
def test_a_failed_download_fails_the_init_container(served: str, tmp_path: Path) -> None:
    result = run(f"{served}/missing.tar", tmp_path)
    assert result.returncode != 0
