"""The interface between the agent's reconciler and a data plane.

A `Driver` reads back what is programmed (`installed()`, in the `model.State` shape, so a
restarted agent plans against reality instead of memory), executes a `plan.Plan` item by item in
order, and reports which items failed and why. Items not reported failed were applied. A bulk
item (`plan.SetEndpoints`, `plan.DeleteEndpoints`) may fail in part: the report names each failed
entry by its packed key (`Report.entries`), the rest of it was applied. A failed item does not
stop the rest: later items that depend on it fail with their own reason (an
endpoint of a port that could not be wired, for example), and the next reconcile retries them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol, runtime_checkable

from .model import KIND_NEIGHBOR, KIND_PORT, State, pack_key, unpack_key
from .plan import (
    BULK,
    DeletePort,
    DeleteRule,
    Item,
    Plan,
    SetConfig,
    SetEndpoint,
    SetPort,
    SetRule,
    WirePort,
)


class Result(NamedTuple):
    item: Item
    ok: bool
    reason: str = ""


@dataclass(frozen=True)
class Report:
    """The outcome of executing a plan: the failed items with their reasons (for a bulk item, the
    first of its entries' reasons); the failed entries of bulk items by packed endpoint key; the
    rest are ok."""

    plan: Plan
    failed: Mapping[Item, str] = field(default_factory=dict)
    entries: Mapping[bytes, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failed

    def __iter__(self) -> Iterator[Result]:
        for item in self.plan:
            reason = self.failed.get(item)
            yield Result(item, reason is None, reason or "")

    def resources(self, owners: Mapping[bytes, tuple[int, str]]) -> dict[tuple[int, str], str]:
        """Failures by goal-state resource (GoalStateKind, id), for the ack; `owners` is
        `model.owners(goal, desired)` (only needed when something failed)."""

        def owner(raw: bytes) -> tuple[int, str]:
            found = owners.get(raw)
            if found is None:
                vni, ip = unpack_key(raw)
                found = (KIND_NEIGHBOR, f"{vni}/{ip}")
            return found

        out: dict[tuple[int, str], str] = {}
        for item, reason in self.failed.items():
            if isinstance(item, BULK):
                continue  # by entry, below
            if isinstance(item, WirePort | SetPort):
                key = (KIND_PORT, item.port.port_id)
            elif isinstance(item, SetRule | DeleteRule | DeletePort):
                key = (KIND_PORT, item.port_id)
            elif isinstance(item, SetEndpoint):
                try:
                    key = owner(pack_key(item.key))
                except ValueError:
                    key = (KIND_NEIGHBOR, f"{item.key.vni}/{item.key.ip}")
            elif isinstance(item, SetConfig):
                key = (0, "config")
            else:
                key = (0, repr(item))
            out.setdefault(key, reason)
        for raw, reason in self.entries.items():
            out.setdefault(owner(raw), reason)
        return out


@runtime_checkable
class Driver(Protocol):
    def installed(self) -> State:
        """What is programmed now (config, ports with wiring, endpoints, compiled rules)."""
        ...

    def execute(self, plan: Plan) -> Report:
        """Apply the plan's items in order; never raises for a single item's failure."""
        ...

    def counters(self) -> dict[str, int]:
        """Packet counters by name (see `packet.COUNTERS`), summed over CPUs."""
        ...

    def close(self) -> None:
        """Release the driver's handles; the programmed data plane stays as it is."""
        ...
