"""Reading the store for the engine: its starting records, and the events it has not seen.

The only place the goal-state package touches LMDB for the engine (the engine itself is pure).
The readers take an open read transaction so that what they return is one consistent
snapshot of the store. Loading is split in two so that a caller may run it off its event loop
and still close the store safely: `read_records` (LMDB, stoppable between records) and `build`
(no LMDB).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from alcor.controller.goalstate.engine import GoalStateEngine
from alcor.controller.schema import Schema, to_int
from alcor.controller.state import changelog
from alcor.v1 import resources_pb2 as res
from alcor.v1 import watch_pb2 as watch


class LoadCancelled(Exception):
    """`read_records` stopped because its caller asked it to."""


@dataclass(frozen=True)
class Records:
    """Every record an engine starts from, as of one revision of the store."""

    revision: int
    vpcs: list[res.Vpc]
    subnets: list[res.Subnet]
    groups: list[res.SecurityGroup]
    nodes: list[res.Node]
    ports: list[tuple[res.Port, int]]  # with each port's configuration revision


def _never() -> bool:
    return False


def read_records(s: Schema, txn: Any, cancelled: Callable[[], bool] = _never) -> Records:
    """The store's records at its current revision; raises LoadCancelled once `cancelled()`
    is true (it is asked before each record)."""
    return Records(
        revision=changelog.current_revision(s, txn),
        vpcs=_all(txn, s.vpcs, res.Vpc, cancelled),
        subnets=_all(txn, s.subnets, res.Subnet, cancelled),
        groups=_all(txn, s.security_groups, res.SecurityGroup, cancelled),
        nodes=_all(txn, s.nodes, res.Node, cancelled),
        ports=_ports(s, txn, cancelled),
    )


def build(records: Records, engine: GoalStateEngine | None = None) -> GoalStateEngine:
    """A new engine (or `engine`, which must be new) holding `records`."""
    engine = engine or GoalStateEngine()
    engine.load(
        records.revision,
        vpcs=records.vpcs,
        subnets=records.subnets,
        groups=records.groups,
        nodes=records.nodes,
        ports=records.ports,
    )
    return engine


def load_engine(s: Schema, txn: Any, engine: GoalStateEngine | None = None) -> GoalStateEngine:
    """An engine holding every record of the store at its current revision."""
    return build(read_records(s, txn), engine)


def new_events(s: Schema, txn: Any, after: int) -> tuple[list[watch.Event], int] | None:
    """The events after revision `after` and the store's revision; None when the change log
    no longer has them all (compacted past `after`: the caller must reload)."""
    current = changelog.current_revision(s, txn)
    if current <= after:
        return [], current
    if after + 1 < changelog.compacted_revision(s, txn):
        return None
    return list(changelog.events_since(s, txn, after + 1)), current


def _all(txn: Any, db: Any, message: Any, cancelled: Callable[[], bool]) -> list[Any]:
    out = []
    for value in txn.cursor(db=db).iternext(keys=False):
        if cancelled():
            raise LoadCancelled
        out.append(message.FromString(value))
    return out


def _ports(s: Schema, txn: Any, cancelled: Callable[[], bool]) -> list[tuple[res.Port, int]]:
    """Every port with its configuration revision: the value of its ports_by_host entry for a
    bound port; an unbound port's is never used (binding it is a configuration change)."""
    out = []
    for raw in txn.cursor(db=s.ports).iternext(keys=False):
        if cancelled():
            raise LoadCancelled
        port = res.Port.FromString(raw)
        config = port.revision
        if port.host_id:
            binding = txn.get((port.host_id + "\x00" + port.id).encode(), db=s.ports_by_host)
            if binding is not None:
                config = to_int(binding)
        out.append((port, config))
    return out
