"""The exceptions the Raft core and its storage raise to their callers."""

from __future__ import annotations


class RaftError(Exception):
    """Base of every error alcor.raft raises on purpose."""


class NotLeader(RaftError):
    """This node cannot accept the request; `leader` is the leader it knows of ("" if none)."""

    def __init__(self, leader: str) -> None:
        super().__init__(f"not the leader (leader: {leader or 'unknown'})")
        self.leader = leader


class ProposalDropped(RaftError):
    """The leader refused the request for now (a transfer or a membership change is pending)."""


class Compacted(RaftError):
    """The requested index is at or below the storage's compaction point."""


class Unavailable(RaftError):
    """The requested index is beyond the last entry in storage."""


class SnapshotTemporarilyUnavailable(RaftError):
    """Storage cannot produce a snapshot right now; the leader retries on a later heartbeat."""


class ProposalLost(RaftError):
    """Another entry was committed at the proposal's index: it was certainly not applied."""


class OutcomeUnknown(RaftError):
    """The proposal was appended but its fate is not known in time: it may still be applied.

    A caller must not assume either outcome; retrying with the same request id is safe when the
    state machine deduplicates by request id (Alcor's does).
    """


class ReadTimeout(RaftError):
    """Leadership could not be confirmed in time, so no linearizable read was served."""
