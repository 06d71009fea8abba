"""How a servicer refuses a call: every failure becomes a gRPC status with rich details.

Command errors carry their own code and details (state/errors.py). Raft's refusals become
UNAVAILABLE with a google.rpc.ErrorInfo whose reason says what happened and whether a retry
with the same request id is safe (it always is: apply deduplicates by request id); NOT_LEADER
names the leader's id and API address so a client can go there. A read that meets a store
closed under it (a snapshot install replaced it) is UNAVAILABLE too: the retry reads the new one.
"""

from __future__ import annotations

from typing import NoReturn

import grpc
from grpc_status import rpc_status

from alcor.controller.api.auth import Unauthenticated
from alcor.controller.state.errors import CommandError, to_status
from alcor.controller.state.store import StoreClosed
from alcor.internal import command_pb2 as cmd
from alcor.raft.errors import NotLeader, OutcomeUnknown, ProposalDropped, ProposalLost, RaftError, ReadTimeout
from alcor.raft.service import error_status

# Raft refusal -> (ErrorInfo reason, message prefix); all are UNAVAILABLE and retryable
_RAFT_REASONS: list[tuple[type[RaftError], str]] = [
    (NotLeader, "NOT_LEADER"),
    (OutcomeUnknown, "OUTCOME_UNKNOWN"),
    (ProposalLost, "PROPOSAL_LOST"),
    (ProposalDropped, "PROPOSAL_DROPPED"),
    (ReadTimeout, "NO_QUORUM"),
]


def status_of_error(error: cmd.Error) -> grpc.Status:
    return rpc_status.to_status(to_status(error))


def status_of(exc: BaseException, addresses: dict[str, tuple[str, str]] | None = None) -> grpc.Status | None:
    """The status for a refusal, or None when exc is not one we know (a bug: let it raise)."""
    if isinstance(exc, CommandError):
        return status_of_error(exc.error)
    if isinstance(exc, Unauthenticated):
        return error_status(grpc.StatusCode.UNAUTHENTICATED, str(exc), "UNAUTHENTICATED")
    if isinstance(exc, NotLeader):
        api = (addresses or {}).get(exc.leader, ("", ""))[1]
        return error_status(
            grpc.StatusCode.UNAVAILABLE, f"not the leader (leader: {exc.leader or 'unknown'})", "NOT_LEADER",
            {"leader_id": exc.leader, "leader_api": api},
        )
    for kind, reason in _RAFT_REASONS:
        if isinstance(exc, kind):
            return error_status(grpc.StatusCode.UNAVAILABLE, str(exc), reason)
    if isinstance(exc, StoreClosed):  # read during a snapshot install: the retry reads the new one
        return error_status(grpc.StatusCode.UNAVAILABLE, str(exc), "STATE_REPLACED")
    return None


async def abort(context: grpc.aio.ServicerContext, exc: BaseException,
                addresses: dict[str, tuple[str, str]] | None = None) -> NoReturn:
    status = status_of(exc, addresses)
    if status is None:
        raise exc
    await context.abort_with_status(status)
    raise AssertionError("abort_with_status returned")  # it raises; this keeps type checkers honest
