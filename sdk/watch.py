"""The resumable part of a watch, shared by the sync and asyncio clients, with no I/O.

A `WatchCursor` remembers the next revision the caller has not seen. The controller never
splits a revision across responses, so after a broken stream the watch restarts at the last
event's revision + 1 (or after the revision a progress notification vouched for) and the caller
sees no gap and no duplicate; events below the cursor are dropped should a member resend them.
A stream that says nothing for `idle_timeout` (no events, no progress) counts as broken, so a
stopped member is noticed. Reconnection goes on for `reconnect_timeout` after the last good
response; then the last error is raised.
"""

from __future__ import annotations

from collections.abc import Iterable

import grpc

from alcor.v1 import watch_pb2

from . import inputs
from .errors import AlcorError, Unavailable, from_rpc_error

DEFAULT_PROGRESS_MS = 1000
# A stream that breaks with one of these is resumed elsewhere; other codes are the answer.
RESUMABLE = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.CANCELLED,
    grpc.StatusCode.INTERNAL,
    grpc.StatusCode.UNKNOWN,
    grpc.StatusCode.ABORTED,
}


class WatchCursor:
    def __init__(
        self,
        kinds: Iterable[int | str] | int | str | None = None,
        from_revision: int | None = None,
        project_id: str = "",
        progress_interval_ms: int = DEFAULT_PROGRESS_MS,
    ) -> None:
        if from_revision is not None and from_revision < 1:
            raise ValueError("from_revision must be at least 1 (None: changes after now)")
        if progress_interval_ms <= 0:
            raise ValueError("progress_interval_ms must be positive")
        self.kinds = inputs.kinds(kinds)
        self.project_id = project_id
        self.progress_interval_ms = progress_interval_ms
        # 0 until pinned: "after now" is fixed once, so a reconnect cannot skip what came between
        self.next_revision = from_revision or 0

    @property
    def revision(self) -> int:
        """Everything up to this revision was delivered (0 before anything is known)."""
        return max(self.next_revision - 1, 0)

    @property
    def idle_timeout(self) -> float:
        return 3 * self.progress_interval_ms / 1000 + 0.5

    def pin(self, current_revision: int) -> None:
        if not self.next_revision:
            self.next_revision = current_revision + 1

    def request(self) -> watch_pb2.WatchRequest:
        return watch_pb2.WatchRequest(
            kinds=self.kinds,
            start_revision=self.next_revision,
            project_id=self.project_id,
            progress_interval_ms=self.progress_interval_ms,
        )

    def accept(self, response: watch_pb2.WatchResponse) -> list[watch_pb2.Event]:
        """The events of a response the caller has not seen, advancing the cursor past them."""
        fresh = [e for e in response.events if e.revision >= self.next_revision]
        if fresh:
            self.next_revision = fresh[-1].revision + 1
        if response.progress:
            self.next_revision = max(self.next_revision, response.header.revision + 1)
        return fresh


def stream_error(e: BaseException | None) -> AlcorError:
    """What a broken stream means; resumable() says whether to reconnect."""
    if e is None:
        return Unavailable("the watch stream ended")
    if isinstance(e, grpc.RpcError):
        return from_rpc_error(e)
    if isinstance(e, AlcorError):
        return e
    raise e


def resumable(err: AlcorError) -> bool:
    return err.code in RESUMABLE
