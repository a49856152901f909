from hooks.router.config import RouterConfig
from hooks.router.main import build, server


def test_build_wires_feeds_demand_and_observer() -> None:
    client = object()
    every = build(RouterConfig(), client)
    assert len(every._background) == 2 + 1 + 1  # models, deployments, demand, observer
    two = build(RouterConfig(namespaces=("a", "b"), observer=False), client)
    assert len(two._background) == 4 + 1
    with_url = build(RouterConfig(metrics_url="http://127.0.0.1:9"), client)
    assert len(with_url._background) == 4


def test_server_takes_the_peer_address_as_the_client() -> None:
    config = RouterConfig(host="127.0.0.1", port=0)
    uvicorn_server = server(build(config, object()), config)
    assert uvicorn_server.config.proxy_headers is False
    assert uvicorn_server.config.lifespan == "on"
