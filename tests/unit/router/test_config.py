import subprocess
import sys

import pytest
from pydantic import ValidationError

from hooks.router.config import RouterConfig


def test_from_env_reads_router_variables_and_flags_win() -> None:
    env = {
        "AIHOOKS_ROUTER_PORT": "9000",
        "AIHOOKS_ROUTER_NAMESPACES": "team-a,team-b,",
        "AIHOOKS_ROUTER_MAX_QUEUE": "5",
        "AIHOOKS_ROUTER_OBSERVER": "false",
        "AIHOOKS_PORT": "1",
    }
    config = RouterConfig.from_env(env, max_queue=7, host=None)
    assert config.port == 9000
    assert config.namespaces == ("team-a", "team-b")
    assert config.max_queue == 7
    assert config.observer is False
    assert config.host == "0.0.0.0"


def test_invalid_settings_are_refused() -> None:
    with pytest.raises(ValidationError):
        RouterConfig.from_env({"AIHOOKS_ROUTER_DEMAND_FRACTION": "0.9"})
    with pytest.raises(ValidationError):
        RouterConfig.from_env({"AIHOOKS_ROUTER_MAX_WAIT_SECONDS": "0"})
    with pytest.raises(ValidationError):
        RouterConfig.from_env({"AIHOOKS_ROUTER_MAX_WAIT": "1"}, bogus=1)


def test_the_router_is_a_cli_subcommand() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "hooks", "router", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "--max-wait-seconds" in done.stdout


def test_the_hooks_service_does_not_load_the_router() -> None:
    code = "import sys, hooks.app, hooks.cli; print('hooks.router' in ' '.join(sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
