"""The Model hook: children, port wiring, blue/green and status."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from hooks.mlops import configs
from hooks.mlops.api import MONITORING_PORT, NGINX_HTTP_PORT, REVISION_LABEL, ModelSpec
from hooks.mlops.controller import sync_model
from hooks.mlops.revisions import RevisionView, decide_rollout, revision_of
from hooks.settings import Settings
from tests.conftest import NOW
from tests.unit.mlops.factory import ARTIFACT, MODEL, model, of_kind, ready, request

SETTINGS = Settings()


def sync(parent: dict[str, Any], children: list[dict[str, Any]] = (), related=()) -> dict[str, Any]:  # type: ignore[no-untyped-def,assignment]
    return sync_model(
        request(MODEL, parent, children, related), now=NOW, settings=SETTINGS
    ).to_json()


def _containers(deployment: dict[str, Any]) -> dict[str, dict[str, Any]]:
    pod = deployment["spec"]["template"]["spec"]
    return {c["name"]: c for c in pod["containers"] + pod["initContainers"]}


@pytest.mark.parametrize("port", [8080, 3000, 9000])
def test_every_port_lines_up(port: int) -> None:
    answer = sync(model(port=port))
    service = of_kind(answer["children"], "Service")[0]
    deployment = of_kind(answer["children"], "Deployment")[0]
    config = of_kind(answer["children"], "ConfigMap")[0]["data"]
    containers = _containers(deployment)
    nginx_ports = {p["name"]: p["containerPort"] for p in containers["nginx"]["ports"]}
    # Service `http` -> nginx's `http` port -> nginx listens there -> proxies to the server.
    by_name = {p["name"]: p for p in service["spec"]["ports"]}
    assert by_name["http"]["targetPort"] == "http"
    assert by_name["monitoring"]["targetPort"] == "monitoring"
    assert nginx_ports == {"http": NGINX_HTTP_PORT, "monitoring": MONITORING_PORT}
    assert f"listen {NGINX_HTTP_PORT};" in config["nginx.conf"]
    assert f"listen {MONITORING_PORT};" in config["nginx.conf"]
    assert f"server 127.0.0.1:{port};" in config["nginx.conf"]
    assert containers["server"]["ports"] == [
        {"name": "server", "containerPort": port, "protocol": "TCP"}
    ]
    # No container but nginx exposes a port the Service targets.
    assert all(p["name"] not in ("http", "monitoring") for p in containers["server"]["ports"])
    # gor listens on the server's port and writes to its volume, not to the Service.
    args = containers["gor"]["args"]
    assert args[args.index("--input-raw") + 1] == f":{port}"
    assert "--output-http" not in args
    assert args[args.index("--output-file") + 1].startswith(configs.CAPTURE_DIR + "/")
    # fluent-bit tails the file nginx writes, on the volume both mount.
    log = f"{configs.LOG_DIR}/{configs.ACCESS_LOG}"
    assert f"access_log {log} " in config["nginx.conf"]
    assert f"Path         {log}" in config["fluent-bit.conf"]
    mounts = {
        name: {m["mountPath"]: m["name"] for m in containers[name]["volumeMounts"]}
        for name in ("nginx", "fluent-bit")
    }
    assert mounts["nginx"][configs.LOG_DIR] == mounts["fluent-bit"][configs.LOG_DIR] == "logs"
    # The Service selects the served revision's pods only.
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert all(labels[k] == v for k, v in service["spec"]["selector"].items())


def test_the_artifact_is_mounted_read_only_from_its_own_directory() -> None:
    answer = sync(model(path="/opt/model", artifactChecksum="sha256:" + "a" * 64))
    containers = _containers(of_kind(answer["children"], "Deployment")[0])
    key = configs.artifact_key("https://models.example.com/m/v1.tar.gz", "sha256:" + "a" * 64)
    assert containers["server"]["volumeMounts"] == [
        {
            "name": "artifact",
            "mountPath": "/opt/model",
            "subPath": f"artifacts/{key}",
            "readOnly": True,
        }
    ]
    env = {e["name"]: e["value"] for e in containers["fetch-artifact"]["env"]}
    assert env["ARTIFACT_KEY"] == key
    assert env["ARTIFACT_CHECKSUM"] == "sha256:" + "a" * 64
    for name in ("fetch-artifact", "nginx", "fluent-bit", "gor"):
        resources = containers[name]["resources"]
        assert resources["requests"], name
        assert resources["limits"], name
    assert containers["nginx"]["securityContext"]["runAsNonRoot"] is True
    assert containers["fluent-bit"]["securityContext"]["runAsNonRoot"] is True
    assert "readinessProbe" in containers["server"]
    assert "livenessProbe" in containers["server"]


def test_capture_to_a_url_and_none() -> None:
    answer = sync(model(capture={"output": "http", "url": "http://shadow.staging:8080"}))
    containers = _containers(of_kind(answer["children"], "Deployment")[0])
    assert containers["gor"]["args"][-2:] == ["--output-http", "http://shadow.staging:8080"]
    answer = sync(model(capture={"output": "none"}))
    assert "gor" not in _containers(of_kind(answer["children"], "Deployment")[0])


@pytest.mark.parametrize(
    ("reason", "spec", "want"),
    [
        ("s3 is not fetched", {"artifact": "s3://bucket/m.tar.gz"}, "UnsupportedArtifactScheme"),
        (
            "capture into its own Service",
            {"capture": {"output": "http", "url": "http://m.ml.svc.cluster.local"}},
            "CaptureIntoOwnService",
        ),
        (
            "capture into itself",
            {"capture": {"output": "http", "url": "http://m"}},
            "CaptureIntoOwnService",
        ),
        ("a sidecar's port", {"port": NGINX_HTTP_PORT}, "InvalidSpec"),
        ("metrics without a host", {"metrics": {"output": "forward"}}, "InvalidSpec"),
        ("capture without a url", {"capture": {"output": "http"}}, "InvalidSpec"),
        (
            "value and valueFrom",
            {"env": [{"name": "A", "value": "1", "valueFrom": {}}]},
            "InvalidSpec",
        ),
        (
            "two sources",
            {
                "env": [
                    {
                        "name": "A",
                        "valueFrom": {
                            "secretKeyRef": {"name": "s", "key": "k"},
                            "fieldRef": {"fieldPath": "metadata.name"},
                        },
                    }
                ]
            },
            "InvalidSpec",
        ),
    ],
)
def test_what_only_the_hook_judges_keeps_the_children(
    reason: str, spec: dict[str, Any], want: str
) -> None:
    good = sync(model())
    bad = model(generation=2, **spec)
    answer = sync(bad, good["children"])
    assert answer["status"]["phase"] == "Failed"
    condition = answer["status"]["conditions"][0]
    assert (condition["type"], condition["status"], condition["reason"]) == ("Ready", "False", want)
    assert sorted(c["metadata"]["name"] for c in answer["children"]) == sorted(
        c["metadata"]["name"] for c in good["children"]
    )


def _conditions(answer: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in answer["status"]["conditions"]}


def test_blue_green_switches_only_when_the_new_revision_is_ready() -> None:
    v1 = model()
    first = sync(v1)
    old = of_kind(first["children"], "Deployment")[0]
    settled = [ready(c) if c["kind"] == "Deployment" else c for c in first["children"]]
    assert sync(v1, settled)["status"]["phase"] == "Ready"

    v2 = model(generation=2, artifact="https://models.example.com/m/v2.tar.gz")
    rolling = sync(v2, settled)
    deployments = of_kind(rolling["children"], "Deployment")
    assert len(deployments) == 2
    service = of_kind(rolling["children"], "Service")[0]
    old_revision = old["metadata"]["labels"][REVISION_LABEL]
    new_revision = revision_of(ModelSpec.model_validate(v2["spec"]))
    assert service["spec"]["selector"][REVISION_LABEL] == old_revision
    assert old in deployments
    status = rolling["status"]
    assert status["phase"] == "RollingOut"
    assert status["servedRevision"] == old_revision
    assert status["revision"] == new_revision
    assert status["servedArtifact"] == "https://models.example.com/m/v1.tar.gz"
    assert _conditions(rolling)["RolledOut"][0] == "False"
    assert _conditions(rolling)["Available"][0] == "True"

    # The new revision is not ready yet: nothing changes.
    not_yet = [
        ready(c, 0) if c["kind"] == "Deployment" and c != old else c for c in rolling["children"]
    ]
    not_yet = [ready(c) if c == old else c for c in not_yet]
    assert sync(v2, not_yet)["children"] == rolling["children"]

    # Ready: the Service switches, the old revision still runs.
    both_ready = [ready(c) if c["kind"] == "Deployment" else c for c in rolling["children"]]
    switched = sync(v2, both_ready)
    assert (
        of_kind(switched["children"], "Service")[0]["spec"]["selector"][REVISION_LABEL]
        == new_revision
    )
    assert len(of_kind(switched["children"], "Deployment")) == 2

    # Once the switch is observed, the old revision goes.
    observed = [ready(c) if c["kind"] == "Deployment" else c for c in switched["children"]]
    done = sync(v2, observed)
    assert [
        d["metadata"]["labels"][REVISION_LABEL] for d in of_kind(done["children"], "Deployment")
    ] == [new_revision]
    assert [c["metadata"]["name"] for c in of_kind(done["children"], "ConfigMap")] == [
        f"m-{new_revision}"
    ]
    assert done["status"]["phase"] == "Ready"
    assert done["status"]["servedArtifact"] == "https://models.example.com/m/v2.tar.gz"


def test_a_failed_download_of_the_new_revision_leaves_the_old_one_serving() -> None:
    v1 = model()
    settled = [ready(c) if c["kind"] == "Deployment" else c for c in sync(v1)["children"]]
    v2 = model(generation=2, image="server:2")
    new_revision = revision_of(ModelSpec.model_validate(v2["spec"]))
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "labels": {REVISION_LABEL: new_revision}},
        "status": {
            "initContainerStatuses": [
                {
                    "name": "fetch-artifact",
                    "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                    "lastState": {
                        "terminated": {
                            "exitCode": 1,
                            "message": "fetch-artifact: downloading x\n"
                            "fetch-artifact: checksum mismatch for x",
                        }
                    },
                }
            ]
        },
    }
    answer = sync(v2, settled, [pod])
    conditions = _conditions(answer)
    assert answer["status"]["phase"] == "Failed"
    assert conditions["ArtifactReady"] == ("False", "ArtifactDownloadFailed")
    assert conditions["RolledOut"] == ("False", "ArtifactDownloadFailed")
    assert conditions["Available"][0] == "True"
    message = next(
        c["message"] for c in answer["status"]["conditions"] if c["type"] == "ArtifactReady"
    )
    assert message == "fetch-artifact: checksum mismatch for x"


def test_volume_claim_keeps_what_cannot_change_and_never_shrinks() -> None:
    first = sync(model(size="20Gi", storageClassName="fast"))
    claim = of_kind(first["children"], "PersistentVolumeClaim")[0]
    assert claim["spec"] == {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": "20Gi"}},
        "storageClassName": "fast",
    }
    changed = sync(
        model(size="5Gi", storageClassName="slow", accessMode="ReadWriteMany"), first["children"]
    )
    assert of_kind(changed["children"], "PersistentVolumeClaim")[0]["spec"] == claim["spec"]
    grown = sync(model(size="30Gi"), first["children"])
    spec = of_kind(grown["children"], "PersistentVolumeClaim")[0]["spec"]
    assert spec["resources"]["requests"]["storage"] == "30Gi"


def test_a_config_change_rolls_the_pods_of_the_same_revision() -> None:
    a = of_kind(sync(model())["children"], "Deployment")[0]
    b = of_kind(sync(model(metrics={"output": "stdout"}))["children"], "Deployment")[0]
    assert a["metadata"]["name"] == b["metadata"]["name"]
    key = "mlops.aihooks.dev/config-hash"
    assert (
        a["spec"]["template"]["metadata"]["annotations"][key]
        != b["spec"]["template"]["metadata"]["annotations"][key]
    )


def _view(revision: str, ready_replicas: int, wanted: int = 1) -> RevisionView:
    return RevisionView(revision, wanted, ready_replicas, updated=True, stalled=False)


@pytest.mark.parametrize(
    ("reason", "served", "revisions", "want"),
    [
        ("first sync", None, [], ("b", None)),
        ("served is wanted", "b", [_view("b", 1)], ("b", None)),
        ("new not observed", "a", [_view("a", 1)], ("a", "a")),
        ("new not ready", "a", [_view("a", 1), _view("b", 0)], ("a", "a")),
        ("new partly ready", "a", [_view("a", 1), _view("b", 1, 2)], ("a", "a")),
        ("new ready: switch, keep old", "a", [_view("a", 1), _view("b", 1)], ("b", "a")),
        ("served deployment gone", "a", [_view("b", 0)], ("b", None)),
        ("third revision while rolling", "a", [_view("a", 1), _view("c", 1)], ("a", "a")),
        ("zero replicas are ready at once", "a", [_view("a", 0, 0), _view("b", 0, 0)], ("b", "a")),
    ],
)
def test_rollout_decisions(
    reason: str, served: str | None, revisions: list[RevisionView], want: tuple[str, str | None]
) -> None:
    rollout = decide_rollout("b", served, revisions)
    assert (rollout.serve, rollout.keep) == want, reason


def test_revision_hash_follows_only_what_is_served() -> None:
    base = ModelSpec.model_validate(model()["spec"])
    same = ModelSpec.model_validate(model(replicas=5, port=3000, size="50Gi")["spec"])
    assert revision_of(base) == revision_of(same)
    for change in (
        {"image": "x:2"},
        {"args": ["--fast"]},
        {"command": ["run"]},
        {"artifactChecksum": "sha256:" + "0" * 64},
        {"artifact": "http://a/b.tar.gz"},
    ):
        spec = copy.deepcopy(model()["spec"]) | change
        assert revision_of(ModelSpec.model_validate(spec)) != revision_of(base), change


def _pod(revision: str, state: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"p-{revision}", "labels": {REVISION_LABEL: revision}},
        "status": {"initContainerStatuses": [{"name": "fetch-artifact", "state": state}]},
    }


def _stalled(deployment: dict[str, Any]) -> dict[str, Any]:
    stuck = ready(deployment, 0)
    stuck["status"]["conditions"] = [
        {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}
    ]
    return stuck


@pytest.mark.parametrize(
    ("reason", "phase", "artifact", "ready_condition"),
    [
        ("nothing yet", "Pending", ("False", "Pending"), ("False", "Pending")),
        ("init running", "Downloading", ("False", "Downloading"), ("False", "Downloading")),
        ("init done, not ready", "Pending", ("True", "Downloaded"), ("False", "Unavailable")),
        (
            "init failed",
            "Failed",
            ("False", "ArtifactDownloadFailed"),
            ("False", "ArtifactDownloadFailed"),
        ),
        ("all ready", "Ready", ("True", "Downloaded"), ("True", "Ready")),
    ],
)
def test_status_of_a_first_revision(
    reason: str,
    phase: str,
    artifact: tuple[str, str],
    ready_condition: tuple[str, str],
) -> None:
    parent = model()
    first = sync(parent)
    deployment = of_kind(first["children"], "Deployment")[0]
    revision = deployment["metadata"]["labels"][REVISION_LABEL]
    children, pods = first["children"], []
    if reason == "init running":
        pods = [_pod(revision, {"running": {}})]
    elif reason == "init done, not ready":
        pods = [_pod(revision, {"terminated": {"exitCode": 0}})]
        children = [ready(c, 0) if c["kind"] == "Deployment" else c for c in children]
    elif reason == "init failed":
        pods = [_pod(revision, {"terminated": {"exitCode": 1, "message": "fetch-artifact: boom"}})]
    elif reason == "all ready":
        children = [ready(c) if c["kind"] == "Deployment" else c for c in children]
    answer = sync(parent, children, pods)
    conditions = _conditions(answer)
    assert answer["status"]["phase"] == phase, reason
    assert conditions["ArtifactReady"] == artifact, reason
    assert conditions["Ready"] == ready_condition, reason


def test_a_stalled_rollout_says_so() -> None:
    settled = [ready(c) if c["kind"] == "Deployment" else c for c in sync(model())["children"]]
    v2 = model(generation=2, image="server:2")
    rolling = sync(v2, settled)
    new = revision_of(ModelSpec.model_validate(v2["spec"]))
    observed = [
        _stalled(c)
        if c["kind"] == "Deployment" and c["metadata"]["labels"][REVISION_LABEL] == new
        else ready(c)
        if c["kind"] == "Deployment"
        else c
        for c in rolling["children"]
    ]
    answer = sync(v2, observed)
    assert answer["status"]["phase"] == "RollingOut"
    assert _conditions(answer)["RolledOut"] == ("False", "RolloutStalled")
    assert _conditions(answer)["Available"] == ("True", "Ready")


def test_a_template_with_no_replicas_is_ready_with_nothing_running() -> None:
    first = sync(model(replicas=0))
    settled = [ready(c) if c["kind"] == "Deployment" else c for c in first["children"]]
    answer = sync(model(replicas=0), settled)
    assert answer["status"]["phase"] == "Ready"
    assert _conditions(answer)["Ready"] == ("True", "ScaledToZero")
    assert _conditions(answer)["Available"] == ("False", "ScaledToZero")


def test_no_volume_for_a_template_until_it_runs_and_never_one_dropped() -> None:
    template = sync(model(replicas=0))
    assert not of_kind(template["children"], "PersistentVolumeClaim")
    running = sync(model(replicas=1), template["children"])
    assert len(of_kind(running["children"], "PersistentVolumeClaim")) == 1
    back = sync(model(replicas=0), running["children"])
    assert len(of_kind(back["children"], "PersistentVolumeClaim")) == 1


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        (None, "spec: must be an object"),
        ("text", "spec: must be an object"),
        ({"artifact": ARTIFACT}, "spec.image"),
        ({"image": "server:1", "artifact": ARTIFACT, "env": "x"}, "spec.env"),
    ],
)
def test_a_spec_that_does_not_parse_is_invalid_and_keeps_the_children(
    spec: object, field: str
) -> None:
    good = sync(model())
    bad = {**model(generation=2), "spec": spec}
    answer = sync(bad, good["children"])
    condition = answer["status"]["conditions"][0]
    assert (condition["type"], condition["status"], condition["reason"]) == (
        "Ready",
        "False",
        "InvalidSpec",
    )
    assert condition["message"].startswith(field)
    assert answer["children"] == good["children"]


def test_observed_fields_of_the_wrong_shape_are_ignored() -> None:
    first = sync(model())
    deployment = ready(of_kind(first["children"], "Deployment")[0])
    deployment["status"] = {"readyReplicas": 2**70, "conditions": 7}
    claim = copy.deepcopy(of_kind(first["children"], "PersistentVolumeClaim")[0])
    claim["spec"] = {"accessModes": "all", "storageClassName": 5, "resources": []}
    service = copy.deepcopy(of_kind(first["children"], "Service")[0])
    service["spec"] = ["not", "an", "object"]
    others = [c for c in first["children"] if c["kind"] == "ConfigMap"]
    answer = sync(model(), [deployment, claim, service, *others])
    assert answer["status"]["readyReplicas"] == 0
    volume = of_kind(answer["children"], "PersistentVolumeClaim")[0]["spec"]
    assert volume["accessModes"] == ["ReadWriteOnce"]
    assert "storageClassName" not in volume
