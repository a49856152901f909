"""Who may reach what through the router: which backends it forwards to, which client
keys may use which namespaces.

Backends. Without this check any tenant who can create an InferenceModel could
aim the router, and whatever trusts the router's address, at any URL (a
request forgery path). A `backendUrl` is forwarded to when it names a Service
of the InferenceModel's own namespace (`http://name[:port]`, `name.ns`,
`name.ns.svc`, `name.ns.svc.cluster.local`, the same forms the hook makes a
Service for), or a host or an IP address in a CIDR that `allowed_backends`
lists. A bare name is forwarded as `name.<namespace>.svc`, so that the DNS
search list cannot resolve it to anything but that Service. Names are not
resolved here: a CIDR admits only URLs that name an IP address.

Client keys. With `api_keys_file`, every `/v1/` request needs
`Authorization: Bearer <key>`; each key names the namespaces whose models it
may use (`*` for all). The file is a mounted Secret, read again when it changes.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml

from hooks.inference.children import backend

log = logging.getLogger("hooks.router.access")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


@dataclass(frozen=True, slots=True)
class Refused:
    """The backend may not be reached through the router, and why."""

    message: str


def parse_allowed(entries: Sequence[str]) -> tuple[frozenset[str], tuple[Network, ...]]:
    """`allowed_backends` split into host names and networks; ValueError for an entry
    that is neither."""
    hosts, networks = set(), []
    for entry in entries:
        text = entry.strip().lower()
        if not text:
            continue
        if "/" in text or _is_ip(text):
            networks.append(ipaddress.ip_network(text, strict=False))
        elif len(text) <= 253 and all(_LABEL.match(part) for part in text.split(".")):
            hosts.add(text)
        else:
            raise ValueError(f"allowed_backends: {entry!r} is neither a host name nor a CIDR")
    return frozenset(hosts), tuple(networks)


@lru_cache(maxsize=4096)
def route(url: str, namespace: str, allowed: tuple[str, ...]) -> str | Refused:
    """The URL to forward to for a model of `namespace` whose backendUrl is `url`."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return Refused(f"backendUrl {url!r} is not a URL")
    host = (parts.hostname or "").lower()
    if parts.scheme.lower() not in ("http", "https") or not host:
        return Refused(f"backendUrl {url!r} is not an http(s) URL")
    target = backend(url, namespace)
    if target is not None and target.service is not None:
        if "." not in host:
            netloc = f"{host}.{namespace}.svc" + (f":{port}" if port else "")
            return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
        return url
    hosts, networks = parse_allowed(allowed)
    if host in hosts:
        return url
    if _is_ip(host) and any(ipaddress.ip_address(host) in net for net in networks):
        return url
    return Refused(
        f"backendUrl {url!r} is not a Service of namespace {namespace} and the router's"
        " allowed_backends does not list its host"
    )


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class ClientKey:
    """One client of the router: its name (for logs) and the namespaces it may use."""

    name: str
    namespaces: frozenset[str] | None
    """None: every namespace."""

    def may_use(self, namespace: str) -> bool:
        return self.namespaces is None or namespace in self.namespaces


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def parse_keys(document: Any) -> dict[str, ClientKey]:
    """`{keys: [{name, key, namespaces: [...]}]}` as ClientKeys by the digest of their key;
    ValueError naming the entry for anything else."""
    entries = document.get("keys") if isinstance(document, Mapping) else None
    if not isinstance(entries, list):
        raise ValueError("the API keys file must hold `keys:`, a list")
    keys: dict[str, ClientKey] = {}
    for number, entry in enumerate(entries, start=1):
        if not isinstance(entry, Mapping):
            raise ValueError(f"keys[{number}] is not a mapping")
        key, name, namespaces = entry.get("key"), entry.get("name"), entry.get("namespaces")
        if not isinstance(key, str) or len(key) < 16:
            raise ValueError(f"keys[{number}]: key must be a string of at least 16 characters")
        if not isinstance(namespaces, list) or not all(isinstance(n, str) for n in namespaces):
            raise ValueError(f"keys[{number}]: namespaces must be a list of names (or ['*'])")
        scope = None if "*" in namespaces else frozenset(namespaces)
        keys[digest(key)] = ClientKey(str(name or f"key-{number}"), scope)
    return keys


class ClientKeys:
    """The keys of a file, read again when the file changes (checked once a second)."""

    def __init__(self, path: str, clock: Callable[[], float] = time.monotonic) -> None:
        self._path = Path(path)
        self._clock = clock
        self._checked = float("-inf")
        self._stamp: tuple[int, int] | None = None
        self._keys: dict[str, ClientKey] = {}
        self._load()

    def find(self, authorization: bytes | None) -> ClientKey | None:
        """The client a request's `Authorization: Bearer <key>` belongs to, if any."""
        now = self._clock()
        if now - self._checked >= 1.0:
            self._checked = now
            self._load()
        if not authorization:
            return None
        scheme, _, token = authorization.decode("latin-1").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return self._keys.get(digest(token.strip()))

    def _load(self) -> None:
        try:
            stat = os.stat(self._path)
        except OSError as error:
            if self._stamp is not None or not self._keys:
                log.error("cannot read the API keys file", extra={"error": str(error)})
            self._stamp, self._keys = None, {}
            return
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp == self._stamp:
            return
        try:
            self._keys = parse_keys(yaml.safe_load(self._path.read_text()))
        except (OSError, ValueError, yaml.YAMLError) as error:
            # Refuse everyone rather than let anyone in on a broken file.
            self._keys = {}
            log.error(
                "the API keys file is invalid; every request is refused",
                extra={"error": str(error)},
            )
        else:
            log.info("API keys loaded", extra={"keys": len(self._keys)})
        self._stamp = stamp
