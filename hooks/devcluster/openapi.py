"""Field lookup in the API server's OpenAPI v3 documents, the way
`kubectl explain` does it.

Used to check that a CRD's schema is published as written (the API server
serves it from the installed CRD, so a lookup proves the whole path from the
generated YAML to what clients see).
"""

from __future__ import annotations

from typing import Any

import httpx


class FieldNotFound(LookupError):
    """The kind or a segment of the field path is not in the document."""


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """Follow `$ref` and single-element `allOf` wrappers, which the server
    uses for shared types such as ObjectMeta."""
    while True:
        if "$ref" in schema:
            name = schema["$ref"].removeprefix("#/components/schemas/")
            schema = document["components"]["schemas"][name]
        elif len(schema.get("allOf", [])) == 1 and "properties" not in schema:
            schema = schema["allOf"][0]
        else:
            return schema


def field_schema(
    http: httpx.Client, group: str, version: str, kind: str, path: str
) -> dict[str, Any]:
    """The schema of `path` (dotted, e.g. `spec.rules.backendRefs`) in `kind`;
    list fields are stepped through to their items, like kubectl explain."""
    prefix = "/openapi/v3/api" if group in ("", "core") else f"/openapi/v3/apis/{group}"
    response = http.get(f"{prefix}/{version}")
    response.raise_for_status()
    document: dict[str, Any] = response.json()
    wanted = {"group": "" if group == "core" else group, "version": version, "kind": kind}
    for schema in document.get("components", {}).get("schemas", {}).values():
        if wanted in schema.get("x-kubernetes-group-version-kind", []):
            break
    else:
        raise FieldNotFound(f"{kind} is not in {prefix}/{version}")

    walked = kind
    for segment in path.split("."):
        schema = _resolve(document, schema)
        if schema.get("type") == "array":
            schema = _resolve(document, schema.get("items", {}))
        properties = schema.get("properties", {})
        if segment not in properties:
            raise FieldNotFound(f"{walked} has no field {segment!r}")
        schema = properties[segment]
        walked = f"{walked}.{segment}"
    return _resolve(document, schema)
