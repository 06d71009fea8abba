"""The node driver's Outbox: AppendEntries without entries wait, and later entries replace them."""

from __future__ import annotations

from alcor.raft.node import Outbox
from alcor.raft.types import Entry, Message, MessageType

MT = MessageType


def append(to: str, commit: int, *indexes: int) -> Message:
    return Message(
        MT.APPEND,
        to,
        "a",
        term=2,
        index=(indexes[0] - 1 if indexes else 9),
        entries=[Entry(2, i) for i in indexes],
        commit=commit,
    )


def test_entries_leave_at_once_and_commit_notices_wait() -> None:
    box = Outbox()
    with_entries = append("b", 5, 10, 11)
    heartbeat = Message(MT.HEARTBEAT, "c", "a", term=2, commit=5)
    notice = append("c", 7)
    assert box.sort([with_entries, notice, heartbeat]) == [with_entries, heartbeat]
    assert box.release() == [notice]
    assert box.release() == []


def test_later_entries_to_the_same_member_replace_a_held_notice() -> None:
    box = Outbox()
    assert box.sort([append("b", 7), append("c", 7)]) == []
    later = append("b", 8, 12)
    assert box.sort([later]) == [later]  # it carries commit 8 >= 7 to b itself
    assert box.release() == [append("c", 7)]


def test_a_newer_notice_replaces_the_older_one() -> None:
    box = Outbox()
    box.sort([append("b", 7)])
    box.sort([append("b", 9)])
    assert box.release() == [append("b", 9)]


def test_replies_and_other_messages_are_never_held() -> None:
    box = Outbox()
    others = [
        Message(MT.APPEND_RESP, "a", "b", term=2, index=9),
        Message(MT.VOTE, "c", "b", term=3),
        Message(MT.TIMEOUT_NOW, "c", "a", term=2),
        Message(MT.READ_INDEX_RESP, "b", "a", term=2, index=9, context=b"r"),
    ]
    assert box.sort(others) == others
    assert box.release() == []
