"""A real Kubernetes control plane on loopback ports, for the e2e suite and
for trying the hooks by hand.

`LocalCluster` runs etcd, kube-apiserver, kube-controller-manager,
kube-scheduler, kwok and metrics-server as child processes in a temporary
directory, and tears them all down again: on `__exit__`, on an exception or
KeyboardInterrupt, at interpreter exit, on SIGTERM and SIGHUP (every process
this interpreter started is killed, then the signal takes its default course)
and, through each child's parent-death signal, when this process is killed
outright. Nothing here needs root, Docker or a network.

metrics-server is registered as the `v1beta1.metrics.k8s.io` APIService and
scrapes kwok's emulated kubelets, so `kubectl top`, the HPA controller and
anything reading PodMetrics see the usage set by the pods' annotations
`kwok.x-k8s.io/usage-cpu` and `kwok.x-k8s.io/usage-memory`.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import logging
import os
import secrets
import shutil
import signal
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

import httpx
import yaml
from lightkube import Client, KubeConfig, codecs
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition
from lightkube.resources.core_v1 import Node, ServiceAccount

from hooks.devcluster import components
from hooks.devcluster.binaries import ControlPlaneFiles, find_controlplane
from hooks.devcluster.nodes import DEFAULT_NODES, NodeSpec, build_node
from hooks.devcluster.pki import generate
from hooks.devcluster.process import Process, kill_all, stop_all

logger = logging.getLogger(__name__)

FIELD_MANAGER = "aihooks-devcluster"
METRICS_API = "v1beta1.metrics.k8s.io"

_SignalHandler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None


class ClusterStartError(RuntimeError):
    """A component did not start; the message names its log."""


def free_ports(count: int) -> list[int]:
    """Distinct ports the kernel considers free right now (all sockets are
    held open together so no two answers collide)."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]


def free_port() -> int:
    (port,) = free_ports(1)
    return port


def _condition_true(obj: Mapping[str, Any], kind: str) -> bool:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return any(c.get("type") == kind and c.get("status") == "True" for c in conditions)


