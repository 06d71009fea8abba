"""Change-log compaction: the leader keeps the last `history` revisions of events (and of
request-id records, the window in which a retried request is recognised) and proposes
`Compact` for everything older, so the change log stays bounded.
"""

from __future__ import annotations

import asyncio
import logging

from alcor.controller.replica import Replica
from alcor.internal import command_pb2 as cmd
from alcor.raft.errors import RaftError
from alcor.raft.types import Role

log = logging.getLogger(__name__)


def compaction_target(revision: int, compacted: int, history: int, slack: int) -> int:
    """The revision to compact to, or 0 when the retained window is still small enough.

    `slack` batches the work: nothing happens until `history + slack` revisions are retained.
    """
    if revision - max(compacted, 1) < history + slack:
        return 0
    return revision - history


async def compact_forever(replica: Replica, history: int, interval: float) -> None:
    slack = max(history // 10, 1)
    while True:
        await asyncio.sleep(interval)
        if replica.node.role != Role.LEADER:
            continue
        store = replica.store
        target = compaction_target(store.revision, store.compacted_revision, history, slack)
        if not target:
            continue
        command = cmd.Command(caller=cmd.Caller(admin=True), request_id=f"compact-{target}",
                              compact=cmd.Compact(revision=target))
        try:
            result = await replica.submit(command)
        except RaftError as e:  # leadership moved: the next leader compacts
            log.info("compaction to %d not done: %s", target, e)
            continue
        if result.HasField("error"):
            log.warning("compaction to %d refused: %s", target, result.error.message)
        else:
            log.info("change log compacted below revision %d", target)
