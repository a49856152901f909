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


def first_problem(error: ValidationError, root: str = "spec") -> str:
    """The first validation error as a sentence naming the field (`spec.memory: ...`)."""
    first = error.errors(include_url=False)[0]
    where = ".".join(str(part) for part in (root, *first["loc"]))
    return f"{where}: {first['msg']}"
