"""The plain values the Raft core speaks: entries, messages, durable state, snapshots, Ready.

These mirror `alcor.internal.raft_pb2` field for field and enum number for enum number, but are
ordinary slotted Python objects: the core creates, slices and compares them on every message, and
protobuf objects would cost a copy each time an entry moves between a log and a message. The peer
transport and the durable storage convert at the edge with `alcor.raft.wire`.

Values are never mutated once built: an entry sits in several logs and messages at once, and a
simulated network may deliver one message object twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import IntEnum

# No node: no leader known, no vote cast.
NONE = ""

# Context of a VOTE started by TIMEOUT_NOW: voters grant it even inside their leader lease.
TRANSFER_CONTEXT = b"transfer"

# Per-entry bookkeeping bytes counted on top of the data when sizing messages and Readies.
ENTRY_OVERHEAD = 16


class EntryType(IntEnum):
    NORMAL = 0
    CONF_CHANGE = 1
    NOOP = 2


class MessageType(IntEnum):
    UNSPECIFIED = 0
    APPEND = 1
    APPEND_RESP = 2
    VOTE = 3
    VOTE_RESP = 4
    PREVOTE = 5
    PREVOTE_RESP = 6
    HEARTBEAT = 7
    HEARTBEAT_RESP = 8
    SNAPSHOT = 9
    TIMEOUT_NOW = 10
    READ_INDEX = 11
    READ_INDEX_RESP = 12


class ConfChangeType(IntEnum):
    UNSPECIFIED = 0
    ADD_VOTER = 1
    ADD_LEARNER = 2
    PROMOTE = 3
    REMOVE = 4


class Role(IntEnum):
    FOLLOWER = 0
    PRE_CANDIDATE = 1
    CANDIDATE = 2
    LEADER = 3


@dataclass(slots=True)
class Entry:
    term: int
    index: int
    type: int = EntryType.NORMAL
    data: bytes = b""

    def size(self) -> int:
        return len(self.data) + ENTRY_OVERHEAD


@dataclass(frozen=True, slots=True)
class ConfState:
    """Membership: sorted voter and learner ids (disjoint)."""

    voters: tuple[str, ...] = ()
    learners: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SnapshotMetadata:
    index: int = 0
    term: int = 0
    conf_state: ConfState = field(default_factory=ConfState)


@dataclass(frozen=True, slots=True)
class Snapshot:
    metadata: SnapshotMetadata = field(default_factory=SnapshotMetadata)
    data: bytes = b""


@dataclass(frozen=True, slots=True)
class HardState:
    term: int = 0
    vote: str = NONE
    commit: int = 0


@dataclass(frozen=True, slots=True)
class ConfChange:
    type: ConfChangeType
    node_id: str
    context: bytes = b""


@dataclass(slots=True)
class Message:
    type: MessageType
    to_id: str
    from_id: str
    term: int = 0
    log_term: int = 0
    index: int = 0
    entries: Sequence[Entry] = ()
    commit: int = 0
    reject: bool = False
    reject_hint: int = 0
    context: bytes = b""
    snapshot: Snapshot | None = None


@dataclass(frozen=True, slots=True)
class SoftState:
    """What is not persisted but a driver wants to know: who leads, and this node's role."""

    lead: str
    role: Role


@dataclass(frozen=True, slots=True)
class ReadState:
    """A confirmed ReadIndex: serve the read with `context` once the applied index >= `index`."""

    index: int
    context: bytes


@dataclass(slots=True)
class Ready:
    """One batch of work for the driver; see RaftCore's docstring for the order to do it in.

    `messages` may be sent at once (even before persisting); `persisted_messages` acknowledge
    state in this batch (votes, entries, snapshots, terms) and must not leave before the
    hard state, snapshot and entries of this batch are durable.
    """

    soft_state: SoftState | None = None
    hard_state: HardState | None = None
    snapshot: Snapshot | None = None
    entries: list[Entry] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    persisted_messages: list[Message] = field(default_factory=list)
    committed_entries: list[Entry] = field(default_factory=list)
    read_states: list[ReadState] = field(default_factory=list)
    # False when only the commit index changed: a write without fsync is enough (a lost commit
    # index is relearned from the leader), which saves followers one fsync per commit notice.
    must_sync: bool = False


def limit_size(entries: list[Entry], max_size: int | None) -> list[Entry]:
    """The longest prefix within max_size bytes, but never empty if entries is not (progress)."""
    if max_size is None or not entries:
        return entries
    total = 0
    for i, e in enumerate(entries):
        total += len(e.data) + ENTRY_OVERHEAD
        if total > max_size and i:
            return entries[:i]
    return entries
