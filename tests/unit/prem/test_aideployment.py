"""AIDeployment sync: the original operator's expectations, errors that keep children, status."""

from __future__ import annotations

from typing import Any

import pytest

from hooks.contract import CustomizeRequest
from hooks.prem import aideployment
from hooks.prem.api import CONFIG_HASH_ANNOTATION, USES_MAP_PREFIX
from hooks.settings import Settings
from tests.conftest import NOW
from tests.unit.prem.factory import (
    ai_deployment,
    child,
    condition,
    label_maps,
    model_map,
    observed,
    serving,
    sync,
)

JSON = dict[str, Any]
GPU = "nvidia.com/gpu"
CUDA = {"accelerator": {"interface": "CUDA"}, "resources": {"requests": {"memory": "200Gi"}}}
MODEL = [{"uri": "microsoft/phi-2"}]
PROBE_OVERRIDES = {
    "startupProbe": {
        "initialDelaySeconds": 66,
        "periodSeconds": 33,
        "timeoutSeconds": 12,
        "failureThreshold": 13,
    },
    "readinessProbe": {"successThreshold": 14},
    "livenessProbe": {"periodSeconds": 21},
}


def spec(engine: str, **fields: Any) -> JSON:
    base: JSON = {"engine": {"name": engine}, "endpoint": [{"domain": "foo.127.0.0.1.nip.io"}]}
    if engine in ("vllm", "deepspeed-mii"):
        base["models"] = MODEL
    return {**base, **fields}


def probe_fields(probe: JSON) -> JSON:
    return {k: v for k, v in probe.items() if k not in ("httpGet", "tcpSocket")}


@pytest.mark.parametrize(
    ("engine", "startup", "readiness", "liveness"),
    [
        (
            "localai",
            {"initialDelaySeconds": 1, "periodSeconds": 10, "failureThreshold": 120},
            {"failureThreshold": 3},
            {"periodSeconds": 30, "timeoutSeconds": 15, "failureThreshold": 10},
        ),
        (
            "vllm",
            {"initialDelaySeconds": 3, "periodSeconds": 1, "failureThreshold": 120},
            {"failureThreshold": 3},
            {"periodSeconds": 30, "timeoutSeconds": 15, "failureThreshold": 10},
        ),
        (
            "deepspeed-mii",
            {"initialDelaySeconds": 30, "periodSeconds": 5, "failureThreshold": 120},
            {"failureThreshold": 3},
            {"periodSeconds": 30, "timeoutSeconds": 15, "failureThreshold": 10},
        ),
        (
            "triton",
            {"periodSeconds": 10, "failureThreshold": 30},
            {"initialDelaySeconds": 5, "periodSeconds": 5, "failureThreshold": 3},
            {
                "initialDelaySeconds": 15,
                "periodSeconds": 10,
                "timeoutSeconds": 25,
                "failureThreshold": 3,
            },
        ),
    ],
)
def test_probe_defaults_and_no_resources(
    engine: str, startup: JSON, readiness: JSON, liveness: JSON
) -> None:
    container = serving(sync(ai_deployment(spec(engine))))
    assert probe_fields(container["startupProbe"]) == startup
    assert probe_fields(container["readinessProbe"]) == readiness
    assert probe_fields(container["livenessProbe"]) == liveness
    assert "resources" not in container


@pytest.mark.parametrize("engine", ["localai", "vllm", "deepspeed-mii"])
def test_probe_overrides_merge_field_by_field(engine: str) -> None:
    container = serving(sync(ai_deployment(spec(engine, deployment=PROBE_OVERRIDES))))
    startup = container["startupProbe"]
    assert (startup["initialDelaySeconds"], startup["periodSeconds"]) == (66, 33)
    assert (startup["timeoutSeconds"], startup["failureThreshold"]) == (12, 13)
    readiness = container["readinessProbe"]
    assert (readiness["failureThreshold"], readiness["successThreshold"]) == (3, 14)
    liveness = container["livenessProbe"]
    assert (liveness["periodSeconds"], liveness["timeoutSeconds"]) == (21, 15)
    assert liveness["failureThreshold"] == 10
    assert "httpGet" in readiness or "tcpSocket" in readiness


