"""Reconciliation at scale with real Metacontroller: N InferenceModels in one pool, N AIDeployments.

For each kind and each N, a fresh local cluster (`hooks/devcluster`: etcd, kube-apiserver,
controller manager, scheduler, kwok nodes) runs `aihooks serve` and Metacontroller with the
committed `metacontroller/` objects. The bench creates N objects in one namespace at once and
reports, side by side:

- ready s: from the first create until every object's `Ready` condition is True;
- sync/model: sync calls the hooks answered (HTTP 200) until then, divided by N, for the
  kind's CompositeController (and its DecoratorController, for InferenceModels the pool
  labeller; for AIDeployments the model-map decorator);
- ms per sync: the mean time the hooks server spent in one composite sync call (its own
  histogram, without HTTP and Metacontroller), which grows with the related objects a
  request carries;
- idle calls: every hook call in the `--idle` seconds after that (0: no hot loop);
- until quiet: when calls go on, the bench keeps counting, `--idle` seconds at a time, until
  a whole window has none, and reports the calls after Ready and when they stopped. About N
  calls that stop are Metacontroller's queue draining (the last status writes make every
  related parent resync once); calls that never stop would be a hot loop.

A size that is not Ready within `--timeout` is reported with how many were, and the calls
so far. Metacontroller comes from `--metacontroller` or `METACONTROLLER_BIN`; without one
the project's runner (tests/e2e/runner) drives the hooks and the table says so.

    python bench/reconcile.py [--sizes 10 100 300] [--kinds inferencemodel aideployment]
                              [--idle 30] [--timeout 900]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from lightkube import Client, codecs
from lightkube.generic_resource import create_namespaced_resource
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace

from hooks.devcluster import LocalCluster, NodeSpec
from hooks.devcluster.binaries import REPO_ROOT, find_controlplane
from hooks.devcluster.stack import controller_objects, crd_files, serve_hooks, start_metacontroller

NAMESPACE = "bench"
POOL = {"inference-pool": "bench"}
# Room for 300 pods and their requests on two nodes (kwok runs no container).
NODES = tuple(
    NodeSpec(f"kwok-bench-{i}", labels=POOL, cpu="256", memory="1Ti", pods="400") for i in range(2)
)
InferenceModel = create_namespaced_resource(
    "inference.eh-ops.io", "v1alpha1", "InferenceModel", "inferencemodels"
)
AIDeployment = create_namespaced_resource(
    "premlabs.io", "v1alpha1", "AIDeployment", "aideployments"
)
# Registers the kind with lightkube's codecs.
create_namespaced_resource("premlabs.io", "v1alpha1", "AIModelMap", "aimodelmaps")


def inference_model(number: int) -> Any:
    name = f"model-{number:03d}"
    return codecs.from_dict(
        {
            "apiVersion": "inference.eh-ops.io/v1alpha1",
            "kind": "InferenceModel",
            "metadata": {"name": name, "namespace": NAMESPACE},
            "spec": {
                "modelName": name,
                "memory": "1Gi",
                "backendUrl": f"http://{name}:8000",
                "nodeSelector": POOL,
                "cooldownPeriod": "1h",
                "containerImage": "vllm/vllm-openai:v0.3.0",
                "resources": {"requests": {"cpu": "100m", "memory": "1Gi"}},
            },
        }
    )


def ai_deployment(number: int) -> Any:
    return codecs.from_dict(
        {
            "apiVersion": "premlabs.io/v1alpha1",
            "kind": "AIDeployment",
            "metadata": {"name": f"app-{number:03d}", "namespace": NAMESPACE},
            "spec": {
                "engine": {"name": "localai"},
                "endpoint": [{"domain": f"app-{number:03d}.127.0.0.1.nip.io"}],
                "models": [{"modelMapRef": {"name": "shared-map", "variant": "base"}}],
                "deployment": {
                    "nodeSelector": POOL,
                    "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}},
                },
            },
        }
    )


def model_map() -> Any:
    return codecs.from_dict(
        {
            "apiVersion": "premlabs.io/v1alpha1",
            "kind": "AIModelMap",
            "metadata": {"name": "shared-map", "namespace": NAMESPACE},
            "spec": {"localai": [{"variant": "base", "uri": "phi-2"}]},
        }
    )


@dataclass(frozen=True)
class Kind:
    name: str
    resource: Any
    build: Callable[[int], Any]
    controllers: tuple[str, ...]
    """Controllers whose sync calls are counted, the CompositeController first."""
    setup: Callable[[Client], None]


def _no_setup(kube: Client) -> None:
    return None


def _create_map(kube: Client) -> None:
    kube.create(model_map())


KINDS = {
    "inferencemodel": Kind(
        "InferenceModel",
        InferenceModel,
        inference_model,
        ("inferencemodel", "inferencemodel-pool"),
        _no_setup,
    ),
    "aideployment": Kind(
        "AIDeployment",
        AIDeployment,
        ai_deployment,
        ("aideployment", "aideployment-maps"),
        _create_map,
    ),
}


@dataclass
class Result:
    kind: str
    size: int
    ready: int
    seconds: float
    syncs: dict[str, float]
    sync_ms: float
    """Mean time the hook took per composite sync call (in the server, without HTTP)."""
    idle_calls: float
    idle_by_hook: dict[str, float]
    calls_until_quiet: float
    quiet_after: float | None
    """Seconds after Ready at which a whole idle window with no call began; None if none did
    within `--timeout`."""


def _series(hooks_url: str, name: str) -> Iterator[tuple[dict[str, str], float]]:
    for line in httpx.get(f"{hooks_url}/metrics", timeout=10).text.splitlines():
        if not line.startswith(name + "{"):
            continue
        series, _, value = line.rpartition(" ")
        pairs = (pair.split("=", 1) for pair in series.partition("{")[2].rstrip("}").split(","))
        yield {k: v.strip('"') for k, v in pairs}, float(value)


def hook_calls(hooks_url: str) -> dict[tuple[str, str], float]:
    """Answered (HTTP 200) hook calls so far, by (controller, hook)."""
    calls: dict[tuple[str, str], float] = {}
    for labels, value in _series(hooks_url, "aihooks_hook_requests_total"):
        if labels.get("code") == "200":
            key = (labels["controller"], labels["hook"])
            calls[key] = calls.get(key, 0.0) + value
    return calls


def sync_seconds(hooks_url: str, controller: str) -> float:
    """Time the hooks spent answering `controller`'s sync calls so far."""
    return sum(
        value
        for labels, value in _series(hooks_url, "aihooks_hook_duration_seconds_sum")
        if labels.get("controller") == controller and labels.get("hook") == "sync"
    )


