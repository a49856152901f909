"""The project's Metacontroller test double: drives the controller objects in
`metacontroller/` against a real API server when no Metacontroller binary is given.

It follows `../shared/reference/metacontroller.md` (Metacontroller v4.17.2, hook
version v2) for every feature the project uses. It is a test tool: it is never
shipped, and it favours plain, observable behaviour over speed (it polls the
API server and syncs a parent whenever anything it depends on changed).
"""

from tests.e2e.runner.loop import Runner

__all__ = ["Runner"]
