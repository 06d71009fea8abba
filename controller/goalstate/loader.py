"""Reading the store for the engine: its starting records, and the events it has not seen.

The only place the goal-state package touches LMDB for the engine (the engine itself is pure).
Both functions take an open read transaction so that what they return is one consistent
snapshot of the store.
"""

from __future__ import annotations

from typing import Any

from alcor.controller.goalstate.engine import GoalStateEngine
from alcor.controller.schema import Schema, to_int
from alcor.controller.state import changelog
from alcor.v1 import resources_pb2 as res
from alcor.v1 import watch_pb2 as watch


def load_engine(s: Schema, txn: Any, engine: GoalStateEngine | None = None) -> GoalStateEngine:
    """An engine holding every record of the store at its current revision."""
    engine = engine or GoalStateEngine()
    engine.load(
        changelog.current_revision(s, txn),
        vpcs=_all(txn, s.vpcs, res.Vpc),
        subnets=_all(txn, s.subnets, res.Subnet),
        groups=_all(txn, s.security_groups, res.SecurityGroup),
        nodes=_all(txn, s.nodes, res.Node),
        ports=_ports(s, txn),
    )
    return engine


def new_events(s: Schema, txn: Any, after: int) -> tuple[list[watch.Event], int] | None:
    """The events after revision `after` and the store's revision; None when the change log
    no longer has them all (compacted past `after`: the caller must reload)."""
    current = changelog.current_revision(s, txn)
    if current <= after:
        return [], current
    if after + 1 < changelog.compacted_revision(s, txn):
        return None
    return list(changelog.events_since(s, txn, after + 1)), current


def _all(txn: Any, db: Any, message: Any) -> list[Any]:
    return [message.FromString(value) for value in txn.cursor(db=db).iternext(keys=False)]


def _ports(s: Schema, txn: Any) -> list[tuple[res.Port, int]]:
    """Every port with its configuration revision: the value of its ports_by_host entry for a
    bound port; an unbound port's is never used (binding it is a configuration change)."""
    out = []
    for raw in txn.cursor(db=s.ports).iternext(keys=False):
        port = res.Port.FromString(raw)
        config = port.revision
        if port.host_id:
            binding = txn.get((port.host_id + "\x00" + port.id).encode(), db=s.ports_by_host)
            if binding is not None:
                config = to_int(binding)
        out.append((port, config))
    return out
