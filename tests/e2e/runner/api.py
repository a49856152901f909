"""A small dynamic Kubernetes client over httpx: discovery, list, create, update, delete.

The runner works on plain JSON objects of any kind, so it talks to the API
server directly rather than through typed resources.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from tests.e2e.runner.merge import JSON, selector_query


class ApiError(RuntimeError):
    def __init__(self, response: httpx.Response) -> None:
        self.status = response.status_code
        super().__init__(
            f"{response.request.method} {response.request.url.path}: "
            f"{response.status_code} {response.text[:500]}"
        )


@dataclass(frozen=True)
class Kind:
    api_version: str
    resource: str
    kind: str
    namespaced: bool

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        base = (
            f"/api/{self.api_version}"
            if "/" not in self.api_version
            else f"/apis/{self.api_version}"
        )
        if self.namespaced and namespace:
            base = f"{base}/namespaces/{namespace}"
        base = f"{base}/{self.resource}"
        return f"{base}/{name}" if name else base


class Api:
    def __init__(self, http: httpx.Client) -> None:
        self.http = http
        self._kinds: dict[tuple[str, str], Kind] = {}

    def kind(self, api_version: str, resource: str) -> Kind:
        """The kind behind `apiVersion` + `resource` (plural), from discovery."""
        key = (api_version, resource)
        if key not in self._kinds:
            path = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
            for entry in self._get(path)["resources"]:
                if "/" not in entry["name"]:
                    found = Kind(api_version, entry["name"], entry["kind"], entry["namespaced"])
                    self._kinds[(api_version, entry["name"])] = found
            if key not in self._kinds:
                raise LookupError(f"no resource {resource} in {api_version}")
        return self._kinds[key]

    def forget(self) -> None:
        """Drop discovery results (a CRD may have been installed since)."""
        self._kinds.clear()

    def list(
        self, kind: Kind, *, namespace: str | None = None, selector: dict[str, Any] | None = None
    ) -> list[JSON]:
        params = {"labelSelector": selector_query(selector)} if selector else {}
        body = self._get(kind.path(namespace), params=params)
        items: list[JSON] = body.get("items") or []
        for item in items:
            item.setdefault("apiVersion", kind.api_version)
            item.setdefault("kind", kind.kind)
        return items

    def get(self, kind: Kind, namespace: str | None, name: str) -> JSON | None:
        response = self.http.get(kind.path(namespace, name))
        if response.status_code == 404:
            return None
        return self._ok(response)

    def create(self, kind: Kind, obj: JSON) -> JSON:
        namespace = obj["metadata"].get("namespace")
        return self._ok(self.http.post(kind.path(namespace), json=obj))

    def update(self, kind: Kind, obj: JSON, *, status: bool = False) -> JSON:
        metadata = obj["metadata"]
        path = kind.path(metadata.get("namespace"), metadata["name"])
        return self._ok(self.http.put(f"{path}/status" if status else path, json=obj))

    def merge_patch(self, kind: Kind, namespace: str | None, name: str, patch: JSON) -> JSON:
        headers = {"Content-Type": "application/merge-patch+json"}
        return self._ok(self.http.patch(kind.path(namespace, name), json=patch, headers=headers))

    def delete(self, kind: Kind, namespace: str | None, name: str) -> None:
        response = self.http.request(
            "DELETE", kind.path(namespace, name), json={"propagationPolicy": "Background"}
        )
        if response.status_code != 404:
            self._ok(response)

    def _get(self, path: str, params: dict[str, str] | None = None) -> JSON:
        return self._ok(self.http.get(path, params=params))

    @staticmethod
    def _ok(response: httpx.Response) -> JSON:
        if response.status_code >= 300:
            raise ApiError(response)
        body: JSON = response.json()
        return body
