"""What each ack says: the per-resource statuses a controller turns into port status.

The contract (goalstate.proto): resources not listed in an ack were applied without error. So an
ack lists (1) the failures among the resources its update carried, because the controller would
otherwise mark them ok, and (2) every change since the agent last told the controller anything:
new or changed failures, and `ok` for resources that failed before and no longer do (a periodic
resync can repair a port with no update arriving; the agent then acks its current revision again
with those changes). An ack holds at most `limit` statuses, ports first, so a 100,000-neighbor
snapshot with a broken underlay does not produce an ack larger than a controller accepts.
"""

from __future__ import annotations

from collections.abc import Container, Mapping

from alcor.agent.dataplane.columns import Snapshot, Update
from alcor.agent.dataplane.model import KIND_TABLE, GoalState
from alcor.goalstate_kinds import KIND_NEIGHBOR, KIND_PORT, Key, key_of
from alcor.v1 import goalstate_pb2

MAX_STATUSES = 10_000


class _SnapshotKeys(Container[Key]):
    """What a column-wise snapshot carries, without a key per neighbor."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.neighbors = snapshot.neighbors
        self.rest = carried(snapshot.rest)

    def __contains__(self, key: object) -> bool:
        if isinstance(key, tuple) and key and key[0] == KIND_NEIGHBOR:
            return key[1] in self.neighbors
        return key in self.rest


def carried(update: Update) -> Container[Key]:
    """The resources an update upserts."""
    if isinstance(update, Snapshot):
        return _SnapshotKeys(update)
    return {key_of(item) for item in update.upserts if item.WhichOneof("item") is not None}


def _present(goal: GoalState, key: Key) -> bool:
    table = KIND_TABLE.get(key[0])
    return table is None or key[1] in getattr(goal, table)


class StatusBook:
    """What the controller has been told is failing, and what the next ack must say."""

    def __init__(self, limit: int = MAX_STATUSES) -> None:
        self.limit = limit
        self.reported: dict[Key, str] = {}

    def statuses(
        self, failures: Mapping[Key, str], goal: GoalState, carried_keys: Container[Key] = ()
    ) -> list[goalstate_pb2.ResourceStatus]:
        """The statuses for one ack given the current `failures`, and record them as told."""
        out: dict[Key, goalstate_pb2.ResourceStatus] = {}
        for key, reason in failures.items():
            if key in carried_keys or self.reported.get(key) != reason:
                out[key] = _status(key, reason)
        for key in self.reported:
            if key not in failures and _present(goal, key):
                out[key] = _status(key, None)
        chosen = sorted(out, key=lambda k: (k[0] != KIND_PORT, k))[: self.limit]
        # what did not fit stays "not told" and goes out with a later ack
        told = {k: failures[k] for k in failures if k in self.reported and k not in out}
        told.update({k: failures[k] for k in chosen if k in failures})
        told.update(
            {
                k: r
                for k, r in self.reported.items()
                if k not in failures and k not in chosen and _present(goal, k)
            }
        )
        self.reported = told
        return [out[k] for k in chosen]

    def pending(self, failures: Mapping[Key, str], goal: GoalState) -> bool:
        """Would an ack now say something the controller has not been told?"""
        if any(self.reported.get(k) != r for k, r in failures.items()):
            return True
        return any(k not in failures and _present(goal, k) for k in self.reported)


def _status(key: Key, reason: str | None) -> goalstate_pb2.ResourceStatus:
    return goalstate_pb2.ResourceStatus(kind=key[0], id=key[1], ok=reason is None, reason=reason or "")


def ack_message(
    revision: int, statuses: list[goalstate_pb2.ResourceStatus], apply_us: int, total_us: int
) -> goalstate_pb2.AgentMessage:
    return goalstate_pb2.AgentMessage(
        ack=goalstate_pb2.GoalStateAck(
            revision=revision, statuses=statuses, apply_us=max(0, apply_us), total_us=max(0, total_us)
        )
    )
