"""The durable LMDB log behaves exactly like MemoryStorage, and survives reopening and kill -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from alcor.raft.errors import Compacted, Unavailable
from alcor.raft.lmdb_storage import LmdbStorage
from alcor.raft.storage import MemoryStorage
from alcor.raft.types import ConfState, Entry, HardState, Snapshot, SnapshotMetadata

Factory = Callable[[], object]


@pytest.fixture(params=["memory", "lmdb"])
def make(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], object]:
    if request.param == "memory":
        return MemoryStorage
    return lambda: LmdbStorage(tmp_path / "raft")


def ents(start: int, stop: int, term: int) -> list[Entry]:
    return [Entry(term, i, 0, f"{term}:{i}".encode()) for i in range(start, stop)]


def test_append_replaces_conflicting_suffix(make: Factory) -> None:
    s = make()
    s.save(HardState(1, "a", 0), ents(1, 6, 1), None)
    s.save(HardState(2, "b", 3), ents(4, 6, 2), None)
    assert s.last_index() == 5
    assert [(e.index, e.term) for e in s.entries(1, 6)] == [(1, 1), (2, 1), (3, 1), (4, 2), (5, 2)]
    assert s.term(3) == 1 and s.term(5) == 2
    assert s.initial_state()[0] == HardState(2, "b", 3)
    with pytest.raises(Unavailable):
        s.term(6)
    with pytest.raises(ValueError, match="gap"):
        s.save(None, ents(8, 9, 2), None)


def test_entries_respects_max_size_but_makes_progress(make: Factory) -> None:
    s = make()
    s.save(None, ents(1, 11, 1), None)
    one = s.entries(1, 11)[0].size()
    assert len(s.entries(1, 11, max_size=1)) == 1
    assert len(s.entries(1, 11, max_size=3 * one)) == 3
    assert len(s.entries(3, 11)) == 8


def test_snapshot_install_replaces_the_log(make: Factory) -> None:
    s = make()
    s.save(HardState(1, "", 2), ents(1, 10, 1), None)
    snap = Snapshot(SnapshotMetadata(20, 3, ConfState(("a", "b"))), b"state")
    s.save(HardState(3, "", 20), [], snap)
    assert (s.first_index(), s.last_index(), s.term(20)) == (21, 20, 3)
    assert s.snapshot() == snap
    assert s.initial_state()[1] == ConfState(("a", "b"))
    with pytest.raises(Compacted):
        s.entries(5, 6)
    s.save(None, ents(21, 23, 3), None)
    assert [e.index for e in s.entries(21, 23)] == [21, 22]


def test_create_snapshot_then_compact(make: Factory) -> None:
    s = make()
    s.save(HardState(1, "", 9), ents(1, 10, 1), None)
    s.create_snapshot(6, ConfState(("a",)), b"six")
    assert s.first_index() == 1  # creating a snapshot alone compacts nothing
    s.compact(6)
    assert (s.first_index(), s.last_index(), s.term(6)) == (7, 9, 1)
    with pytest.raises(Compacted):
        s.term(5)


def test_snapshot_with_compaction_is_one_step(tmp_path: Path) -> None:
    s = LmdbStorage(tmp_path / "raft")
    s.save(HardState(1, "", 9), ents(1, 10, 1), None)
    s.create_snapshot(7, ConfState(("a",)), b"seven", compact=True)
    s.close()
    r = LmdbStorage(tmp_path / "raft")
    assert (r.first_index(), r.term(7), r.snapshot().metadata.index) == (8, 1, 7)
    assert [e.index for e in r.entries(8, 10)] == [8, 9]


def test_everything_survives_reopening(tmp_path: Path) -> None:
    s = LmdbStorage(tmp_path / "raft")
    s.save(HardState(4, "b", 7), ents(1, 10, 2), None)
    s.create_snapshot(5, ConfState(("a", "b", "c")), b"five")
    s.compact(5)
    s.close()
    r = LmdbStorage(tmp_path / "raft")
    assert r.initial_state() == (HardState(4, "b", 7), ConfState(("a", "b", "c")))
    assert (r.first_index(), r.last_index(), r.term(5), r.term(9)) == (6, 9, 2, 2)
    assert r.entries(6, 10) == ents(6, 10, 2)
    assert r.snapshot().data == b"five"


def test_bootstrap_is_not_repeated_on_restart(tmp_path: Path) -> None:
    s = LmdbStorage.bootstrap(tmp_path / "raft", ["a", "b", "c"])
    s.save(HardState(5, "a", 3), ents(4, 6, 5), None)
    s.close()
    r = LmdbStorage.bootstrap(tmp_path / "raft", ["a", "b", "c"])
    assert r.last_index() == 5 and r.initial_state()[0] == HardState(5, "a", 3)


WRITER = textwrap.dedent(
    """
    import sys
    from alcor.raft.lmdb_storage import LmdbStorage
    from alcor.raft.types import Entry, HardState
    s = LmdbStorage(sys.argv[1])
    index = s.last_index()
    while True:
        batch = [Entry(1, index + k, 0, b"x" * 100) for k in range(1, 33)]
        s.save(HardState(1, "a", 0), batch, None)
        index += 32
        print(index, flush=True)  # acknowledged: save() returned
    """
)


@pytest.mark.slow
def test_acknowledged_entries_survive_kill_9(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(tmp_path / "raft")], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    acked = 0
    for line in proc.stdout:
        acked = int(line)
        if acked >= 3_000:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    s = LmdbStorage(tmp_path / "raft")
    assert s.last_index() >= acked
    assert len(s.entries(1, acked + 1)) == acked


def test_save_in_steps_shows_nothing_until_published(tmp_path: Path) -> None:
    """write() commits, flush() makes it durable, publish() moves the in-memory view; the node
    driver flushes off its loop in between, when nothing may read the new tail as stable."""
    s = LmdbStorage(tmp_path / "raft")
    s.save(HardState(1, "a", 0), ents(1, 4, 1), None)
    written = s.write(HardState(2, "a", 3), ents(3, 6, 2), None)  # replaces 3, appends 4..5
    assert (s.last_index(), s.initial_state()[0]) == (3, HardState(1, "a", 0))
    s.flush()
    s.publish(written)
    assert (s.last_index(), s.initial_state()[0], s.term(3)) == (5, HardState(2, "a", 3), 2)
    s.close()
    r = LmdbStorage(tmp_path / "raft")
    assert r.entries(1, 6) == ents(1, 3, 1) + ents(3, 6, 2)
    assert r.initial_state()[0] == HardState(2, "a", 3)


def test_the_term_cache_follows_replaced_suffixes_and_stays_bounded(tmp_path: Path) -> None:
    s = LmdbStorage(tmp_path / "raft")
    for start in range(1, 10_001, 500):
        s.save(None, ents(start, start + 500, 1), None)
    s.save(None, ents(9_990, 9_995, 2), None)  # replaces 9990..10000 with 9990..9994
    assert (s.last_index(), s.term(9_989), s.term(9_990), s.term(9_994)) == (9_994, 1, 2, 2)
    assert len(s._terms) <= 8192
    assert s.term(10) == 1  # beyond the cache: read from LMDB
