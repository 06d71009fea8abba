"""Shared by the goal-state tests: an engine that follows a store, agents' goal states built
with the agent's own model, and the from-scratch recompute as dicts to compare."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from alcor.agent.dataplane.model import GoalState
from alcor.controller.goalstate import items as it
from alcor.controller.goalstate import loader, recompute
from alcor.controller.goalstate.engine import GoalStateEngine
from alcor.controller.goalstate.items import Delta, Key
from alcor.controller.state import Store
from alcor.v1 import goalstate_pb2 as gs

_ATTRS = {
    "vpcs": "vpc",
    "subnets": "subnet",
    "ports": "port",
    "neighbors": "neighbor",
    "security_groups": "security_group",
    "group_members": "group_members",
}


def as_items(goal: GoalState) -> dict[Key, gs.GoalStateItem]:
    """An agent's goal state as key -> item, to compare with a recompute."""
    out = {}
    for attr, field in _ATTRS.items():
        for msg in getattr(goal, attr).values():
            item = gs.GoalStateItem(**{field: msg})
            out[it.key_of(item)] = item
    return out


def expected(store: Store, host: str) -> dict[Key, gs.GoalStateItem]:
    with store.read() as txn:
        return recompute.host_goal_state(store.schema, txn, host)


def all_hosts(store: Store) -> set[str]:
    with store.read() as txn:
        return recompute.hosts(store.schema, txn)


def load(store: Store, **kw: Any) -> GoalStateEngine:
    with store.read() as txn:
        return loader.load_engine(store.schema, txn, GoalStateEngine(**kw))


def follow(
    store: Store, engine: GoalStateEngine, wanted: Callable[[str], bool] | None = None
) -> dict[str, Delta | None]:
    """Feed the engine every event it has not seen; the per-host deltas (None: a snapshot)."""
    with store.read() as txn:
        found = loader.new_events(store.schema, txn, engine.revision)
        assert found is not None, "the change log was compacted past the engine"
        events, revision = found
        return engine.apply(events, revision, wanted)


def snapshot(engine: GoalStateEngine, host: str) -> GoalState:
    """The host's goal state from the engine's snapshot message (the serialized-items path)."""
    message = engine.snapshot(host)
    assert message.update.full and message.update.revision == engine.revision
    return GoalState(host_id=host).apply(message.update)