def test_localai_inline_and_mapped_models_become_args() -> None:
    inline = sync(ai_deployment(spec("localai", models=[{"uri": "phi-2"}])))
    assert serving(inline)["args"] == ["phi-2"]
    catalog = model_map({"localai": [{"variant": "embedded", "uri": "phi-2"}]})
    ref = {"modelMapRef": {"name": "catalog", "variant": "embedded"}}
    mapped = sync(ai_deployment(spec("localai", models=[ref])), maps=(catalog,))
    assert serving(mapped)["args"] == ["phi-2"]


def test_localai_downloads_http_models_in_init_containers() -> None:
    uri = "https://huggingface.co/ggerganov/whisper.cpp/resolve/main/ggml-tiny.en-q5_1.bin"
    answer = sync(ai_deployment(spec("localai", models=[{"uri": uri}, {"uri": uri + "?v=2"}])))
    pod = child(answer, "Deployment")["spec"]["template"]["spec"]
    init = pod["initContainers"]
    assert [c["name"] for c in init] == ["download-demo-model", "download-demo-model-1"]
    files = [{e["name"]: e["value"] for e in c["env"]}["MODEL_NAME"] for c in init]
    assert files == ["demo", "demo-model-1"]
    assert "args" not in serving(answer)


@pytest.mark.parametrize(
    ("engine", "variants", "args"),
    [
        ("vllm", "vllm", ["--model", "microsoft/phi-2"]),
        ("deepspeed-mii", "deepspeed-mii", ["--uri", "microsoft/phi-2"]),
    ],
)
def test_single_model_engines_take_the_mapped_uri(
    engine: str, variants: str, args: list[str]
) -> None:
    catalog = model_map({variants: [{"variant": "original", "uri": "microsoft/phi-2"}]})
    ref = [{"modelMapRef": {"name": "catalog", "variant": "original"}}]
    answer = sync(ai_deployment(spec(engine, models=ref)), maps=(catalog,))
    assert serving(answer)["args"] == args


def test_vllm_dtype_and_quantization_from_options_and_model() -> None:
    options = {"dtype": "float16", "quantization": "awq"}
    fields = spec("vllm", models=[{"uri": "TheBloke/x-AWQ"}])
    fields["engine"]["options"] = options
    answer = sync(ai_deployment(fields))
    args = serving(answer)["args"]
    assert args == ["--model", "TheBloke/x-AWQ", "--dtype", "float16", "--quantization", "awq"]
    model = [{"uri": "m", "dataType": "bfloat16", "quantization": "gptq"}]
    from_model = serving(sync(ai_deployment(spec("vllm", models=model))))["args"]
    assert from_model == ["--model", "m", "--dtype", "bfloat16", "--quantization", "gptq"]


@pytest.mark.parametrize("engine", ["localai", "vllm", "deepspeed-mii"])
def test_cuda_accelerator_asks_one_gpu_with_runtime_class(engine: str) -> None:
    answer = sync(ai_deployment(spec(engine, deployment=CUDA)))
    pod = child(answer, "Deployment")["spec"]["template"]["spec"]
    assert pod["runtimeClassName"] == "nvidia"
    resources = serving(answer)["resources"]
    assert resources["requests"] == {"memory": "200Gi", GPU: "1"}
    assert resources["limits"] == {GPU: "1"}


def test_generic_keeps_the_template_and_serves_the_endpoint_port() -> None:
    template = {"spec": {"containers": [{"name": "bun", "image": "oven/bun:latest"}]}}
    generic = spec(
        "generic",
        endpoint=[{"domain": "foo.127.0.0.1.nip.io", "port": 8081}],
        deployment={"template": template},
    )
    answer = sync(ai_deployment(generic))
    container = serving(answer)
    assert container["image"] == "oven/bun:latest"
    assert container["ports"] == [{"containerPort": 8081}]
    assert child(answer, "Service")["spec"]["ports"][0]["port"] == 8081
    assert answer["status"]["image"] == "oven/bun:latest"


