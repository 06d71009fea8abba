"""The log rules (append, conflict, commit) and MemoryStorage, without a cluster."""

from __future__ import annotations

import pytest

from alcor.raft import Compacted, ConfState, Entry, HardState, MemoryStorage, Unavailable
from alcor.raft.log import RaftLog
from alcor.raft.progress import Inflights, Progress, ProgressState


def ents(*terms: int, start: int = 1) -> list[Entry]:
    return [Entry(t, start + i, data=f"{start + i}@{t}".encode()) for i, t in enumerate(terms)]


def log_with(*terms: int, committed: int = 0) -> RaftLog:
    storage = MemoryStorage()
    storage.save(HardState(term=max(terms, default=0), commit=committed), ents(*terms), None)
    log = RaftLog(storage)
    log.commit_to(committed)
    return log


def all_entries(log: RaftLog) -> list[tuple[int, int]]:
    return [(e.index, e.term) for e in log.slice(log.first_index(), log.last_index() + 1)]


def test_append_after_a_matching_entry_extends_the_log() -> None:
    log = log_with(1, 1, 2)
    assert log.maybe_append(3, 2, 0, ents(2, 3, start=4)) == 5
    assert all_entries(log) == [(1, 1), (2, 1), (3, 2), (4, 2), (5, 3)]


def test_append_is_refused_when_the_previous_entry_does_not_match() -> None:
    log = log_with(1, 1, 2)
    assert log.maybe_append(3, 3, 0, ents(3, start=4)) is None
    assert log.maybe_append(4, 2, 0, ents(3, start=5)) is None  # we have no entry 4
    assert log.last_index() == 3


def test_duplicate_or_stale_append_never_truncates() -> None:
    # pysyncobj B4: a follower deleted everything after prevLogIdx on every append.
    log = log_with(1, 1, 2, 2, 2)
    assert log.maybe_append(1, 1, 0, ents(1, 2, start=2)) == 3
    assert all_entries(log) == [(1, 1), (2, 1), (3, 2), (4, 2), (5, 2)]
    assert not log.unstable.entries  # nothing even rewritten


def test_conflicting_suffix_is_replaced_from_the_first_conflict() -> None:
    log = log_with(1, 1, 2, 2, 2)
    assert log.maybe_append(2, 1, 0, ents(2, 3, start=3)) == 4
    assert all_entries(log) == [(1, 1), (2, 1), (3, 2), (4, 3)]


def test_a_conflict_at_a_committed_index_is_a_bug() -> None:
    log = log_with(1, 1, 2, committed=3)
    with pytest.raises(AssertionError):
        log.maybe_append(2, 1, 0, ents(3, start=3))


def test_commit_only_up_to_the_last_entry_the_message_verified() -> None:
    # pysyncobj B1: commit = min(leaderCommit, own last index) applied an unverified tail.
    log = log_with(1, 1, 2, 2, 2)  # 4 and 5 are an old term's uncommitted tail
    assert log.maybe_append(2, 1, 10, []) == 2
    assert log.committed == 2
    assert log.maybe_append(3, 2, 10, []) == 3
    assert log.committed == 3


def test_commit_counts_only_entries_of_the_current_term() -> None:
    log = log_with(1, 2, 2)
    assert not log.maybe_commit(3, 3)  # entry 3 is term 2, leader's term is 3
    assert log.committed == 0
    assert log.maybe_commit(3, 2)


def test_up_to_date_compares_last_term_then_length() -> None:
    log = log_with(1, 2, 2)
    assert log.is_up_to_date(1, 3)
    assert log.is_up_to_date(3, 2)
    assert not log.is_up_to_date(2, 2)
    assert not log.is_up_to_date(9, 1)


def test_find_conflict_by_term_skips_a_whole_term() -> None:
    log = log_with(1, 1, 4, 4, 4, 5)
    assert log.find_conflict_by_term(6, 3) == 2
    assert log.find_conflict_by_term(6, 4) == 5
    assert log.find_conflict_by_term(9, 2) == 9  # beyond our log: term 0 <= anything


def test_slice_spans_storage_and_unstable_and_respects_size() -> None:
    log = log_with(1, 1)
    log.append(ents(2, 2, start=3))
    assert [e.index for e in log.slice(1, 5)] == [1, 2, 3, 4]
    one = ents(1)[0].size()
    assert [e.index for e in log.slice(1, 5, max_size=3 * one)] == [1, 2, 3]
    assert [e.index for e in log.slice(2, 5, max_size=1)] == [2]  # never empty


def test_storage_compaction_and_snapshot_bounds() -> None:
    s = MemoryStorage()
    s.save(HardState(term=2, commit=5), ents(1, 1, 2, 2, 2), None)
    s.create_snapshot(3, ConfState(("a",)), b"img")
    s.compact(3)
    assert (s.first_index(), s.last_index(), s.term(3)) == (4, 5, 2)
    with pytest.raises(Compacted):
        s.entries(3, 5)
    with pytest.raises(Compacted):
        s.term(2)
    with pytest.raises(Unavailable):
        s.entries(4, 7)
    with pytest.raises(ValueError):
        s.compact(5)  # beyond the snapshot: a lagging follower could never catch up
    log = RaftLog(s)
    assert (log.committed, log.applied) == (3, 3)  # the snapshot is applied state


def test_storage_append_replaces_the_conflicting_suffix() -> None:
    s = MemoryStorage()
    s.save(None, ents(1, 1, 1, 1), None)
    s.save(None, ents(2, start=3), None)
    assert [s.term(i) for i in range(1, 4)] == [1, 1, 2] and s.last_index() == 3


def test_progress_never_moves_backwards_on_acks() -> None:
    pr = Progress(10, Inflights(4))
    pr.become_replicate()
    assert pr.maybe_update(7)
    assert not pr.maybe_update(5)  # a late ack
    assert (pr.match, pr.next) == (7, 8)
    pr.sent_entries(12, 5, 0)
    assert pr.next == 13
    assert not pr.maybe_decr_to(6, 6)  # a stale rejection
    assert pr.maybe_decr_to(9, 3)
    assert pr.next == 8


def test_inflight_window_pauses_replication() -> None:
    pr = Progress(1, Inflights(2))
    pr.become_replicate()
    pr.sent_entries(3, 3, 0)
    pr.sent_entries(5, 2, 0)
    assert pr.is_paused()
    pr.inflights.free_le(3)
    assert not pr.is_paused()
    assert pr.state == ProgressState.REPLICATE
