"""A leader's pending ReadIndex requests (Ongaro's thesis 6.4).

A read that arrives at commit index C is safe to serve at C once the leader knows it was still
the leader *after* the read arrived: a quorum of voters acknowledged a heartbeat that carried the
request's context (or a later request's: heartbeats are sent in request order, so confirming a
later round confirms the earlier ones too). Requests are released in arrival order. Nothing here
survives a change of role or term, so a deposed leader never releases a read.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass(slots=True)
class ReadRequest:
    index: int
    context: bytes
    from_id: str
    acks: set[str] = field(default_factory=set)


class ReadOnly:
    __slots__ = ("_pending", "_queue")

    def __init__(self) -> None:
        self._pending: dict[bytes, ReadRequest] = {}
        self._queue: deque[bytes] = deque()

    def add(self, index: int, context: bytes, from_id: str) -> None:
        if context not in self._pending:  # a duplicate context is answered with the first
            self._pending[context] = ReadRequest(index, context, from_id)
            self._queue.append(context)

    def recv_ack(self, from_id: str, context: bytes) -> set[str] | None:
        """Record from_id's heartbeat ack of context; the acks so far, or None if unknown."""
        req = self._pending.get(context)
        if req is None:
            return None
        req.acks.add(from_id)
        return req.acks

    def advance(self, context: bytes) -> list[ReadRequest]:
        """Release every request up to and including context, oldest first."""
        if context not in self._pending:
            return []
        released = []
        while self._queue:
            ctx = self._queue.popleft()
            released.append(self._pending.pop(ctx))
            if ctx == context:
                break
        return released

    def last_pending_context(self) -> bytes:
        return self._queue[-1] if self._queue else b""

    def __len__(self) -> int:
        return len(self._queue)
