"""Replication: the commit rule, conflicts, flow control, snapshots and what waits for disk."""

from __future__ import annotations

import random

from alcor.raft import (
    Config,
    ConfState,
    Entry,
    HardState,
    MemoryStorage,
    Message,
    MessageType,
    RaftCore,
    Role,
    Snapshot,
    SnapshotMetadata,
)
from alcor.raft.progress import ProgressState

from .harness import Cluster, NodeOptions

ABC = ["a", "b", "c"]
FIVE = ["s1", "s2", "s3", "s4", "s5"]


def test_figure_8_an_old_term_entry_is_not_committed_by_counting_replicas() -> None:
    # Raft paper, Figure 8. One entry per message so that replication can be cut mid-way.
    c = Cluster(FIVE, NodeOptions(pre_vote=False, check_quorum=False, max_size_per_msg=1))
    c.elect("s1")
    # (a) s1 (term 2) replicates an entry at index i to s2 only.
    c.only_links(("s1", "s2"))
    i = c.propose("s1", b"from term 2")
    assert c["s2"].log.term(i) == 2
    # (b) s1 crashes; s5 is elected for term 3 by s3, s4, s5 and writes its own entry at i
    # (its no-op), which reaches nobody.
    c.crash("s1")
    c.heal()
    c.drop = lambda m: m.from_id == "s5" and m.type == MessageType.APPEND
    c.elect("s5")
    assert c["s5"].term == 3 and c["s5"].log.term(i) == 3
    # (c) s5 crashes; s1 restarts, is elected for term 4, and gets its term-2 entry at i onto
    # s2 and s3, a majority, but nothing of term 4 anywhere else.
    c.crash("s5")
    c.restart("s1")
    c.drop = lambda m: m.type == MessageType.APPEND and (
        m.to_id == "s4" or (c[m.to_id].log.last_index() >= i and any(e.index > i for e in m.entries))
    )
    c.elect("s1")
    assert c["s1"].term == 4
    assert [c[n].log.term(i) for n in ("s1", "s2", "s3")] == [2, 2, 2]
    assert c["s1"].committed < i  # a majority holds it, but it is not from term 4
    # (d) Had it been committed, this would lose it: s1 crashes, s5 wins term 5 (its log ends
    # with term 3) and overwrites index i everywhere.
    c.crash("s1")
    c.restart("s5")
    c.heal()
    c.elect("s5")
    c.tick_all(3)
    for n in ("s2", "s3", "s4", "s5"):
        assert c[n].log.term(i) == 3
        assert b"from term 2" not in c.applied(n)


def test_figure_8_an_old_term_entry_commits_with_the_current_terms_entry() -> None:
    c = Cluster(FIVE, NodeOptions(pre_vote=False, check_quorum=False, max_size_per_msg=1))
    c.elect("s1")
    c.only_links(("s1", "s2"))
    i = c.propose("s1", b"from term 2")
    c.heal()
    c.tick("s1", 2)  # new leader of the same term: s1 keeps leading and replicates
    assert c["s1"].committed >= i
    assert all(b"from term 2" in c.applied(n) for n in FIVE)


def test_a_new_leader_overwrites_a_deposed_leaders_uncommitted_tail() -> None:
    c = Cluster(ABC)
    c.elect("a")
    c.propose("a", b"committed")
    c.isolate("a")
    for k in range(3):
        c["a"].propose(b"lost %d" % k)
    c.settle()
    c.tick_all(4 * c.options.election_tick)
    new = c.leader()
    assert new in ("b", "c")
    c.propose(new, b"new leader")
    c.heal()
    c.tick_all(5)
    for n in ABC:
        assert c.applied(n) == [b"committed", b"new leader"]
        assert c[n].log.last_index() == c[new].log.last_index()


def make_follower(terms: list[int], committed: int, term: int) -> tuple[RaftCore, MemoryStorage]:
    storage = MemoryStorage(ConfState(("a", "b", "c")))
    storage.save(
        HardState(term=term, commit=committed),
        [Entry(t, i + 1, data=b"%d@%d" % (i + 1, t)) for i, t in enumerate(terms)],
        None,
    )
    core = RaftCore(Config("b"), storage, random.Random(0))
    if core.has_ready():  # apply what was committed before the restart
        rd = core.ready()
        core.advance(rd)
    return core, storage


def test_follower_commits_only_what_the_leader_verified() -> None:
    # pysyncobj B1: a deposed leader rejoining must not commit its own stale tail.
    core, _ = make_follower([1, 1, 2, 2, 2, 2], committed=2, term=2)
    leader_commit = 50
    core.step(Message(MessageType.HEARTBEAT, "b", "c", term=3, commit=0))
    core.step(Message(MessageType.APPEND, "b", "c", term=3, index=2, log_term=1, commit=leader_commit))
    assert core.committed == 2  # entries 3..6 (term 2) are not verified by this message
    core.step(Message(MessageType.APPEND, "b", "c", term=3, index=3, log_term=2, commit=leader_commit))
    assert core.committed == 3
    snap = Snapshot(SnapshotMetadata(4, 2, ConfState(("a", "b", "c"))), b"")
    core.step(Message(MessageType.SNAPSHOT, "b", "c", term=3, snapshot=snap))
    assert core.committed == 4 and core.log.last_index() == 6  # matched: keep the log, commit 4


