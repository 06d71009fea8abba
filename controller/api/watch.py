"""WatchService: change events from the local applied state, in revision order.

A watch starts at a revision (0: after the current one), optionally filtered by kinds and
project (a project token only ever sees its own project). Events are read from the change log
in batches that never split a revision, so a client that resumes from the last revision it saw
plus one misses nothing and sees nothing twice. Any member serves watches from its own applied
state, so a leadership change does not disturb them. While idle, a progress notification
carries the current revision every `progress_interval_ms`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc

from alcor.controller.api.auth import Authenticator
from alcor.controller.api.errors import abort
from alcor.controller.metrics import Metrics
from alcor.controller.replica import Replica
from alcor.controller.state.changelog import current_revision, events_since
from alcor.controller.state.errors import permission_denied
from alcor.v1 import watch_pb2 as watch
from alcor.v1 import watch_pb2_grpc

BATCH = 512  # events per response (a revision is never split, so one may hold more)
DEFAULT_PROGRESS_MS = 5000
MIN_PROGRESS_MS = 50


def read_batch(replica: Replica, start: int, kinds: frozenset[int], project: str) -> tuple[list[watch.Event], int]:
    """Events from `start` on, whole revisions only, and the revision to continue from."""
    store = replica.store
    with store.read() as txn:
        current = current_revision(store.schema, txn)
        if start > current:
            return [], start
        out: list[watch.Event] = []
        last = start - 1
        for event in events_since(store.schema, txn, start, kinds, project):
            if len(out) >= BATCH and event.revision != last:
                return out, last + 1
            out.append(event)
            last = event.revision
        # everything up to `current` was read (filtered events included)
        return out, current + 1


class WatchServicer(watch_pb2_grpc.WatchServiceServicer):
    def __init__(self, replica: Replica, auth: Authenticator, metrics: Metrics) -> None:
        self.replica = replica
        self.auth = auth
        self.metrics = metrics

    def add_to_server(self, server: grpc.aio.Server) -> None:
        watch_pb2_grpc.add_WatchServiceServicer_to_server(self, server)

    async def Watch(self, request: watch.WatchRequest,
                    context: grpc.aio.ServicerContext) -> AsyncIterator[watch.WatchResponse]:
        try:
            identity = self.auth.identify(context)
            project = request.project_id
            if not identity.admin:
                if project and project != identity.project_id:
                    raise permission_denied(
                        f"project_id {project!r}: a project token may only watch its own project",
                        "PROJECT_MISMATCH", "project_id")
                project = identity.project_id
            kinds = frozenset(int(k) for k in request.kinds)
            next_rev = request.start_revision or self.replica.store.revision + 1
            # a too-old start fails now, before the stream says anything
            read_batch(self.replica, next_rev, kinds, project)
        except Exception as exc:  # abort() re-raises what it does not know
            await abort(context, exc)
        interval = max(request.progress_interval_ms or DEFAULT_PROGRESS_MS, MIN_PROGRESS_MS) / 1000
        changed = asyncio.Event()
        unsubscribe = self.replica.subscribe(lambda _rev: changed.set())
        self.metrics.watchers.inc()
        try:
            while True:
                changed.clear()
                try:
                    events, next_rev = read_batch(self.replica, next_rev, kinds, project)
                except Exception as exc:  # compacted under a slow watcher
                    await abort(context, exc)
                if events:
                    yield watch.WatchResponse(header=self.replica.header(next_rev - 1), events=events)
                    continue  # more may be waiting
                try:
                    async with asyncio.timeout(interval):
                        await changed.wait()
                except TimeoutError:
                    try:
                        revision = self.replica.store.revision
                    except Exception as exc:  # a store closed under the read: UNAVAILABLE
                        await abort(context, exc)
                    yield watch.WatchResponse(header=self.replica.header(revision), progress=True)
        finally:
            unsubscribe()
            self.metrics.watchers.dec()
