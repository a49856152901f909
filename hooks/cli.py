"""The `aihooks` command: serve the hooks, render what they would answer, generate manifests."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from hooks import logs
from hooks.settings import Settings

REPO_ROOT = Path(__file__).resolve().parent.parent


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="aihooks", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve every controller's hooks over HTTP")
    serve.add_argument("--host", default="0.0.0.0")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--workers", type=int, default=1)
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
        help="YAML file: the parent first, then observed children and related objects",
    )
    render.add_argument("--now", type=_parse_time, default=None, help="RFC 3339; default: now")
    render.add_argument("--hook", choices=("sync", "finalize", "customize"), default="sync")
    render.set_defaults(run=_render)

    for name, what in (("crds", "crds/"), ("controllers", "metacontroller/")):
        gen = commands.add_parser(name, help=f"write {what} from the models in hooks/")
        gen.add_argument("--out", type=Path, default=REPO_ROOT / what.rstrip("/"))
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
    result: int = args.run(args)
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
        workers=args.workers,
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
    config = RouterConfig.from_env(**overrides)
    return run(config, args.log_level or Settings.from_env().log_level)


def _dev(args: argparse.Namespace) -> int:
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
    from hooks.render import render

    documents: list[dict[str, Any]] = []
    for path in args.filename:
        documents.extend(d for d in yaml.safe_load_all(path.read_text()) if d)
    now = args.now or datetime.now(UTC)
    answer = render(documents, hook=args.hook, now=now, settings=Settings.from_env())
    sys.stdout.write(yaml.safe_dump(answer, sort_keys=False))
    return 0


def _generate(args: argparse.Namespace) -> int:
    from hooks.generate import generated_files

    files = generated_files(args.what)
    stale = write_or_check(
        args.out, files, check=args.check, say=sys.stderr.write, command=args.what
    )
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