def test_snapshot_that_does_not_match_replaces_the_log() -> None:
    core, _ = make_follower([1, 1, 2, 2], committed=2, term=2)
    snap = Snapshot(SnapshotMetadata(10, 3, ConfState(("a", "b", "c"))), b"img")
    core.step(Message(MessageType.SNAPSHOT, "b", "c", term=3, snapshot=snap))
    rd = core.ready()
    assert rd.snapshot == snap and rd.entries == [] and rd.committed_entries == []
    assert [(m.type, m.index) for m in rd.persisted_messages] == [(MessageType.APPEND_RESP, 10)]
    assert (core.committed, core.log.last_index()) == (10, 10)


def test_follower_acks_entries_only_after_persisting_them() -> None:
    core, _ = make_follower([1], committed=1, term=1)
    core.step(Message(MessageType.APPEND, "b", "a", term=1, index=1, log_term=1, entries=[Entry(1, 2)], commit=1))
    rd = core.ready()
    assert [e.index for e in rd.entries] == [2] and rd.must_sync
    assert not rd.messages
    assert [(m.type, m.index) for m in rd.persisted_messages] == [(MessageType.APPEND_RESP, 2)]


def test_commit_only_changes_do_not_need_fsync() -> None:
    core, _ = make_follower([1, 1], committed=1, term=1)
    core.step(Message(MessageType.HEARTBEAT, "b", "a", term=1, commit=2))
    rd = core.ready()
    assert rd.hard_state == HardState(1, "", 2) and not rd.must_sync
    assert [e.index for e in rd.committed_entries] == [2]


def test_pipelining_is_bounded_by_the_inflight_window() -> None:
    c = Cluster(ABC, NodeOptions(max_inflight_msgs=2, max_size_per_msg=1))
    c.elect("a")
    c.drop = lambda m: m.from_id == "b" and m.type == MessageType.APPEND_RESP  # b's acks are lost
    c.delivered.clear()
    for k in range(10):
        c["a"].propose(b"%d" % k)
    c.settle()
    to_b = [m for m in c.delivered if m.to_id == "b" and m.type == MessageType.APPEND and m.entries]
    assert len(to_b) == 2  # one entry per message, at most two unacknowledged
    assert c["a"].progress("b").state == ProgressState.REPLICATE
    c.heal()
    c.tick_all(3)
    assert c.applied("b") == [b"%d" % k for k in range(10)]


def test_entries_proposed_between_readies_leave_in_one_message() -> None:
    c = Cluster(ABC)
    c.elect("a")
    c.delivered.clear()
    for k in range(20):
        c["a"].propose(b"%d" % k)
    c.settle()
    appends = [m for m in c.delivered if m.type == MessageType.APPEND and m.entries]
    assert sorted(len(m.entries) for m in appends) == [20, 20]


def test_a_follower_behind_the_compaction_point_gets_a_snapshot() -> None:
    c = Cluster(ABC)
    c.elect("a")
    c.crash("c")
    for k in range(30):
        c.propose("a", b"%d" % k)
    for n in ("a", "b"):
        assert c.nodes[n].snapshot_and_compact(keep=0)
    c.restart("c")
    c.delivered.clear()
    c.tick_all(3)
    assert any(m.type == MessageType.SNAPSHOT and m.to_id == "c" for m in c.delivered)
    c.propose("a", b"after")
    assert c["c"].committed == c["a"].committed
    assert c.nodes["c"].sm.digest == c.nodes["a"].sm.digest
    assert c.applied("c") == [b"after"]  # everything before came in the snapshot


def test_lost_appends_are_recovered_through_heartbeats() -> None:
    c = Cluster(ABC)
    c.elect("a")
    c.drop = lambda m: m.type == MessageType.APPEND and m.to_id == "c"
    for k in range(5):
        c.propose("a", b"%d" % k)
    c.heal()
    c.tick_all(3)
    assert c.applied("c") == [b"%d" % k for k in range(5)]


def test_leader_may_not_count_its_own_unsaved_entries() -> None:
    storage = MemoryStorage.bootstrap(["a"])
    core = RaftCore(Config("a"), storage, random.Random(0))
    while core.role != Role.LEADER:
        if core.has_ready():
            rd = core.ready()
            storage.save(rd.hard_state, rd.entries, rd.snapshot)
            core.advance(rd)
        else:
            core.tick()
    while core.has_ready():
        rd = core.ready()
        storage.save(rd.hard_state, rd.entries, rd.snapshot)
        core.advance(rd)
    index = core.propose(b"x")
    rd = core.ready()
    assert core.committed < index and not rd.committed_entries
    storage.save(rd.hard_state, rd.entries, rd.snapshot)
    core.advance(rd)
    assert core.committed == index
    rd = core.ready()
    assert [e.data for e in rd.committed_entries] == [b"x"]
