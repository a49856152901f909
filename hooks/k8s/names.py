"""Kubernetes names: DNS-1123 labels and stable truncation.

A child's name is derived from its parent's; when the result would exceed the
limit, it is cut and a short hash of the full name keeps it unique and stable.
"""

from __future__ import annotations

import hashlib
import re

DNS_LABEL_MAX = 63
DNS_SUBDOMAIN_MAX = 253
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_HASH_LEN = 8


def is_dns_label(value: str) -> bool:
    """True when value is a valid RFC 1123 label (Service and most child names)."""
    return len(value) <= DNS_LABEL_MAX and bool(_DNS_LABEL.match(value))


_NAME_PART = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def is_qualified_name(key: str) -> bool:
    """True when key is a valid label or annotation key (`[prefix/]name`)."""
    prefix, slash, name = key.rpartition("/")
    if slash and (len(prefix) > DNS_SUBDOMAIN_MAX or not _SUBDOMAIN.match(prefix)):
        return False
    return bool(_NAME_PART.match(name))


_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$")


def is_label_value(value: str) -> bool:
    """True when value is a valid label value (63 characters at most, may be empty)."""
    return bool(_LABEL_VALUE.match(value))


def stable_hash(value: str, length: int = _HASH_LEN) -> str:
    """A short lowercase hex digest of value, the same on every run."""
    return hashlib.sha256(value.encode()).hexdigest()[:length]


def child_name(*parts: str, max_length: int = DNS_LABEL_MAX) -> str:
    """Join parts with '-'; if too long, truncate and append a hash of the full name."""
    full = "-".join(p for p in parts if p)
    if len(full) <= max_length:
        return full
    suffix = stable_hash(full)
    head = full[: max_length - len(suffix) - 1].rstrip("-.")
    return f"{head}-{suffix}"


def service_name(*parts: str) -> str:
    """A Service name derived from parts: an RFC 1035 label (a letter first, no dots).

    A custom resource may be named `1.model`; its Service cannot. A name that is
    already valid is kept; any other is cleaned, starts with `svc-` when it must,
    and carries a hash of the full name so that `a.b` and `a-b` stay apart."""
    full = child_name(*parts)
    if _DNS_1035.match(full):
        return full
    cleaned = re.sub(r"[^a-z0-9-]+", "-", full.lower()).strip("-")
    if not cleaned[:1].isalpha():
        cleaned = f"svc-{cleaned}"
    head = cleaned[: DNS_LABEL_MAX - _HASH_LEN - 1].rstrip("-")
    return f"{head}-{stable_hash(full)}"


def label_value(value: str) -> str:
    """A label value (max 63 chars, alphanumeric at both ends) derived from value."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "-", value).strip("-._")
    if len(cleaned) <= DNS_LABEL_MAX:
        return cleaned
    suffix = stable_hash(value)
    return f"{cleaned[: DNS_LABEL_MAX - len(suffix) - 1].rstrip('-._')}-{suffix}"