def test_generic_gpu_count_from_requests() -> None:
    template = {"spec": {"containers": [{"name": "bun", "image": "oven/bun:latest"}]}}
    deployment = {
        "accelerator": {"interface": "CUDA"},
        "resources": {"requests": {"memory": "200Gi", GPU: 3}},
        "template": template,
    }
    answer = sync(ai_deployment(spec("generic", deployment=deployment)))
    resources = serving(answer)["resources"]
    assert resources["requests"][GPU] == resources["limits"][GPU] == "3"


def test_rocm_asks_amd_gpus_without_a_runtime_class() -> None:
    deployment = {"accelerator": {"interface": "ROCm"}, "resources": {"limits": {"amd.com/gpu": 2}}}
    answer = sync(ai_deployment(spec("vllm", deployment=deployment)))
    assert serving(answer)["resources"]["requests"] == {"amd.com/gpu": "2"}
    assert "runtimeClassName" not in child(answer, "Deployment")["spec"]["template"]["spec"]


def test_min_version_becomes_compute_capability_affinity_anded_with_the_template() -> None:
    term = {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}
    template = {
        "spec": {
            "affinity": {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}
                }
            }
        }
    }
    accelerator = {"interface": "CUDA", "minVersion": {"major": 8, "minor": 6}}
    answer = sync(
        ai_deployment(spec("vllm", deployment={"accelerator": accelerator, "template": template}))
    )
    pod = child(answer, "Deployment")["spec"]["template"]["spec"]
    terms = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"
    ]
    keys = [
        [(e["key"], e["operator"], e["values"][0]) for e in t["matchExpressions"]] for t in terms
    ]
    assert keys == [
        [("zone", "In", "a"), ("nvidia.com/gpu.compute.major", "Gt", "8")],
        [
            ("zone", "In", "a"),
            ("nvidia.com/gpu.compute.major", "In", "8"),
            ("nvidia.com/gpu.compute.minor", "Gt", "5"),
        ],
    ]
    major_only = {"accelerator": {"interface": "CUDA", "minVersion": {"major": 7}}}
    pod = child(sync(ai_deployment(spec("vllm", deployment=major_only))), "Deployment")
    required = pod["spec"]["template"]["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ]
    assert required["nodeSelectorTerms"] == [
        {
            "matchExpressions": [
                {"key": "nvidia.com/gpu.compute.major", "operator": "Gt", "values": ["6"]}
            ]
        }
    ]


def test_replicas_env_labels_and_node_selector_reach_the_pods() -> None:
    fields = {
        "deployment": {
            "replicas": 3,
            "labels": {"team": "ml"},
            "annotations": {"note": "x"},
            "nodeSelector": {"premlabs.io/gpu-class": "a100-80gb"},
        },
        "env": [{"name": "DEBUG", "value": "true"}, {"name": "TEST", "value": "abc"}],
        "service": {"labels": {"a-test-lable": "test"}, "annotations": {"svc": "1"}},
        "ingress": {"labels": {"a-test-lable": "test"}},
    }
    answer = sync(ai_deployment(spec("localai", **fields)))
    deployment = child(answer, "Deployment")
    assert deployment["spec"]["replicas"] == 3
    template = deployment["spec"]["template"]
    assert template["metadata"]["labels"]["team"] == "ml"
    assert template["metadata"]["annotations"] == {"note": "x"}
    assert template["spec"]["nodeSelector"] == {"premlabs.io/gpu-class": "a100-80gb"}
    env = serving(answer)["env"]
    assert {"name": "TEST", "value": "abc"} in env
    assert {"name": "MODELS_PATH", "value": "/models"} in env
    assert child(answer, "Service")["metadata"]["labels"]["a-test-lable"] == "test"
    assert child(answer, "Service")["metadata"]["annotations"]["svc"] == "1"
    assert child(answer, "Ingress")["metadata"]["labels"]["a-test-lable"] == "test"


def test_topology_spread_is_added_unless_the_template_opts_in() -> None:
    pod = child(sync(ai_deployment(spec("localai"))), "Deployment")["spec"]["template"]
    assert pod["metadata"]["labels"]["mlcontroller.premlabs.io/spread-topology"] == "ai-model"
    assert pod["spec"]["topologySpreadConstraints"][0]["maxSkew"] == 1
    template = {"metadata": {"labels": {"mlcontroller.premlabs.io/spread-topology": "mine"}}}
    own = sync(ai_deployment(spec("localai", deployment={"template": template})))
    assert "topologySpreadConstraints" not in child(own, "Deployment")["spec"]["template"]["spec"]


def test_ingress_follows_the_endpoints_and_goes_when_they_go() -> None:
    one = sync(ai_deployment(spec("localai", endpoint=[{"domain": "test.127.0.0.1.nip.io"}])))
    rule = child(one, "Ingress")["spec"]["rules"][0]
    assert rule["host"] == "test.127.0.0.1.nip.io"
    assert rule["http"]["paths"][0]["backend"]["service"]["port"]["number"] == 8080
    two = spec("localai", endpoint=[{"domain": "a.example.com"}, {"domain": "b.example.com"}])
    two["ingress"] = {"tls": True}
    ingress = child(sync(ai_deployment(two)), "Ingress")
    assert [r["host"] for r in ingress["spec"]["rules"]] == ["a.example.com", "b.example.com"]
    assert ingress["spec"]["tls"] == [
        {"hosts": ["a.example.com", "b.example.com"], "secretName": "demo-tls"}
    ]
    none = sync(ai_deployment(spec("localai", endpoint=[])))
    assert [c["kind"] for c in none["children"]] == ["Deployment", "Service"]


def test_engine_config_files_reach_the_pod_through_a_configmap_and_roll_it() -> None:
    config = "name: bert\nbackend: sentencetransformers\n"
    catalog = model_map({"localai": [{"variant": "base", "uri": "x", "engineConfigFile": config}]})
    ref = [{"modelMapRef": {"name": "catalog", "variant": "base"}}]
    answer = sync(ai_deployment(spec("localai", models=ref)), maps=(catalog,))
    config_map = child(answer, "ConfigMap")
    assert config_map["metadata"]["name"] == "demo-engine-config"
    assert config_map["data"] == {"catalog-base.yaml": config}
    pod = child(answer, "Deployment")["spec"]["template"]
    assert [v["name"] for v in pod["spec"]["volumes"]] == ["models", "cache", "configs"]
    edited = model_map(
        {"localai": [{"variant": "base", "uri": "x", "engineConfigFile": config + "f16: true\n"}]}
    )
    after = sync(ai_deployment(spec("localai", models=ref)), maps=(edited,))
    assert child(after, "ConfigMap")["data"]["catalog-base.yaml"].endswith("f16: true\n")
    hash_before = pod["metadata"]["annotations"][CONFIG_HASH_ANNOTATION]
    hash_after = child(after, "Deployment")["spec"]["template"]["metadata"]["annotations"][
        CONFIG_HASH_ANNOTATION
    ]
    assert hash_before != hash_after


def test_inline_fields_win_over_the_variant() -> None:
    catalog = model_map(
        {
            "vllm": [
                {"variant": "awq", "uri": "org/m-AWQ", "quantization": "awq", "dataType": "float16"}
            ]
        },
        namespace="models",
    )
    ref = [
        {
            "modelMapRef": {"name": "catalog", "namespace": "models", "variant": "awq"},
            "dataType": "bfloat16",
        }
    ]
    args = serving(sync(ai_deployment(spec("vllm", models=ref)), maps=(catalog,)))["args"]
    assert args == ["--model", "org/m-AWQ", "--dtype", "bfloat16", "--quantization", "awq"]


def test_original_manifest_with_null_sections_and_integer_cpu_applies() -> None:
    manifest = {
        "engine": {"name": "localai"},
        "endpoint": [{"domain": "foo.127.0.0.1.nip.io", "port": 8080}],
        "models": [{"uri": "tinyllama-chat"}],
        "deployment": {
            "annotations": None,
            "labels": None,
            "resources": {"requests": {"cpu": 8, "memory": "3Gi"}},
        },
        "service": None,
    }
    answer = sync(ai_deployment(manifest))
    assert serving(answer)["resources"]["requests"] == {"cpu": "8", "memory": "3Gi"}
    assert answer["status"]["status"] == "NotReady"


# Errors: a status that says why, and the children as they were.
@pytest.mark.parametrize(
    ("reason", "fields", "maps", "condition_reason", "says"),
    [
        ("unknown engine", {"engine": {"name": "ollama"}}, (), "UnknownEngine", "unknown engine"),
        (
            "vllm with two models",
            {"engine": {"name": "vllm"}, "models": [{"uri": "a"}, {"uri": "b"}]},
            (),
            "InvalidSpec",
            "exactly one model; 2 given",
        ),
        (
            "vllm without models",
            {"engine": {"name": "vllm"}, "models": []},
            (),
            "InvalidSpec",
            "exactly one model; 0 given",
        ),
        (
            "generic without a template",
            {"engine": {"name": "generic"}},
            (),
            "InvalidSpec",
            "needs deployment.template",
        ),
        (
            "a GPU without an accelerator",
            {"engine": {"name": "localai"}, "deployment": {"resources": {"requests": {GPU: 1}}}},
            (),
            "InvalidSpec",
            "accelerator is not set",
        ),
        (
            "OpenCL",
            {"engine": {"name": "localai"}, "deployment": {"accelerator": {"interface": "OpenCL"}}},
            (),
            "InvalidSpec",
            "OpenCL has no Kubernetes device resource",
        ),
        (
            "a CUDA accelerator asked for AMD GPUs",
            {
                "engine": {"name": "localai"},
                "deployment": {
                    "accelerator": {"interface": "CUDA"},
                    "resources": {"limits": {"amd.com/gpu": 1}},
                },
            },
            (),
            "InvalidSpec",
            "cannot use amd.com/gpu",
        ),
        (
            "a bad dtype option",
            {"engine": {"name": "vllm", "options": {"dtype": "float 16"}}, "models": MODEL},
            (),
            "InvalidSpec",
            "dtype must be alphanumeric",
        ),
        (
            "a triton model that is not a URL",
            {"engine": {"name": "triton"}, "models": [{"uri": "s3://bucket/m"}]},
            (),
            "InvalidSpec",
            "not such a URL",
        ),
        (
            "a spec that does not parse",
            {
                "engine": {"name": "vllm"},
                "models": MODEL,
                "deployment": {"accelerator": {"interface": "TPU"}},
            },
            (),
            "InvalidSpec",
            "spec.deployment.accelerator.interface",
        ),
        (
            "a missing map",
            {
                "engine": {"name": "vllm"},
                "models": [{"modelMapRef": {"name": "gone", "variant": "a"}}],
            },
            (),
            "ModelsUnresolved",
            "AIModelMap default/gone does not exist",
        ),
        (
            "a missing variant",
            {
                "engine": {"name": "vllm"},
                "models": [{"modelMapRef": {"name": "catalog", "variant": "gptq"}}],
            },
            (
                model_map(
                    {
                        "vllm": [{"variant": "awq", "uri": "x"}],
                        "localai": [{"variant": "gptq", "uri": "y"}],
                    }
                ),
            ),
            "ModelsUnresolved",
            "no vllm variant 'gptq' (it has: awq)",
        ),
        (
            "a generic engine with models",
            {
                "engine": {"name": "generic"},
                "models": MODEL,
                "deployment": {"template": {"spec": {"containers": [{"name": "x", "image": "y"}]}}},
            },
            (),
            "InvalidSpec",
            "takes no models",
        ),
    ],
)
def test_errors_keep_the_children_and_say_why(
    reason: str, fields: JSON, maps: tuple[JSON, ...], condition_reason: str, says: str
) -> None:
    good = sync(ai_deployment(spec("localai")))
    running = [observed(c) for c in good["children"]]
    running[0]["status"] = {"availableReplicas": 1, "readyReplicas": 1}
    answer = sync(ai_deployment(fields), maps=maps, children=tuple(running))
    assert answer["children"] == good["children"], reason
    ready = condition(answer, "Ready")
    assert (ready["status"], ready["reason"]) == ("False", condition_reason)
    assert says in ready["message"]
    assert "existing pods keep running" in ready["message"]
    assert answer["status"]["status"] == "Failed"
    assert says in answer["status"]["errMsg"]
    assert condition(answer, "Available")["status"] == "True"
    if condition_reason == "ModelsUnresolved":
        specific = condition(answer, "ModelsResolved")["reason"]
        assert specific in ("ModelMapNotFound", "VariantNotFound")
    resolved = condition(answer, "ModelsResolved")["status"]
    assert resolved == (
        "False"
        if condition_reason == "ModelsUnresolved"
        else "Unknown"
        if "parse" in reason
        else "True"
    )


def test_an_error_before_any_child_exists_creates_nothing() -> None:
    answer = sync(ai_deployment({"engine": {"name": "vllm"}, "models": []}))
    assert answer["children"] == []
    assert condition(answer, "Available")["reason"] == "Unavailable"


@pytest.mark.parametrize(
    ("replicas", "deployment_status", "status", "ready_reason", "ready"),
    [
        (1, None, "NotReady", "Deploying", "0/1"),
        (1, {"availableReplicas": 0, "readyReplicas": 0}, "NotReady", "Deploying", "0/1"),
        (2, {"availableReplicas": 1, "readyReplicas": 1}, "Ready", "Available", "1/2"),
        (0, {}, "NotReady", "ScaledToZero", "0/0"),
    ],
)
def test_status_from_the_observed_deployment(
    replicas: int, deployment_status: JSON | None, status: str, ready_reason: str, ready: str
) -> None:
    parent = ai_deployment(spec("localai", deployment={"replicas": replicas}))
    desired = sync(parent)
    children = (
        ()
        if deployment_status is None
        else (observed(child(desired, "Deployment"), deployment_status),)
    )
    answer = sync(parent, children=children)
    assert answer["status"]["status"] == status
    assert answer["status"]["ready"] == ready
    assert condition(answer, "Ready")["reason"] == ready_reason
    assert answer["status"]["image"] == "quay.io/go-skynet/local-ai:latest"
    assert answer["status"]["endpoints"] == [
        {"domain": "foo.127.0.0.1.nip.io", "url": "http://foo.127.0.0.1.nip.io/"}
    ]


def test_sync_is_idempotent_over_its_own_status() -> None:
    parent = ai_deployment(spec("localai"))
    first = sync(parent)
    parent["status"] = first["status"]
    later = sync(parent)
    assert later == first


def test_customize_names_the_referenced_maps_per_namespace() -> None:
    models = [
        {"modelMapRef": {"name": "b", "variant": "x"}},
        {"modelMapRef": {"name": "a", "variant": "x"}},
        {"modelMapRef": {"name": "c", "namespace": "models", "variant": "x"}},
        {"uri": "inline"},
    ]
    request = CustomizeRequest.model_validate(
        {"parent": ai_deployment(spec("localai", models=models), namespace="team")}
    )
    answer = aideployment.customize(request, now=NOW, settings=Settings()).to_json()
    assert answer["relatedResources"] == [
        {
            "apiVersion": "premlabs.io/v1alpha1",
            "resource": "aimodelmaps",
            "namespace": "models",
            "names": ["c"],
        },
        {
            "apiVersion": "premlabs.io/v1alpha1",
            "resource": "aimodelmaps",
            "namespace": "team",
            "names": ["a", "b"],
        },
    ]


def test_the_decorator_labels_used_maps_and_removes_stale_ones() -> None:
    models = [{"modelMapRef": {"name": "catalog", "variant": "x"}}]
    obj = ai_deployment(spec("localai", models=models))
    obj["metadata"]["labels"] = {f"{USES_MAP_PREFIX}0000000000000000": "old", "team": "ml"}
    labels = label_maps(obj)["labels"]
    assert labels[f"{USES_MAP_PREFIX}0000000000000000"] is None
    added = [k for k, v in labels.items() if v == "catalog"]
    assert len(added) == 1
    assert added[0].startswith(USES_MAP_PREFIX)
    assert "team" not in labels