def count_ready(kube: Client, resource: Any) -> int:
    ready = 0
    for obj in kube.list(resource, namespace=NAMESPACE):
        conditions = (obj.get("status") or {}).get("conditions") or []
        ready += any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
    return ready


@contextmanager
def stack(metacontroller: Path | None) -> Iterator[tuple[LocalCluster, str]]:
    files = find_controlplane()
    with LocalCluster(files, nodes=NODES) as cluster:
        hooks, url = serve_hooks(cluster.log_dir)
        driver = None
        runner = None
        try:
            cluster.apply_crds(crd_files(files))
            objects = controller_objects(url)
            if metacontroller is not None:
                driver = start_metacontroller(metacontroller, cluster, objects)
            else:
                sys.path.insert(0, str(REPO_ROOT))
                from tests.e2e.runner import Runner

                runner = Runner(cluster.http(), objects)
                runner.start()
            yield cluster, url
        finally:
            if runner is not None:
                runner.stop()
            for process in (driver, hooks):
                if process is not None:
                    process.terminate()
                    process.kill()


def measure(kind: Kind, size: int, args: argparse.Namespace) -> Result:
    with stack(args.metacontroller) as (cluster, url):
        kube = cluster.client()
        kube.create(Namespace(metadata=ObjectMeta(name=NAMESPACE)))
        kind.setup(kube)
        before = hook_calls(url)
        spent_before = sync_seconds(url, kind.controllers[0])
        started = time.monotonic()
        for number in range(size):
            kube.create(kind.build(number))
        ready = 0
        while time.monotonic() - started < args.timeout:
            ready = count_ready(kube, kind.resource)
            if ready == size:
                break
            time.sleep(1.0)
        seconds = time.monotonic() - started
        settled = hook_calls(url)
        spent = sync_seconds(url, kind.controllers[0]) - spent_before
        time.sleep(args.idle)
        after = hook_calls(url)
        previous, latest = settled, after
        quiet_after: float | None = None
        while time.monotonic() - started < 2 * args.timeout:
            if sum(latest.values()) == sum(previous.values()):
                # The window that just ended, with no call, began here.
                quiet_after = time.monotonic() - started - seconds - args.idle
                break
            time.sleep(args.idle)
            previous, latest = latest, hook_calls(url)
        kube.close()
    syncs = {
        controller: (settled.get((controller, "sync"), 0) - before.get((controller, "sync"), 0))
        / size
        for controller in kind.controllers
    }
    idle = sum(after.values()) - sum(settled.values())
    by_hook = {
        "/".join(key): after[key] - settled.get(key, 0)
        for key in sorted(after)
        if after[key] > settled.get(key, 0)
    }
    composite_syncs = syncs[kind.controllers[0]] * size
    ms = 1000 * spent / composite_syncs if composite_syncs else 0.0
    until_quiet = sum(latest.values()) - sum(settled.values())
    return Result(
        kind.name, size, ready, seconds, syncs, ms, idle, by_hook, until_quiet, quiet_after
    )


