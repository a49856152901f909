"""CRD schema fragments for the kinds of fields Kubernetes itself bounds.

A tenant writes every spec field, so each string, list and map carries a maximum
(`maxLength`, `maxItems`, `maxProperties`) in line with what Kubernetes allows for
the same kind of field, and the maps that become labels, annotations or node
selectors on a child are checked as Kubernetes checks them (qualified-name keys,
label values), so that a child built from them is never refused by the API
server. Each fragment is a pydantic `json_schema_extra` (or `Field` keyword set).
"""

from __future__ import annotations

from typing import Any

NAME_MAX = 253
"""A DNS subdomain: most object names, and a name that refers to one."""
LABEL_MAX = 63
QUANTITY_MAX = 64
DURATION_MAX = 64
URL_MAX = 2048
IMAGE_MAX = 1024
TEXT_MAX = 4096
"""A free-text field that is not a document (an argument, an option value)."""
DOCUMENT_MAX = 262144
"""A configuration file carried into a ConfigMap (whose data is limited to 1 MiB)."""
LIST_MAX = 64
MAP_MAX = 64
INT32_MAX = 2**31 - 1

QUALIFIED_NAME = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)
"""A label or annotation key: an optional DNS-subdomain prefix, `/`, a 63-character name."""
LABEL_VALUE = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"
QUANTITY = (
    r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))"
    r"(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)
"""resource.Quantity's own pattern, as controller-gen writes it."""
_CEL_QUALIFIED_NAME = QUALIFIED_NAME.replace("\\", "\\\\")


def _keys_rule(what: str) -> dict[str, Any]:
    return {
        "rule": f"self.all(k, size(k) <= 316 && k.matches('{_CEL_QUALIFIED_NAME}'))",
        "message": f"{what} keys must be qualified names (an optional DNS prefix and '/', "
        "then at most 63 alphanumerics, '-', '_' or '.')",
    }


def label_map(what: str = "label") -> dict[str, Any]:
    """A map that becomes labels (or a node selector): Kubernetes' rules for both halves."""
    return {
        "maxProperties": MAP_MAX,
        "additionalProperties": {"type": "string", "maxLength": LABEL_MAX, "pattern": LABEL_VALUE},
        "x-kubernetes-validations": [_keys_rule(what)],
    }


ANNOTATION_VALUE_MAX = 3584
ANNOTATIONS: dict[str, Any] = {
    "maxProperties": MAP_MAX,
    "additionalProperties": {"type": "string", "maxLength": ANNOTATION_VALUE_MAX},
    "x-kubernetes-validations": [_keys_rule("annotation")],
}
"""A map that becomes annotations: 64 keys (316 characters at most) and values of 3.5 KiB
stay within the 256 KiB the API server allows an object's annotations, ours included."""
QUANTITIES: dict[str, Any] = {
    "maxProperties": 16,
    "additionalProperties": {
        "x-kubernetes-int-or-string": True,
        "pattern": QUANTITY,
        "maxLength": QUANTITY_MAX,
    },
}
"""A core/v1 ResourceList: resource names to quantities."""
OPTIONS: dict[str, Any] = {
    "maxProperties": 32,
    "additionalProperties": {"type": "string", "maxLength": TEXT_MAX},
}
INT32: dict[str, Any] = {"format": "int32"}
"""With `le=INT32_MAX`: a field Kubernetes holds as int32 (replicas, ports, probe seconds)."""
