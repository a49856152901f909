"""The `aihooks` command: serve the hooks, render what they would answer, generate manifests.

A command that cannot do its work says why in one line on stderr, naming the
file and the problem, and exits with status 2; no traceback reaches the user.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import yaml
from pydantic import ValidationError

from hooks import logs
from hooks.crdgen import CustomResource
from hooks.k8s.model import describe_errors
from hooks.k8s.objects import name_of, ref_of
from hooks.settings import Settings

REPO_ROOT = Path(__file__).resolve().parent.parent
USAGE_ERROR = 2


class CommandError(Exception):
    """What stops a command, said in one line (the file, then the problem)."""


def checkout() -> Path | None:
    """The project's checkout this package runs from, or None when it is installed from a
    wheel (then REPO_ROOT is site-packages, which has no pyproject.toml)."""
    return REPO_ROOT if (REPO_ROOT / "pyproject.toml").is_file() else None


class _Parser(argparse.ArgumentParser):
    """argparse, with its usage errors in one line like every other error of the command."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: {message} (see {self.prog} --help)\n")
        sys.exit(USAGE_ERROR)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _Parser(prog="aihooks", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    # One process, one worker: a second uvicorn worker would keep a Prometheus registry
    # of its own and /metrics would answer for one of them. Scale with replicas.
    serve = commands.add_parser("serve", help="serve every controller's hooks over HTTP")
    serve.add_argument("--host", default="0.0.0.0")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--log-level", default=None, help="default: AIHOOKS_LOG_LEVEL or INFO")
    serve.set_defaults(run=_serve)

    render = commands.add_parser(
        "render", help="print what the hooks answer for a parent, without a cluster"
    )
    render.add_argument(
        "-f",
        "--filename",
        action="append",
        required=True,
        type=Path,
        help="YAML file(s) with the parents and their observed children and related objects;"
        " every parent is rendered (or the ones --kind and --name pick)",
    )
    render.add_argument("--kind", default=None, help="render only parents of this kind")
    render.add_argument("--name", default=None, help="render only parents of this name")
    render.add_argument("--now", type=_parse_time, default=None, help="RFC 3339; default: now")
    render.add_argument("--hook", choices=("sync", "finalize", "customize"), default="sync")
    render.set_defaults(run=_render)

    for name, what in (("crds", "crds/"), ("controllers", "metacontroller/")):
        gen = commands.add_parser(name, help=f"write {what} from the models in hooks/")
        gen.add_argument(
            "--out",
            type=Path,
            default=None,
            help=f"default: {what} of the checkout (required when installed from a wheel)",
        )
        gen.add_argument("--check", action="store_true", help="fail if the files are stale")
        gen.set_defaults(run=_generate, what=name)

    router = commands.add_parser(
        "router",
        help="serve the OpenAI-compatible request router for InferenceModels (docs/router.md)",
    )
    router.add_argument("--host", default=None, help="default: AIHOOKS_ROUTER_HOST or 0.0.0.0")
    router.add_argument("--port", type=int, default=None, help="default: 8000")
    router.add_argument(
        "--namespace",
        dest="namespaces",
        action="append",
        default=None,
        help="serve only this namespace's models (repeat; default: every namespace)",
    )
    router.add_argument("--max-queue", type=int, default=None)
    router.add_argument("--max-wait-seconds", type=float, default=None)
    router.add_argument("--metrics-url", default=None, help="read metrics.k8s.io from this URL")
    router.add_argument("--no-observer", dest="observer", action="store_const", const=False)
    router.add_argument("--log-level", default=None, help="default: AIHOOKS_LOG_LEVEL or INFO")
    router.set_defaults(run=_router)

    dev = commands.add_parser(
        "dev", help="run the project on a local control plane until interrupted"
    )
    dev.set_defaults(run=_dev)

    args = parser.parse_args(argv)
    try:
        result: int = args.run(args)
    except CommandError as error:
        sys.stderr.write(f"aihooks {args.command}: {error}\n")
        return USAGE_ERROR
    return result


def _parse_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = Settings.from_env()
    level = args.log_level or settings.log_level
    logs.configure(level)
    uvicorn.run(
        "hooks.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        log_config=None,
        log_level=level.lower(),
        access_log=False,
    )
    return 0


def _router(args: argparse.Namespace) -> int:
    from hooks.router.config import RouterConfig
    from hooks.router.main import run

    flags = ("host", "port", "namespaces", "max_queue", "max_wait_seconds", "metrics_url")
    overrides = {name: getattr(args, name) for name in (*flags, "observer")}
    if overrides["namespaces"] is not None:
        overrides["namespaces"] = tuple(overrides["namespaces"])
    try:
        config = RouterConfig.from_env(**overrides)
    except ValidationError as error:
        raise CommandError(
            f"invalid setting (flags or AIHOOKS_ROUTER_*): {describe_errors(error, 'router')}"
        ) from None
    return run(config, args.log_level or Settings.from_env().log_level)


def _dev(args: argparse.Namespace) -> int:
    if checkout() is None:
        raise CommandError(
            "needs a checkout of the project (the local control plane and its test runner are"
            " not in the wheel): git clone the repository and run `make dev` there"
        )
    from hooks.devcluster import BinariesError, ClusterStartError
    from hooks.devcluster.dev import DevError, run
    from hooks.devcluster.stack import StackError

    logs.configure(Settings.from_env().log_level)
    try:
        return run()
    except (BinariesError, ClusterStartError, DevError, StackError) as error:
        sys.stderr.write(f"aihooks dev: {error}\n")
        return 1


def _render(args: argparse.Namespace) -> int:
    from hooks.render import RenderError, find_parents, render
    from hooks.systems import CONTROLLERS, CUSTOM_RESOURCES

    documents: list[dict[str, Any]] = []
    origin: dict[int, Path] = {}
    for path in args.filename:
        for document in load_objects(path):
            origin[id(document)] = path
            documents.append(document)
    files = ", ".join(str(p) for p in args.filename)
    own = frozenset(f"{r.kind}.{r.group}/{r.version}" for r in CUSTOM_RESOURCES)
    try:
        parents = find_parents(documents, CONTROLLERS, own_kinds=own)
    except RenderError as error:
        raise CommandError(f"{files}: {error}") from None
    if args.kind is not None or args.name is not None:
        parents = [
            d
            for d in documents
            if (args.kind is None or d.get("kind") == args.kind)
            and (args.name is None or name_of(d) == args.name)
        ]
        if not parents:
            wanted = " ".join(filter(None, (args.kind, args.name)))
            raise CommandError(f"{files}: no object {wanted} in the files")
    now = args.now or datetime.now(UTC)
    settings = Settings.from_env()
    out = []
    for parent in parents:
        where = f"{origin[id(parent)]}: {ref_of(parent)}"
        check_spec(parent, CUSTOM_RESOURCES, where)
        try:
            answer = render(documents, hook=args.hook, now=now, settings=settings, parent=parent)
        except RenderError as error:
            raise CommandError(f"{where}: {error}") from None
        except Exception as error:
            # A hook that raises is answered with HTTP 500 in a cluster; here, one line.
            message = f"{type(error).__name__}: {error}".splitlines()[0]
            raise CommandError(f"{where}: the {args.hook} hook failed: {message}") from None
        out.append(f"# {ref_of(parent)}: {args.hook}\n" + yaml.safe_dump(answer, sort_keys=False))
    sys.stdout.write("---\n".join(out))
    return 0


def load_objects(path: Path) -> list[dict[str, Any]]:
    """The Kubernetes objects of a YAML file, or a CommandError naming the file and why."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise CommandError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise CommandError(f"{path}: is a directory, not a YAML file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise CommandError(f"{path}: cannot be read: {error}") from None
    try:
        documents = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        raise CommandError(f"{path}: not valid YAML: {problem}{at}") from None
    if not documents:
        raise CommandError(f"{path}: holds no objects")
    for number, document in enumerate(documents, start=1):
        if not isinstance(document, dict) or not document.get("kind"):
            raise CommandError(
                f"{path}: document {number} is not a Kubernetes object (a mapping with a kind)"
            )
    return documents


def check_spec(parent: dict[str, Any], resources: Sequence[CustomResource], where: str) -> None:
    """A parent of the project's own kinds must have a spec its CRD would accept."""
    for resource in resources:
        if (parent.get("kind"), parent.get("apiVersion")) != (
            resource.kind,
            f"{resource.group}/{resource.version}",
        ):
            continue
        try:
            resource.spec.model_validate(parent.get("spec") or {})
        except ValidationError as error:
            raise CommandError(f"{where}: invalid spec: {describe_errors(error)}") from None


def _generate(args: argparse.Namespace) -> int:
    from hooks.generate import generated_files

    out = args.out
    if out is None:
        root = checkout()
        if root is None:
            raise CommandError(
                "not run from a checkout of the project: give the output directory with --out"
            )
        out = root / ("crds" if args.what == "crds" else "metacontroller")
    files = generated_files(args.what)
    stale = write_or_check(out, files, check=args.check, say=sys.stderr.write, command=args.what)
    return 1 if stale else 0


def write_or_check(
    out: Path,
    files: dict[str, str],
    *,
    check: bool,
    say: Callable[[str], object],
    command: str,
) -> list[str]:
    """Write files into out (removing generated files no longer wanted), or list stale ones."""
    stale = sorted(
        name
        for name, text in files.items()
        if not (out / name).exists() or (out / name).read_text() != text
    )
    extra = (
        sorted(p.name for p in out.glob("*.yaml") if p.name not in files) if out.exists() else []
    )
    if check:
        for name in stale + extra:
            say(f"stale: {out / name} (run `aihooks {command}` to regenerate)\n")
        return stale + extra
    out.mkdir(parents=True, exist_ok=True)
    for name in extra:
        (out / name).unlink()
    for name in stale:
        (out / name).write_text(files[name])
    return []