def quiet(result: Result) -> str:
    if result.quiet_after is None:
        return f"{result.calls_until_quiet:.0f}, still going"
    if result.calls_until_quiet == 0:
        return "0"
    return f"{result.calls_until_quiet:.0f}, stopped within {result.quiet_after:.0f} s"


def table(results: list[Result], driver: str, idle: float) -> str:
    lines = [
        f"Driver: {driver}. Idle window: {idle:.0f} s.",
        "",
        "| kind | N | Ready | time to all Ready (s) | sync calls per model "
        "(composite / decorator) | ms per composite sync in the hook "
        f"| hook calls in the {idle:.0f} s after | calls after Ready until quiet |",
        "|---|---:|---:|---:|---|---:|---:|---|",
    ]
    for r in results:
        composite, decorator = r.syncs.values()
        lines.append(
            f"| {r.kind} | {r.size} | {r.ready}/{r.size} | {r.seconds:.1f} | "
            f"{composite:.1f} / {decorator:.1f} | {r.sync_ms:.0f} | "
            f"{r.idle_calls:.0f} | {quiet(r)} |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 300])
    parser.add_argument("--kinds", nargs="+", choices=sorted(KINDS), default=sorted(KINDS)[::-1])
    parser.add_argument("--idle", type=float, default=30.0)
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument(
        "--metacontroller",
        type=Path,
        default=Path(os.environ["METACONTROLLER_BIN"])
        if os.environ.get("METACONTROLLER_BIN")
        else None,
    )
    args = parser.parse_args()
    driver = (
        f"Metacontroller ({args.metacontroller})"
        if args.metacontroller
        else "the project's runner (no --metacontroller or METACONTROLLER_BIN)"
    )
    results = []
    for name in args.kinds:
        for size in args.sizes:
            result = measure(KINDS[name], size, args)
            sys.stderr.write(f"{result}\n")
            results.append(result)
    sys.stdout.write(table(results, driver, args.idle))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