class LocalCluster:
    """A control plane with fake nodes; use as a context manager.

    `keep_logs=True` (settable until the cluster stops) keeps `log_dir` after
    teardown so that a failing test's logs can be read; a cluster that fails
    to start always keeps them.
    """

    def __init__(
        self,
        files: ControlPlaneFiles | None = None,
        *,
        nodes: Sequence[NodeSpec] = DEFAULT_NODES,
        start_timeout: float = 60.0,
        keep_logs: bool = False,
    ) -> None:
        self._files = files
        self._nodes = tuple(nodes)
        self._start_timeout = start_timeout
        self.keep_logs = keep_logs
        self._workdir: Path | None = None
        self._log_dir: Path | None = None
        self._processes: list[Process] = []
        self._token = ""
        self._server = ""
        self._previous_handlers: dict[int, _SignalHandler] = {}
        self._client: Client | None = None

    # -- what tests use ------------------------------------------------------

    @property
    def workdir(self) -> Path:
        if self._workdir is None:
            raise RuntimeError("the cluster is not running")
        return self._workdir

    @property
    def log_dir(self) -> Path:
        """Where each component's output goes; still valid after `stop` when
        the logs were kept."""
        if self._log_dir is None:
            raise RuntimeError("the cluster was never started")
        return self._log_dir

    @property
    def kubeconfig(self) -> Path:
        return self.workdir / "kubeconfig"

    @property
    def ca_cert(self) -> Path:
        return self.workdir / "pki" / "ca.crt"

    @property
    def server(self) -> str:
        return self._server

    @property
    def token(self) -> str:
        return self._token

    @property
    def pids(self) -> list[int]:
        return [process.pid for process in self._processes]

    def http(self) -> httpx.Client:
        """An HTTP client for raw API calls, verifying the server and
        authenticated as the cluster admin."""
        return httpx.Client(
            base_url=self.server,
            verify=ssl.create_default_context(cafile=str(self.ca_cert)),
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=10.0,
        )

    def client(self) -> Client:
        """A new lightkube client bound to this cluster as its admin."""
        return Client(config=KubeConfig.from_file(self.kubeconfig), field_manager=FIELD_MANAGER)

    def create_node(
        self,
        name: str,
        labels: Mapping[str, str] | None = None,
        cpu: str = "32",
        memory: str = "64Gi",
        extra_capacity: Mapping[str, str] | None = None,
        annotations: Mapping[str, str] | None = None,
    ) -> None:
        """Create a fake Node that kwok will keep Ready."""
        self._create_node(
            NodeSpec(
                name,
                labels=labels or {},
                cpu=cpu,
                memory=memory,
                extra_capacity=extra_capacity or {},
                annotations=annotations or {},
            )
        )

    def apply_crds(self, paths: Iterable[Path], timeout: float = 60.0) -> list[str]:
        """Server-side apply every document of the given YAML files, then wait
        until each CustomResourceDefinition among them is Established.

        Other documents (such as the ValidatingAdmissionPolicy shipped with
        the Gateway API CRDs) are applied too. Returns the CRD names.
        """
        crds: list[str] = []
        for path in paths:
            for obj in codecs.load_all_yaml(path.read_text()):
                self._kube.apply(obj, force=True)
                if obj.kind == "CustomResourceDefinition" and obj.metadata is not None:
                    crds.append(str(obj.metadata.name))

        def established() -> bool:
            done = {
                crd.metadata.name
                for crd in self._kube.list(CustomResourceDefinition)
                if crd.metadata is not None and _condition_true(crd.to_dict(), "Established")
            }
            return done.issuperset(crds)

        self._wait(f"CRDs {crds} to be Established", established, timeout)
        return crds

    # -- lifecycle -----------------------------------------------------------

    def __enter__(self) -> LocalCluster:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Start every component and return when they all answer and the
        default nodes are Ready; raise ClusterStartError otherwise."""
        if self._workdir is not None:
            raise RuntimeError("the cluster is already running")
        files = self._files or find_controlplane()
        started = time.monotonic()
        self._workdir = Path(tempfile.mkdtemp(prefix="aihooks-cluster-"))
        self._log_dir = self._workdir / "logs"
        self._log_dir.mkdir()
        atexit.register(self.stop)
        self._catch_signals()
        try:
            self._launch(files)
        except Exception as error:
            self.keep_logs = True
            self.stop()
            if isinstance(error, ClusterStartError):
                raise
            raise ClusterStartError(f"{error}; logs kept in {self.log_dir}") from error
        except BaseException:
            self.stop()
            raise
        logger.info(
            "cluster at %s ready in %.1fs (logs: %s)",
            self.server,
            time.monotonic() - started,
            self.log_dir,
        )

    def stop(self) -> None:
        """Kill every process group and remove the work directory (all but
        the logs when `keep_logs`). Safe to call again, also after it was
        interrupted half-way."""
        if self._workdir is None:
            return
        if self._client is not None:
            self._client.close()
            self._client = None
        stop_all(self._processes)
        self._processes = []
        if self.keep_logs:
            for entry in self._workdir.iterdir():
                if entry != self.log_dir:
                    _remove(entry)
            logger.info("cluster stopped; logs kept in %s", self.log_dir)
        else:
            shutil.rmtree(self._workdir, ignore_errors=True)
        self._workdir = None
        atexit.unregister(self.stop)
        self._restore_signals()

    # -- internals -----------------------------------------------------------

    @property
    def _kube(self) -> Client:
        if self._client is None:
            self._client = self.client()
        return self._client

    def _launch(self, files: ControlPlaneFiles) -> None:
        workdir = self.workdir
        layout = components.Layout(
            files=files,
            pki=generate(workdir / "pki", components.SERVICE_IPS),
            ports=components.Ports(*free_ports(7)),
            etcd_dir=workdir / "etcd",
            token_file=workdir / "tokens.csv",
            kubeconfig=workdir / "kubeconfig",
            metrics_server_dir=workdir / "metrics-server",
        )
        apiserver = layout.ports.apiserver
        self._token = secrets.token_urlsafe(32)
        self._server = f"https://127.0.0.1:{apiserver}"
        layout.token_file.write_text(f"{self._token},admin,admin,system:masters\n")
        layout.token_file.chmod(0o600)
        self._write_kubeconfig(layout)

        # The API server retries etcd until it answers; starting both at once
        # saves etcd's own start-up time.
        self._spawn("etcd", components.etcd(layout))
        self._spawn("kube-apiserver", components.kube_apiserver(layout))
        with self.http() as http:
            self._wait("kube-apiserver /readyz", lambda: _ok(http, "/readyz"), self._start_timeout)
        self._spawn("kube-controller-manager", components.kube_controller_manager(layout))
        self._spawn("kube-scheduler", components.kube_scheduler(layout))
        self._spawn("kwok", components.kwok(layout))
        self._spawn("metrics-server", components.metrics_server(layout))
        self._register_metrics_api(layout.ports.metrics_server)

        for spec in self._nodes:
            self._create_node(spec)
        if any("nvidia.com/gpu" in spec.extra_capacity for spec in self._nodes):
            # What the NVIDIA GPU operator installs beside the GPU nodes it labels;
            # pods asking for runtimeClassName nvidia are refused without it.
            runtime: dict[str, Any] = {
                "apiVersion": "node.k8s.io/v1",
                "kind": "RuntimeClass",
                "metadata": {"name": "nvidia"},
                "handler": "nvidia",
            }
            self._kube.create(codecs.from_dict(runtime))
        names = {spec.name for spec in self._nodes}

        def nodes_ready() -> bool:
            ready = {
                node.metadata.name
                for node in self._kube.list(Node)
                if node.metadata is not None and _condition_true(node.to_dict(), "Ready")
            }
            return ready.issuperset(names)

        self._wait("kwok to make the nodes Ready", nodes_ready, self._start_timeout)
        # The service-account controller creating `default` shows the
        # controller manager is running; Pods cannot be admitted before it.
        self._wait(
            "kube-controller-manager to create the default ServiceAccount",
            lambda: bool(self._kube.get(ServiceAccount, "default", namespace="default")),
            self._start_timeout,
        )
        with self.http() as http:
            self._wait(
                "the metrics.k8s.io APIService to be Available",
                lambda: _condition_true(
                    http.get(f"/apis/apiregistration.k8s.io/v1/apiservices/{METRICS_API}").json(),
                    "Available",
                ),
                self._start_timeout,
            )

    def _register_metrics_api(self, port: int) -> None:
        """The APIService that makes the API server proxy metrics.k8s.io to
        metrics-server on loopback, through an ExternalName Service."""
        service = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "metrics-server", "namespace": "kube-system"},
            "spec": {
                "type": "ExternalName",
                "externalName": "127.0.0.1",
                "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
            },
        }
        api_service = {
            "apiVersion": "apiregistration.k8s.io/v1",
            "kind": "APIService",
            "metadata": {"name": METRICS_API},
            "spec": {
                "group": "metrics.k8s.io",
                "version": "v1beta1",
                "service": {"namespace": "kube-system", "name": "metrics-server", "port": port},
                # metrics-server's certificate is self-signed in its --cert-dir.
                "insecureSkipTLSVerify": True,
                "groupPriorityMinimum": 100,
                "versionPriority": 100,
            },
        }
        for obj in (service, api_service):
            self._kube.apply(codecs.from_dict(obj), force=True)

    def _spawn(self, name: str, argv: list[str]) -> None:
        self._processes.append(Process(name, argv, self.log_dir / f"{name}.log"))

    def _create_node(self, spec: NodeSpec) -> None:
        self._kube.create(codecs.from_dict(build_node(spec)))

    def _write_kubeconfig(self, layout: components.Layout) -> None:
        ca_data = base64.b64encode(layout.pki.ca_cert.read_bytes()).decode()
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "aihooks",
                    "cluster": {"server": self._server, "certificate-authority-data": ca_data},
                }
            ],
            "users": [{"name": "admin", "user": {"token": self._token}}],
            "contexts": [
                {
                    "name": "aihooks",
                    "context": {"cluster": "aihooks", "user": "admin", "namespace": "default"},
                }
            ],
            "current-context": "aihooks",
        }
        layout.kubeconfig.write_text(yaml.safe_dump(config))
        layout.kubeconfig.chmod(0o600)

    def _wait(self, what: str, probe: Callable[[], bool], timeout: float) -> None:
        """Poll `probe` until true; fail early, with its log, when a component
        exits, and with every log's tail on timeout. Exceptions from the
        probe mean "not yet"."""
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while True:
            for process in self._processes:
                code = process.exit_code()
                if code is not None:
                    raise ClusterStartError(
                        f"{process.name} exited with code {code} while waiting for {what}; "
                        f"log {process.log_path}:\n{process.tail()}"
                    )
            try:
                if probe():
                    return
            except Exception as error:
                last_error = error
            if time.monotonic() > deadline:
                tails = "\n".join(f"--- {p.log_path}\n{p.tail(10)}" for p in self._processes)
                raise ClusterStartError(
                    f"timed out after {timeout:.0f}s waiting for {what} "
                    f"(last error: {last_error!r}); logs in {self.log_dir}:\n{tails}"
                )
            time.sleep(0.1)

    def _catch_signals(self) -> None:
        """On SIGTERM or SIGHUP, kill everything and then die of the signal.

        Raising SystemExit instead would not do: pytest reports an exception
        raised inside a test as that test's failure and carries on with a
        dead cluster. Only done where Python allows it and nobody else
        handles the signal (`aihooks dev` does, and unwinds on its own)."""
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in _FATAL_SIGNALS:
            if signal.getsignal(signum) is signal.SIG_DFL:
                self._previous_handlers[signum] = signal.signal(signum, self._on_fatal_signal)

    def _on_fatal_signal(self, signum: int, frame: FrameType | None) -> None:
        logger.warning("signal %d: killing the local cluster", signum)
        # Not only the cluster's: the hooks server and Metacontroller too.
        kill_all()
        self.stop()
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    def _restore_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for signum, handler in self._previous_handlers.items():
            signal.signal(signum, handler)
        self._previous_handlers.clear()


_FATAL_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def _ok(http: httpx.Client, path: str) -> bool:
    return http.get(path).status_code == 200


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
