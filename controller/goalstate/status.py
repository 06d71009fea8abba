"""Port status from agent acks: which ports an ack turns ACTIVE or ERROR, and the batched
write-back of those reports through Raft.

Decisions (`port_reports`), for an ack of revision r from host H, over the ports bound to H
whose configuration revision c is at most r (the agent has that configuration; a port whose
configuration is newer than r is not yet on the host and is never reported ACTIVE):

- listed as failed: ERROR with the agent's reason; listed ok: ACTIVE;
- not listed (goalstate.proto: applied without error): ACTIVE when the configuration arrived
  after what this stream already accounted for (c > floor), or when the port is still DOWN
  (a write-back lost with a previous controller); an ERROR reported earlier stays until the
  agent lists the port ok (its status book reports each failure once, not in every ack).

Only reports that change the port's recorded status are made. `PortStatusWriter` batches them
into UpdatePortStatuses commands: one in flight at a time, the next batch collects meanwhile,
each with a unique request id that its retries reuse.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import uuid
from collections.abc import Iterable, Mapping

from alcor.controller.goalstate.index import RelevanceIndex
from alcor.controller.goalstate.proposals import ADMIN, Sleep, Submit, submit_retrying
from alcor.controller.state import validate
from alcor.internal import command_pb2 as cmd
from alcor.v1 import resources_pb2 as res

log = logging.getLogger(__name__)

DEFAULT_BATCH = 1000

Report = tuple["res.PortStatus.ValueType", str]  # (status, status_detail)


def port_reports(
    index: RelevanceIndex,
    host: str,
    revision: int,
    floor: int,
    failed: Mapping[str, str],
    ok: Iterable[str] = (),
) -> list[cmd.PortStatusUpdate]:
    oks = set(ok)
    out = []
    for port_id in sorted(index.host_ports.get(host, ())):
        config = index.config_revision[port_id]
        if config > revision:
            continue
        port = index.ports[port_id]
        want: Report
        if port_id in failed:
            want = (res.PORT_STATUS_ERROR, failed[port_id][: validate.MAX_DETAIL] or "failed")
        elif port_id in oks or config > floor or port.status == res.PORT_STATUS_DOWN:
            want = (res.PORT_STATUS_ACTIVE, "")
        else:
            continue
        if (port.status, port.status_detail) == want:
            continue
        out.append(
            cmd.PortStatusUpdate(
                port_id=port_id,
                status=want[0],
                status_detail=want[1],
                host_id=host,
                port_revision=config,
            )
        )
    return out


class PortStatusWriter:
    def __init__(
        self,
        submit: Submit,
        member_id: str,
        *,
        batch: int = DEFAULT_BATCH,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._submit = submit
        self._batch = batch
        self._sleep = sleep
        # unique per writer (process start), so request ids never collide with an earlier run's
        self._prefix = f"port-status-{member_id}-{uuid.uuid4().hex[:12]}"
        self._seq = itertools.count(1)
        self._pending: dict[str, cmd.PortStatusUpdate] = {}
        self._inflight: dict[str, cmd.PortStatusUpdate] = {}
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self.batches_written = 0

    def report(self, updates: Iterable[cmd.PortStatusUpdate]) -> None:
        for u in updates:
            if self._pending.get(u.port_id) == u:
                continue
            if u.port_id not in self._pending and self._inflight.get(u.port_id) == u:
                continue
            self._pending[u.port_id] = u
        if self._pending:
            self._idle.clear()
            self._wake.set()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="port-status-writer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def flushed(self) -> None:
        """Return when every report made so far has been written (or given up)."""
        await self._idle.wait()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                ids = list(itertools.islice(self._pending, self._batch))
                self._inflight = {i: self._pending.pop(i) for i in ids}
                command = cmd.Command(
                    version=cmd.ENVELOPE_VERSION_1,
                    request_id=f"{self._prefix}-{next(self._seq)}",
                    caller=ADMIN,
                    update_port_statuses=cmd.UpdatePortStatuses(updates=list(self._inflight.values())),
                )
                try:
                    result = await submit_retrying(self._submit, command, timeout=None, sleep=self._sleep)
                except asyncio.CancelledError:
                    raise
                except Exception:  # a bug in a lower layer must not stop status reporting for good
                    log.exception("port status batch %s failed", command.request_id)
                else:
                    if result.HasField("error"):
                        log.warning(
                            "port status batch %s refused: %s", command.request_id, result.error.message
                        )
                    self.batches_written += 1
                self._inflight = {}
            self._idle.set()
