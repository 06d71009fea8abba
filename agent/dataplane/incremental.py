"""The desired data-plane state carried forward by deltas, where a full pass is O(neighbors).

A host in a VPC of a million ports gets a delta for every port created anywhere in it, and a full
pass (`model.desired`, the driver's `installed()` and `plan.plan`) costs seconds there; what one
neighbor changes is one map entry. `Incremental` holds the desired state of the last pass that was
applied in full and the goal state it came from. `advance(goal, updates)` works out what the
updates change when they leave the host's own ports alone (no VPC, subnet or port in them;
neighbors, security groups and group members may change): the local part is recomputed (a host
has few ports), the neighbors' part is changed entry by entry. It answers None where it cannot
decide that cheaply and exactly (a snapshot, a gap, an address held by two neighbors), and the
caller runs a full pass.

Its result equals a full recompute; tests/dataplane/test_incremental.py checks that over random
sequences of deltas. It never reads the data plane back: it trusts that its last plan was applied
in full (the reconciler drops it after any failure), and the periodic full pass finds drift.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from alcor.v1 import goalstate_pb2

from .columns import Snapshot, Update
from .model import (
    KIND_NEIGHBOR,
    Endpoint,
    Endpoints,
    GoalState,
    State,
    local_part,
    neighbor_entry,
)
from .plan import DeleteEndpoints, SetEndpoints

Key = tuple[int, str]


class Neighbors:
    """The keys the neighbors put in the endpoints table, and the neighbors' problems."""

    def __init__(self, endpoints: Endpoints, problems: Mapping[Key, str]) -> None:
        # an address held by two neighbors (the last one wins in `desired`): its holders are not
        # tracked, so a delta touching it goes to a full pass
        self.held, self.shared = endpoints.remote_key_sets()
        self.problems = {k: v for k, v in problems.items() if k[0] == KIND_NEIGHBOR}

    def change(
        self, before: GoalState, after: GoalState, touched: Iterable[str], local: Mapping[bytes, Endpoint]
    ) -> tuple[SetEndpoints, DeleteEndpoints] | None:
        """The endpoints that neighbors `touched` add, change and remove between `before` and
        `after` (whose local endpoints are `local`), or None if that is ambiguous. Updates the
        table when it answers; after a failed plan the caller drops it."""
        own = after.host_id or None
        ids = list(dict.fromkeys(touched))
        released: set[bytes] = set()
        for pid in ids:
            old = before.neighbors.get(pid)
            entry = None if old is None else neighbor_entry(old, own, local)
            if isinstance(entry, tuple):
                if entry[0] in self.shared:
                    return None
                released.add(entry[0])
        added: dict[bytes, bytes] = {}
        problems: dict[Key, str] = {}
        for pid in ids:
            new = after.neighbors.get(pid)
            entry = None if new is None else neighbor_entry(new, own, local)
            if isinstance(entry, str):
                problems[(KIND_NEIGHBOR, pid)] = entry
            elif entry is not None:
                key, value = entry
                if key in added or (key in self.held and key not in released):
                    return None  # two neighbors at one address
                added[key] = value
        removed = [k for k in released if k not in added]
        self.held.difference_update(removed)
        self.held.update(added)
        for pid in ids:
            self.problems.pop((KIND_NEIGHBOR, pid), None)
        self.problems.update(problems)
        return SetEndpoints(b"".join(added), b"".join(added.values())), DeleteEndpoints(b"".join(removed))


@dataclass(frozen=True)
class Step:
    """What `advance` worked out: the next desired state without its remote endpoints (the
    local part, with every problem of the next state) and the change to the remote endpoints."""

    goal: GoalState
    state: State
    remote: tuple[SetEndpoints, DeleteEndpoints]


def touched_neighbors(updates: Sequence[goalstate_pb2.GoalStateUpdate]) -> list[str]:
    """The ids of the neighbors these deltas upsert or delete."""
    ids: list[str] = []
    for update in updates:
        for item in update.upserts:
            if item.WhichOneof("item") == "neighbor":
                ids.append(item.neighbor.port_id)
        ids.extend(key.id for key in update.deletes if key.kind == KIND_NEIGHBOR)
    return ids


class Incremental:
    """The last desired state applied in full, and the goal state it was derived from."""

    _OWN_PORTS = ("vpcs", "subnets", "ports")  # what the local endpoints depend on
    _RULES = ("security_groups", "group_members")

    def __init__(self, goal: GoalState, desired: State) -> None:
        self.goal = goal
        self.state = State(desired.config, desired.ports, Endpoints(desired.endpoints.local), desired.rules)
        self._port_problems = {k: v for k, v in desired.problems.items() if k[0] != KIND_NEIGHBOR}
        # the neighbors' table is built when first needed: a host may never get a delta
        self._full: tuple[Endpoints, Mapping[Key, str]] | None = (desired.endpoints, desired.problems)
        self._neighbors: Neighbors | None = None

    @property
    def neighbors(self) -> Neighbors:
        if self._neighbors is None:
            assert self._full is not None
            self._neighbors = Neighbors(*self._full)
            self._full = None
        return self._neighbors

    def advance(self, goal: GoalState, updates: Sequence[Update]) -> Step | None:
        """The step from this state to `goal`, reached from it by `updates`, or None."""
        base = self.goal
        if not updates or goal.host_id != base.host_id or goal.revision != updates[-1].revision:
            return None
        revision = base.revision
        deltas: list[goalstate_pb2.GoalStateUpdate] = []
        for update in updates:
            if isinstance(update, Snapshot) or update.full or update.base_revision != revision:
                return None
            deltas.append(update)
            revision = update.revision
        if any(getattr(goal, name) is not getattr(base, name) for name in self._OWN_PORTS):
            return None
        touched = touched_neighbors(deltas)
        if all(getattr(goal, name) is getattr(base, name) for name in self._RULES):
            state, port_problems = self.state, self._port_problems
        else:
            ports, rules, local, port_problems = local_part(goal)
            if local != self.state.endpoints.local:
                return None  # cannot happen while ports, VPCs and subnets are the same; be sure
            state = State(self.state.config, ports, Endpoints(local), rules)
        remote = self.neighbors.change(base, goal, touched, state.endpoints.local)
        if remote is None:
            return None
        return Step(goal, replace(state, problems={**port_problems, **self.neighbors.problems}), remote)

    def commit(self, step: Step) -> None:
        """`step` was applied in full: it is the state to advance from."""
        self.goal, self.state = step.goal, step.state
        self._port_problems = {k: v for k, v in step.state.problems.items() if k[0] != KIND_NEIGHBOR}
