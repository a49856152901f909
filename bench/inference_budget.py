"""The cost of one InferenceModel sync as its pool grows: 10, 100 and 1,000 models.

In-process, no HTTP: each size builds one pool (A100 nodes, a quarter of the
models running with their Deployments, the rest waiting with demand, half with
explicit resources, a few dependencies) and times the sync of a waiting model,
the case that runs the whole admission plan. Two columns per size: the hook
alone on a parsed request, and with the request parsed from its JSON form as
well (what the app adds). The cost per model shows whether it grows linearly;
the target (issue 4) is 1,000 models under 50 ms.

    python bench/inference_budget.py [--repeat 15]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from hooks.contract import CompositeRequest
from hooks.inference.api import LAST_REQUEST_ANNOTATION, POOL_LABEL
from hooks.inference.children import build_deployment
from hooks.inference.controller import sync
from hooks.inference.observe import pool_id, read_model
from hooks.k8s.conditions import rfc3339
from hooks.settings import Settings

NOW = datetime(2026, 1, 15, 10, 30, tzinfo=UTC)
SELECTOR = {"inference-pool": "gpu-a100"}
SIZES = (10, 100, 1000)
RESOURCES = {"requests": {"cpu": "4", "gpu": "1"}, "limits": {"cpu": "8", "memory": "96Gi"}}
TARGET_MS = 50.0


def inference_model(number: int) -> dict[str, Any]:
    name = f"model-{number:04d}"
    dependencies = [f"model-{number - 1:04d}"] if number % 10 == 9 else []
    return {
        "apiVersion": "inference.eh-ops.io/v1alpha1",
        "kind": "InferenceModel",
        "metadata": {
            "name": name,
            "namespace": f"team-{number % 4}",
            "uid": f"uid-{number}",
            "generation": 1,
            "creationTimestamp": rfc3339(NOW - timedelta(days=1)),
            "labels": {POOL_LABEL: pool_id(SELECTOR)},
            "annotations": {LAST_REQUEST_ANNOTATION: rfc3339(NOW - timedelta(seconds=number))},
        },
        "spec": {
            "modelName": name,
            "memory": f"{8 + 8 * (number % 6)}Gi",
            "backendUrl": f"http://{name}:8000",
            "nodeSelector": SELECTOR,
            "cooldownPeriod": "1h",
            "maxReplicas": 1,
            "dependencies": dependencies,
            "containerImage": "vllm/vllm-openai:v0.3.0",
            "resources": RESOURCES if number % 2 else {},
        },
        "status": {"ready": number % 4 == 0},
    }


def deployment_of(obj: dict[str, Any]) -> dict[str, Any]:
    model = read_model(obj)
    assert model is not None
    deployment = build_deployment(
        name=model.name,
        namespace=obj["metadata"]["namespace"],
        spec=model.spec,
        pool=model.pool,
        replicas=1,
        last_request=None,
    )
    deployment["status"] = {"replicas": 1, "readyReplicas": 1}
    return deployment


def request_body(size: int) -> dict[str, Any]:
    models = [inference_model(n) for n in range(size)]
    running = [deployment_of(m) for n, m in enumerate(models) if n % 4 == 0]
    nodes = {
        f"a100-{n}": {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": f"a100-{n}", "labels": SELECTOR},
            "status": {"allocatable": {"memory": "640Gi"}},
        }
        for n in range(max(size // 20, 1))
    }

    def key(obj: dict[str, Any]) -> str:
        return f"{obj['metadata']['namespace']}/{obj['metadata']['name']}"

    parent = models[1]
    return {
        "controller": {},
        "parent": parent,
        "children": {"Deployment.apps/v1": {}},
        "related": {
            "InferenceModel.inference.eh-ops.io/v1alpha1": {key(m): m for m in models},
            "Deployment.apps/v1": {key(d): d for d in running},
            "Node.v1": nodes,
        },
        "finalizing": False,
    }


def timed(run: Callable[[], object], repeat: int) -> float:
    """Median seconds of one call, after one warm-up call."""
    run()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    settings = Settings()
    out = sys.stdout.write
    out(f"{'models':>7} {'hook ms':>9} {'µs/model':>9} {'+parse ms':>10} {'µs/model':>9}\n")
    per_model = {}
    for size in SIZES:
        body = request_body(size)
        parsed = CompositeRequest.model_validate(body)
        answer = sync(parsed, now=NOW, settings=settings).to_json()
        assert answer["children"], "the bench must exercise a real decision"

        def hook_only(parsed: CompositeRequest = parsed) -> object:
            return sync(parsed, now=NOW, settings=settings)

        def with_parse(body: dict[str, Any] = body) -> object:
            return sync(CompositeRequest.model_validate(body), now=NOW, settings=settings)

        hook = timed(hook_only, args.repeat)
        full = timed(with_parse, args.repeat)
        per_model[size] = hook / size
        out(
            f"{size:>7} {hook * 1e3:>9.2f} {hook / size * 1e6:>9.1f} "
            f"{full * 1e3:>10.2f} {full / size * 1e6:>9.1f}\n"
        )
    growth = per_model[SIZES[-1]] / per_model[SIZES[1]]
    verdict = "ok" if per_model[SIZES[-1]] * SIZES[-1] * 1e3 < TARGET_MS else "OVER TARGET"
    out(
        f"per-model cost 1000 vs 100: x{growth:.2f} (1.00 = linear); "
        f"1,000 models: {per_model[SIZES[-1]] * SIZES[-1] * 1e3:.1f} ms, target "
        f"{TARGET_MS:.0f} ms: {verdict}\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
