"""Which remote backend: localPolicy references, list order, missing policies."""

from __future__ import annotations

from typing import Any

import pytest

from hooks.offload.api import NamedRemoteBackend, OffloadingConfig
from hooks.offload.policy import candidates, choose, read_policy


def backend(
    name: str, country: str | None = None, continent: str | None = None, **extra: Any
) -> NamedRemoteBackend:
    fields: dict[str, Any] = {"name": name, "host": f"{name}.example.com", **extra}
    if country or continent:
        fields["location"] = {"country": country, "continent": continent}
    return NamedRemoteBackend.model_validate(fields)


US = backend("us", "us", "na")
FR = backend("fr", "fr", "eu", flavors=[{"type": "gpu", "name": "nvidia-l4"}])
NOWHERE = backend("nowhere")
LOCATION_US = read_policy({"type": "location", "locations": [{"type": "country", "name": "us"}]})
EUROPE = read_policy({"type": "location", "locations": [{"type": "continent", "name": "eu"}]})
L4 = read_policy({"type": "flavor", "flavors": [{"type": "GPU", "name": "NVIDIA-L4"}]})

CASES = [
    # (backends, local policies, policies found, chosen, reason)
    ([US, FR], [], {}, "us", None),
    ([NOWHERE, US], [], {}, "nowhere", None),
    ([US, FR], ["eu"], {"eu": EUROPE}, "fr", None),
    ([US, FR], ["us"], {"us": LOCATION_US}, "us", None),
    ([US, FR], ["l4"], {"l4": L4}, "fr", None),
    ([US, FR], ["us", "l4"], {"us": LOCATION_US, "l4": L4}, None, "NoEligibleBackend"),
    ([NOWHERE], ["us"], {"us": LOCATION_US}, None, "NoEligibleBackend"),
    ([US, FR], ["missing"], {}, None, "PolicyNotFound"),
    ([], [], {}, None, "NoEligibleBackend"),
    ([US], ["bad"], {"bad": read_policy({"type": "location"})}, None, "NoEligibleBackend"),
]


@pytest.mark.parametrize(("backends", "local", "found", "chosen", "reason"), CASES)
def test_choose(
    backends: list[NamedRemoteBackend],
    local: list[str],
    found: dict[str, Any],
    chosen: str | None,
    reason: str | None,
) -> None:
    choice = choose(backends, local, found)
    assert (choice.backend.name if choice.backend else None) == chosen
    assert choice.reason == reason
    if reason:
        assert choice.message


def test_remote_backend_is_a_one_element_list_and_the_default_comes_last() -> None:
    one = OffloadingConfig.model_validate({"remoteBackend": {"host": "a.example.com"}})
    assert [(b.name, b.host) for b in candidates(one, US)] == [("default", "a.example.com")]
    many = OffloadingConfig.model_validate({"remoteBackends": [{"name": "x", "host": "x.io"}]})
    assert [b.name for b in candidates(many, US)] == ["x"]
    neither = OffloadingConfig.model_validate({})
    assert [b.name for b in candidates(neither, US)] == ["us"]
    assert candidates(neither, None) == []
