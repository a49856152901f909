"""What the hooks answer for objects read from files: `aihooks render` without a cluster.

Every object of a kind the project defines is a parent (or decorated object),
rendered in turn; when there is none, the first object any controller watches
is (a Node for the node labeler). For each parent, objects of a child kind of
its controller are observed children and everything else is related. The
request is built as Metacontroller v2 would.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from hooks.contract import CompositeRequest, CustomizeRequest, DecoratorRequest, ObjectMap
from hooks.k8s.objects import JSON, name_of, namespace_of
from hooks.registry import Controller, call_hook
from hooks.settings import Settings


class RenderError(ValueError):
    """The files do not hold an object any controller watches."""


def find_controller(
    documents: Sequence[JSON], controllers: Sequence[Controller]
) -> tuple[Controller, JSON]:
    for document in documents:
        controller = controller_of(document, controllers)
        if controller is not None:
            return controller, document
    kinds = sorted({f"{d.get('kind')} ({d.get('apiVersion')})" for d in documents})
    raise RenderError(f"no controller watches any of: {', '.join(kinds) or 'nothing'}")


def controller_of(document: JSON, controllers: Sequence[Controller]) -> Controller | None:
    """The first controller that watches the document's kind (composite before decorator)."""
    key = _key(document)
    return next((c for c in controllers if c.parent.key == key), None)


def find_parents(
    documents: Sequence[JSON],
    controllers: Sequence[Controller],
    *,
    own_kinds: frozenset[str],
) -> list[JSON]:
    """The objects to render: those whose kind key is in `own_kinds` (the project's custom
    resources), in file order; without any, the first object a controller watches."""
    watched = [d for d in documents if controller_of(d, controllers) is not None]
    own = [d for d in watched if _key(d) in own_kinds]
    if own:
        return own
    return watched[:1] if watched else [find_controller(documents, controllers)[1]]


def object_map(objects: Sequence[JSON], parent_namespace: str) -> ObjectMap:
    """Objects keyed as v2 does: kind key, then `namespace/name` or `name`."""
    result: ObjectMap = {}
    for obj in objects:
        key = f"{obj.get('kind')}.{obj.get('apiVersion')}"
        namespace = namespace_of(obj) or parent_namespace
        inner = f"{namespace}/{name_of(obj)}" if namespace else name_of(obj)
        result.setdefault(key, {})[inner] = obj
    return result


def render(
    documents: Sequence[JSON],
    *,
    hook: str,
    now: datetime,
    settings: Settings,
    controllers: Sequence[Controller] | None = None,
    parent: JSON | None = None,
) -> dict[str, Any]:
    """The answer of `hook` for `parent` (default: the first watched object) among `documents`."""
    if controllers is None:
        from hooks.systems import CONTROLLERS

        controllers = CONTROLLERS
    if parent is None:
        controller, parent = find_controller(documents, controllers)
    else:
        found = controller_of(parent, controllers)
        if found is None:
            raise RenderError(f"no controller watches {parent.get('kind')}")
        controller = found
    hooks = controller.hooks()
    if hook not in hooks:
        raise RenderError(f"controller {controller.name} has no {hook} hook")
    others = [d for d in documents if d is not parent]
    child_keys = {child.key for child in controller.children}
    namespace = namespace_of(parent)
    children = object_map([d for d in others if _key(d) in child_keys], namespace)
    for key in child_keys:
        children.setdefault(key, {})
    related = object_map([d for d in others if _key(d) not in child_keys], namespace)
    request: CompositeRequest | DecoratorRequest | CustomizeRequest
    if hook == "customize":
        request = CustomizeRequest.model_validate({"parent": parent})
    elif controller.kind == "CompositeController":
        request = CompositeRequest(
            parent=parent, children=children, related=related, finalizing=hook == "finalize"
        )
    else:
        request = DecoratorRequest.model_validate(
            {
                "object": parent,
                "attachments": children,
                "related": related,
                "finalizing": hook == "finalize",
            }
        )
    return call_hook(hooks[hook], request, now=now, settings=settings).to_json()


def _key(obj: JSON) -> str:
    return f"{obj.get('kind')}.{obj.get('apiVersion')}"
