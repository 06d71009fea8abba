"""raft.proto round trips: the core's values survive the wire and the disk unchanged."""

from __future__ import annotations

from dataclasses import replace

from alcor.internal import raft_pb2 as pb
from alcor.raft import (
    ConfChange,
    ConfChangeType,
    ConfState,
    Entry,
    EntryType,
    HardState,
    Message,
    MessageType,
    Snapshot,
    SnapshotMetadata,
    wire,
)


def test_enum_numbers_match_the_proto() -> None:
    for t in MessageType:
        assert pb.MessageType.Name(int(t)) == f"MESSAGE_TYPE_{t.name}"
    for e in EntryType:
        assert pb.EntryType.Name(int(e)) == f"ENTRY_TYPE_{e.name}"
    for c in ConfChangeType:
        assert pb.ConfChangeType.Name(int(c)) == f"CONF_CHANGE_TYPE_{c.name}"


def test_message_round_trip_through_bytes() -> None:
    snap = Snapshot(SnapshotMetadata(9, 3, ConfState(("a", "b"), ("c",))), b"image")
    messages = [
        Message(
            MessageType.APPEND, "b", "a", term=3, log_term=2, index=7, commit=6,
            entries=[Entry(3, 8, EntryType.NORMAL, b"x"), Entry(3, 9, EntryType.NOOP)],
        ),
        Message(MessageType.APPEND_RESP, "a", "b", term=3, index=7, reject=True, reject_hint=5, log_term=2),
        Message(MessageType.HEARTBEAT, "b", "a", term=3, commit=4, context=b"read-1"),
        Message(MessageType.SNAPSHOT, "c", "a", term=3, snapshot=snap),
    ]
    for m in messages:
        raw = wire.message_to_pb(m).SerializeToString()
        back = wire.message_from_pb(pb.Message.FromString(raw))
        assert back == replace(m, entries=list(m.entries))


def test_conf_change_and_state_round_trips() -> None:
    cc = ConfChange(ConfChangeType.ADD_LEARNER, "d", b"10.0.0.4:7000")
    assert wire.decode_conf_change(wire.encode_conf_change(cc)) == cc
    hs = HardState(7, "b", 42)
    assert wire.hard_state_from_pb(pb.HardState.FromString(wire.hard_state_to_pb(hs).SerializeToString())) == hs
    md = SnapshotMetadata(9, 3, ConfState(("a", "b"), ("c",)))
    raw = wire.snapshot_metadata_to_pb(md).SerializeToString()
    assert wire.snapshot_metadata_from_pb(pb.SnapshotMetadata.FromString(raw)) == md
    e = Entry(3, 8, EntryType.CONF_CHANGE, b"cc")
    assert wire.entry_from_pb(pb.Entry.FromString(wire.entry_to_pb(e).SerializeToString())) == e
