import asyncio
import signal

from hooks.router.app import create_app
from hooks.router.catalog import Catalog
from hooks.router.config import RouterConfig
from hooks.router.main import build, server
from hooks.router.proxy import Upstream, new_pool
from hooks.router.state import ModelView


def test_build_wires_feeds_demand_and_observer() -> None:
    client = object()
    every = build(RouterConfig(), client)
    # InferenceModels (no Deployments), demand, refused-backend reporter, observer
    assert len(every._background) == 1 + 1 + 1 + 1
    two = build(RouterConfig(namespaces=("a", "b"), observer=False), client)
    assert len(two._background) == 2 + 1 + 1
    with_url = build(RouterConfig(metrics_url="http://127.0.0.1:9"), client)
    assert len(with_url._background) == 4


def test_server_takes_the_peer_address_as_the_client() -> None:
    config = RouterConfig(host="127.0.0.1", port=0)
    uvicorn_server = server(build(config, object()), config)
    assert uvicorn_server.config.proxy_headers is False
    assert uvicorn_server.config.lifespan == "on"


def test_stopping_closes_the_metrics_client_it_made_but_not_a_given_client() -> None:
    async def scenario() -> None:
        router = build(RouterConfig(metrics_url="http://127.0.0.1:9"), object())
        assert len(router._closers) == 1
        await router.stop()
        source = router._closers[0].__self__  # type: ignore[attr-defined]
        assert source._client.is_closed

    asyncio.run(scenario())


class NoDemand:
    def record(self, view: ModelView) -> None:
        pass


def test_a_signal_to_exit_drains_the_held_requests() -> None:
    async def scenario() -> None:
        config = RouterConfig(host="127.0.0.1", port=0, observer=False)
        router = create_app(
            config=config,
            catalog=Catalog(),
            demand=NoDemand(),
            upstream=Upstream(new_pool(config), config),
        )
        await router.start()
        try:
            assert not router.draining
            server(router, config).handle_exit(signal.SIGTERM, None)
            await asyncio.sleep(0)
            assert router.draining
        finally:
            await router.stop()

    asyncio.run(scenario())
