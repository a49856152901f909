"""Which remote backend a ModelDeployment may use, under its `localPolicy` references.

The candidates are `remoteBackends[]`, or `remoteBackend` as a one-element list, or
the default remote backend of the install. Every localPolicy must allow a backend
for it to be eligible (location: it runs in one of the policy's countries or
continents; flavor: it offers one of the policy's flavors); the first eligible one
in list order is chosen. A localPolicy that does not exist allows nothing, since
what it would have forbidden is unknown.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from .api import (
    REASON_NO_ELIGIBLE_BACKEND,
    REASON_POLICY_NOT_FOUND,
    Flavor,
    NamedRemoteBackend,
    OffloadingConfig,
    PolicySpec,
)

DEFAULT_BACKEND_NAME = "default"


@dataclass(frozen=True, slots=True)
class PolicyView:
    """A Policy as eligibility sees it; `spec` None when it does not parse."""

    spec: PolicySpec | None

    @property
    def valid(self) -> bool:
        spec = self.spec
        if spec is None:
            return False
        return bool(spec.locations) if spec.type == "location" else bool(spec.flavors)

    def allows(self, backend: NamedRemoteBackend) -> bool:
        spec = self.spec
        if spec is None or not self.valid:
            return False
        if spec.type == "location":
            where = backend.location
            if where is None:
                return False
            places = {("country", where.country), ("continent", where.continent)}
            return any((p.type, p.name) in places for p in spec.locations)
        offered = {_flavor_key(f) for f in backend.flavors}
        return any(_flavor_key(f) in offered for f in spec.flavors)


def _flavor_key(flavor: Flavor) -> tuple[str, str]:
    return flavor.type.lower(), flavor.name.lower()


def read_policy(spec: Any) -> PolicyView:
    try:
        return PolicyView(PolicySpec.model_validate(spec or {}))
    except ValidationError:
        return PolicyView(None)


def candidates(
    config: OffloadingConfig, default: NamedRemoteBackend | None
) -> list[NamedRemoteBackend]:
    """The backends to choose from, in order."""
    if config.remote_backends:
        return list(config.remote_backends)
    if config.remote_backend is not None:
        fields = config.remote_backend.model_dump(by_alias=False)
        return [NamedRemoteBackend.model_validate({**fields, "name": DEFAULT_BACKEND_NAME})]
    return [default] if default is not None else []


@dataclass(frozen=True, slots=True)
class Choice:
    """The backend chosen, or why there is none."""

    backend: NamedRemoteBackend | None
    reason: str | None
    message: str


def choose(
    backends: Sequence[NamedRemoteBackend],
    local_policies: Sequence[str],
    found: Mapping[str, PolicyView],
) -> Choice:
    missing = [name for name in local_policies if name not in found]
    if missing:
        return Choice(
            None,
            REASON_POLICY_NOT_FOUND,
            f"localPolicy {', '.join(missing)} not found in this namespace; no remote "
            "backend is used until it exists",
        )
    if not backends:
        return Choice(
            None,
            REASON_NO_ELIGIBLE_BACKEND,
            "No remote backend: set offloadingConfig.remoteBackend(s) or the install's "
            "default remote backend",
        )
    policies = [found[name] for name in local_policies]
    for backend in backends:
        if all(policy.allows(backend) for policy in policies):
            return Choice(backend, None, "")
    names = ", ".join(b.name for b in backends)
    return Choice(
        None,
        REASON_NO_ELIGIBLE_BACKEND,
        f"No remote backend ({names}) is allowed by every localPolicy "
        f"({', '.join(local_policies)})",
    )
