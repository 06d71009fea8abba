"""One agent's stream as the hub sees it: a bounded, coalescing queue of goal-state changes.

`HostQueue` (pure) holds what the agent has not been sent yet as ONE pending delta: each new
delta is merged into it key by key (a later upsert or delete replaces an earlier one), so a slow
agent receives fewer, larger updates instead of a backlog. When the pending delta would hold
more than `limit` items it is dropped and the queue asks for a full snapshot instead, built
from the engine when the agent is ready for it: memory per agent stays bounded however far
behind it falls, and it never blocks the hub or other agents.

`HostSession` wraps a queue for the asyncio side: `next_update()` waits for something to send;
`close()` ends the stream (replaced by a newer stream of the same host, hub stopping, the agent
going away or misbehaving).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from alcor.controller.goalstate import items as it
from alcor.controller.goalstate.items import Delta, Key
from alcor.v1 import goalstate_pb2 as gs

DEFAULT_QUEUE_LIMIT = 4096


class HostQueue:
    def __init__(self, revision: int, *, limit: int = DEFAULT_QUEUE_LIMIT, full: bool) -> None:
        self.limit = limit
        self.sent = revision  # the agent's revision once it applies everything taken so far
        self.target = revision
        self.pending: Delta = {}
        self.needs_full = full
        self.overflows = 0

    def push(self, revision: int, delta: Delta) -> None:
        self.target = revision
        if self.needs_full:
            return  # the snapshot will be taken later, at a revision at least this one
        pending = self.pending
        if not pending:  # nothing to merge with (the usual case: the last update was taken)
            pending.update(delta)
        else:
            for key, item in delta.items():
                if key[0] == it.KIND_GROUP_MEMBERS and key in pending:
                    try:
                        item = it.merge(pending[key], item)
                    except ValueError:  # cannot happen (a host that lost a group gets it whole)
                        self.force_full(revision)
                        return
                pending[key] = item
        if len(self.pending) > self.limit:
            self.pending = {}
            self.needs_full = True
            self.overflows += 1

    def force_full(self, revision: int) -> None:
        self.pending = {}
        self.needs_full = True
        self.target = max(self.target, revision)

    def ready(self) -> bool:
        return self.needs_full or bool(self.pending)

    def take(
        self,
        snapshot: Callable[[], gs.ControllerMessage],
        chunk: Callable[[Key, gs.GoalStateItem], bytes] | None = None,
    ) -> gs.ControllerMessage | None:
        """The next message to send: a snapshot (from `snapshot()`, at the engine's revision)
        or the pending delta (its items encoded by `chunk`, see `items.delta_message`); None
        when there is nothing to send."""
        if self.needs_full:
            message = snapshot()
            self.needs_full = False
            self.pending = {}
            self.sent = self.target = message.update.revision
            return message
        if not self.pending:
            return None
        message = it.delta_message(self.sent, self.target, self.pending, chunk)
        self.pending = {}
        self.sent = self.target
        return message


class HostSession:
    def __init__(
        self,
        host_id: str,
        *,
        revision: int,
        resumed: bool,
        base_revision: int,
        snapshot: Callable[[], gs.ControllerMessage],
        chunk: Callable[[Key, gs.GoalStateItem], bytes] | None = None,
        limit: int = DEFAULT_QUEUE_LIMIT,
    ) -> None:
        self.host_id = host_id
        self.revision = revision  # the revision of the Welcome
        self.resumed = resumed
        self.queue = HostQueue(base_revision if resumed else 0, limit=limit, full=not resumed)
        # port configurations at or below this revision were accounted for (status.py)
        self.status_floor = base_revision if resumed else 0
        self.closed = False
        self.reason = ""  # why the controller closed it ("" when the agent went away)
        self._snapshot = snapshot
        self._chunk = chunk
        self._wake = asyncio.Event()
        if not resumed:
            self._wake.set()

    def push(self, revision: int, delta: Delta) -> None:
        self.queue.push(revision, delta)
        self._wake.set()

    def force_full(self, revision: int) -> None:
        self.queue.force_full(revision)
        self._wake.set()

    def close(self, reason: str = "") -> None:
        if not self.closed:
            self.closed = True
            self.reason = reason
            self._wake.set()

    async def next_message(self) -> gs.ControllerMessage | None:
        """The next message (an update) for the agent; None once the session is closed."""
        while True:
            if self.closed:
                return None
            message = self.queue.take(self._snapshot, self._chunk)
            if message is not None:
                return message
            self._wake.clear()
            await self._wake.wait()

    async def next_update(self) -> gs.GoalStateUpdate | None:
        message = await self.next_message()
        return None if message is None else message.update
