"""The one base model that maps snake_case Python names to Kubernetes camelCase JSON.

Inbound objects are parsed leniently (the API server adds fields we do not model);
attribute docstrings become the CRD's field descriptions.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel


class KubeModel(BaseModel):
    """Base of every spec and status model: camelCase on the wire, unknown fields ignored."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="ignore",
        use_attribute_docstrings=True,
        frozen=True,
    )

    def to_json(self) -> dict[str, Any]:
        """The Kubernetes JSON form: camelCase keys, unset optional fields left out."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def describe_errors(error: ValidationError, root: str = "spec", limit: int = 5) -> str:
    """A validation error in one line, each problem as `<field path>: <rule> (given <value>)`.

    Field paths are the Kubernetes JSON names (`spec.resources.requests.gpu`);
    at most `limit` problems are listed, and given values are cut short, so a
    hostile object cannot make the line long.
    """
    problems = []
    details = error.errors(include_url=False, include_context=False)
    for detail in details[:limit]:
        path = ".".join([root, *(str(part) for part in detail["loc"])])
        given = repr(detail.get("input"))
        if len(given) > 60:
            given = given[:57] + "..."
        problems.append(f"{path}: {detail['msg']} (given {given})")
    if len(details) > limit:
        problems.append(f"and {len(details) - limit} more")
    return "; ".join(problems)
