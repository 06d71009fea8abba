"""Proposing the goal-state hub's own commands (node registration, port status) through Raft.

A proposal that fails for a reason Raft reports as transient (no leader yet, a lost or unknown
outcome, a dropped proposal, a timeout) is retried with the SAME request id until it succeeds
or the deadline passes: apply deduplicates by request id, so a command that was in fact applied
returns its first result instead of applying twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from alcor.internal import command_pb2 as cmd
from alcor.raft.errors import RaftError

log = logging.getLogger(__name__)

Submit = Callable[[cmd.Command], Awaitable[cmd.Result]]
Sleep = Callable[[float], Awaitable[None]]

ADMIN = cmd.Caller(admin=True)


async def submit_retrying(
    submit: Submit,
    command: cmd.Command,
    *,
    timeout: float | None,
    sleep: Sleep = asyncio.sleep,
    first_delay: float = 0.02,
    max_delay: float = 1.0,
) -> cmd.Result:
    """The command's Result; raises the last Raft error (or TimeoutError) once `timeout`
    seconds have passed (None: retry until cancelled)."""
    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout
    delay = first_delay
    while True:
        try:
            return await submit(command)
        except (RaftError, TimeoutError) as e:
            if deadline is not None and loop.time() + delay > deadline:
                raise
            log.debug("proposal %s: %s; retrying in %.2fs", command.request_id, e, delay)
        await sleep(delay)
        delay = min(delay * 2, max_delay)
