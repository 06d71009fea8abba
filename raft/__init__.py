"""Consensus for the controller replicas (DESIGN.md section 4).

`core` is a deterministic Raft state machine (no I/O, no clock) driven through Ready/advance;
`storage` is the narrow durable-log interface it reads; `wire` converts to raft.proto.
"""

from .config import Config
from .core import RaftCore
from .errors import (
    Compacted,
    NotLeader,
    ProposalDropped,
    RaftError,
    SnapshotTemporarilyUnavailable,
    Unavailable,
)
from .storage import MemoryStorage, MutableStorage, Storage, bootstrap_entries
from .types import (
    NONE,
    ConfChange,
    ConfChangeType,
    ConfState,
    Entry,
    EntryType,
    HardState,
    Message,
    MessageType,
    ReadState,
    Ready,
    Role,
    Snapshot,
    SnapshotMetadata,
    SoftState,
)

__all__ = [
    "NONE",
    "Compacted",
    "ConfChange",
    "ConfChangeType",
    "ConfState",
    "Config",
    "Entry",
    "EntryType",
    "HardState",
    "MemoryStorage",
    "Message",
    "MessageType",
    "MutableStorage",
    "NotLeader",
    "ProposalDropped",
    "RaftCore",
    "RaftError",
    "ReadState",
    "Ready",
    "Role",
    "Snapshot",
    "SnapshotMetadata",
    "SnapshotTemporarilyUnavailable",
    "SoftState",
    "Storage",
    "Unavailable",
    "bootstrap_entries",
]
