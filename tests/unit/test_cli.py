"""The `aihooks` command as a user meets it: every error one line naming the file, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from hooks.cli import REPO_ROOT, main

NOW = ["--now", "2026-01-15T10:30:00Z"]
CODELLAMA = REPO_ROOT / "examples/inference/codellama-34b.yaml"
CONFIG_MAP = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("reason", "text", "says"),
    [
        ("invalid YAML", "spec: [\n", "not valid YAML: expected the node content"),
        ("empty file", "", "holds no objects"),
        ("only comments", "# nothing\n---\n", "holds no objects"),
        ("not an object", "- a\n- b\n", "document 1 is not a Kubernetes object"),
        ("unknown kind", CONFIG_MAP, "no controller watches any of: ConfigMap (v1)"),
        (
            "invalid InferenceModel spec",
            CODELLAMA.read_text().replace("memory: 48Gi", "memory: 48GB", 1),
            "InferenceModel codellama-34b: invalid spec: spec.memory: String should match "
            "pattern '^[0-9]+(Ki|Mi|Gi|Ti)$' (given '48GB')",
        ),
        (
            "missing required field",
            CODELLAMA.read_text().replace("modelName:", "otherName:"),
            "invalid spec: spec.modelName: Field required",
        ),
    ],
)
def test_render_errors_are_one_line_naming_the_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, reason: str, text: str, says: str
) -> None:
    path = write(tmp_path, "in.yaml", text)
    code, out, err = run(capsys, "render", "-f", str(path), *NOW)
    assert code == 2, reason
    assert out == ""
    assert err.count("\n") == 1, err
    assert err.startswith(f"aihooks render: {path}: "), err
    assert says in err


def test_a_missing_file_is_named(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    assert run(capsys, "render", "-f", str(missing)) == (
        2,
        "",
        f"aihooks render: {missing}: no such file\n",
    )


def test_render_answers_every_parent_of_a_file(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "render", "-f", str(REPO_ROOT / "examples/prem/vllm.yaml"), *NOW)
    assert code == 0
    headers = [line for line in out.splitlines() if line.startswith("# ")]
    assert headers == ["# AIModelMap tinyllama-1.1b-chat: sync", "# AIDeployment vllm: sync"]
    answers = list(yaml.safe_load_all(out))
    kinds = {c["kind"] for c in answers[1]["children"]}
    assert {"Deployment", "Service"} <= kinds, "the AIDeployment's own answer"


def test_render_picks_a_parent_by_kind_and_name(capsys: pytest.CaptureFixture[str]) -> None:
    vllm = str(REPO_ROOT / "examples/prem/vllm.yaml")
    code, out, _ = run(capsys, "render", "-f", vllm, "--kind", "AIDeployment", *NOW)
    assert code == 0
    (answer,) = yaml.safe_load_all(out)
    assert any(c["kind"] == "Deployment" for c in answer["children"])
    code, _, err = run(capsys, "render", "-f", vllm, "--name", "other")
    assert (code, err) == (2, f"aihooks render: {vllm}: no object other in the files\n")


def test_render_of_a_pool_answers_each_model(capsys: pytest.CaptureFixture[str]) -> None:
    files = sorted((REPO_ROOT / "examples/inference/two-pools").glob("*.yaml"))
    code, out, _ = run(capsys, "render", *(a for f in files for a in ("-f", str(f))), *NOW)
    assert code == 0
    headers = [line for line in out.splitlines() if line.startswith("# InferenceModel")]
    assert len(headers) == 4
    assert len(list(yaml.safe_load_all(out))) == 4


def test_serve_runs_one_worker(capsys: pytest.CaptureFixture[str]) -> None:
    """Several uvicorn workers would each answer /metrics from their own registry."""
    with pytest.raises(SystemExit) as exit_info:
        main(["serve", "--workers", "2"])
    assert exit_info.value.code == 2
    assert "unrecognized arguments: --workers 2" in capsys.readouterr().err


def test_a_bad_router_setting_is_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIHOOKS_ROUTER_ALLOWED_BACKENDS", "not a host")
    code, out, err = run(capsys, "router")
    assert (code, out) == (2, "")
    assert err.startswith("aihooks router: invalid setting (flags or AIHOOKS_ROUTER_*): ")
    assert "router.allowed_backends" in err
    assert "'not a host' is neither a host name nor a CIDR" in err
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["render"], "aihooks render: the following arguments are required: -f/--filename"),
        (["render", "-f", "x.yaml", "--now", "soon"], "argument --now: invalid"),
        (["frobnicate"], "aihooks: argument command: invalid choice: 'frobnicate'"),
    ],
)
def test_usage_errors_are_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], says: str
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert says in err
