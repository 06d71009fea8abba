"""RaftNode on loopback gRPC, several members in one loop: proposals from any member,
linearizable reads, failover, restart from disk, snapshots to a lagging member, membership."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from support.cluster import LocalCluster

from alcor.raft.errors import NotLeader, OutcomeUnknown, ReadTimeout
from alcor.raft.types import MessageType, Role

pytestmark = pytest.mark.slow


def run(root: Path, body: Callable[[LocalCluster], Awaitable[None]], **kwargs: object) -> None:
    async def main() -> None:
        cluster = LocalCluster(root, **kwargs)  # type: ignore[arg-type]
        try:
            await body(cluster)
        finally:
            await cluster.stop()

    asyncio.run(main())


async def until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


def test_proposals_from_every_member_apply_everywhere_in_one_order(tmp_path: Path) -> None:
    async def body(c: LocalCluster) -> None:
        await c.start(["a", "b", "c"])
        await c.leader()
        results = await asyncio.gather(*[
            m.node.propose(b"k%d=%s" % (i, m.id.encode()))
            for i in range(60) for m in c.members.values()
        ])
        assert len({r.split(b":")[0] for r in results if r}) == 180  # one index each
        await c.converge()
        histories = [m.sm.history for m in c.members.values()]
        assert histories[0] == histories[1] == histories[2]
        assert len(histories[0]) == 180

    run(tmp_path, body)


def test_failover_keeps_every_acknowledged_write(tmp_path: Path) -> None:
    async def body(c: LocalCluster) -> None:
        await c.start(["a", "b", "c"])
        old = await c.leader()
        acked = [await old.node.propose(b"before%d=1" % i) for i in range(20)]
        assert all(acked)
        await c.kill(c.members.pop(old.id))
        new = await c.leader(exclude={old.id})
        for i in range(20):
            await new.node.propose(b"after%d=1" % i)
        await c.converge()
        for m in c.members.values():
            items = m.sm.items()
            assert all(items.get(b"before%d" % i) == b"1" for i in range(20))
            assert all(items.get(b"after%d" % i) == b"1" for i in range(20))

    run(tmp_path, body)


def test_a_member_restarts_from_disk_and_catches_up_by_snapshot(tmp_path: Path) -> None:
    async def body(c: LocalCluster) -> None:
        await c.start(["a", "b", "c"])
        leader = await c.leader()
        lagger = next(m for m in c.members.values() if m.id != leader.id)
        await c.kill(c.members.pop(lagger.id))
        for i in range(150):  # snapshot_entries=50: the leader compacts past the lagger
            await leader.node.propose(b"k%d=%d" % (i, i))
        assert leader.node.storage.first_index() > lagger.node.storage.last_index() + 1
        c.members[lagger.id] = lagger
        await c.restart(lagger.id)
        await c.converge()
        back = c.members[lagger.id]
        assert back.sm.items() == leader.sm.items()
        assert len(back.sm.items()) == 150

    run(tmp_path, body, snapshot_entries=50)


def test_linearizable_read_on_leader_and_follower_but_not_without_quorum(tmp_path: Path) -> None:
    async def body(c: LocalCluster) -> None:
        await c.start(["a", "b", "c"])
        leader = await c.leader()
        await leader.node.propose(b"x=1")
        follower = next(m for m in c.members.values() if m.id != leader.id)
        index = await follower.node.linearizable_read()
        assert follower.sm.items()[b"x"] == b"1" and index >= 1
        assert await leader.node.linearizable_read() >= index
        # cut the leader off from both followers: it must not confirm a read any more
        for m in list(c.members.values()):
            if m.id != leader.id:
                await c.kill(c.members.pop(m.id))
        with pytest.raises((ReadTimeout, NotLeader)):
            await leader.node.linearizable_read(timeout=1.5)

    run(tmp_path, body)


def counting_rounds(member) -> list[bytes]:  # type: ignore[no-untyped-def]
    """The ReadIndex requests `member` makes (its core's read_index calls)."""
    sent: list[bytes] = []
    core = member.node.core
    original = core.read_index

    def read_index(ctx: bytes) -> None:
        sent.append(ctx)
        original(ctx)

    core.read_index = read_index
    return sent


def test_concurrent_reads_share_rounds_and_see_every_earlier_write(tmp_path: Path) -> None:
    async def body(c: LocalCluster) -> None:
        await c.start(["a", "b", "c"])
        leader = await c.leader()
        follower = next(m for m in c.members.values() if m.id != leader.id)
        await follower.node.linearizable_read()
        rounds = counting_rounds(follower)
        # all at once: the first read goes alone, the other 49 wait for it and share the next
        indexes = await asyncio.gather(*(follower.node.linearizable_read() for _ in range(50)))
        assert len(rounds) == 2 and len(set(indexes)) <= 2

        async def write_then_read(i: int) -> None:
            await leader.node.propose(b"k%d=%d" % (i, i))
            floor = leader.node.status().commit_index  # covers this write and every one acked before it
            index = await follower.node.linearizable_read()
            assert index >= floor
            assert follower.sm.items()[b"k%d" % i] == b"%d" % i

        rounds.clear()
        await asyncio.gather(*(write_then_read(i) for i in range(40)))
        assert 1 <= len(rounds) < 40

    run(tmp_path, body)


def test_a_followers_proposals_go_to_the_leader_together(tmp_path: Path) -> None:
    async def body(c: LocalCluster) -> None:
        await c.start(["a", "b", "c"])
        leader = await c.leader()
        follower = next(m for m in c.members.values() if m.id != leader.id)
        await asyncio.gather(*(leader.node.propose(b"f%d=old%d" % (i, i)) for i in range(50)))
        sizes: list[int] = []
        forward = follower.node._forward

        async def counting(to, batch):  # type: ignore[no-untyped-def]
            sizes.append(len(batch))
            await forward(to, batch)

        follower.node._forward = counting
        results = await asyncio.gather(*(follower.node.propose(b"f%d=new" % i) for i in range(50)))
        assert sizes == [1, 49]  # the first at once, the rest together while it was in flight
        await c.converge()
        where = {data: index for index, data in follower.sm.history}
        # each caller gets its own proposal's result: its index, and the value it replaced
        assert results == [b"%d:old%d" % (where[b"f%d=new" % i], i) for i in range(50)]

    run(tmp_path, body)


def test_proposals_held_behind_a_stuck_request_go_to_a_new_leader(tmp_path: Path) -> None:
    async def body(c: LocalCluster) -> None:
        await c.start(["a", "b", "c"])
        leader = await c.leader()
        follower, other = [m for m in c.members.values() if m.id != leader.id]
        forward = follower.node._forward
        stuck = asyncio.Event()

        async def first_one_hangs(to, batch):  # type: ignore[no-untyped-def]
            if not stuck.is_set():
                stuck.set()
                await asyncio.Event().wait()  # a request to a leader that never answers
            await forward(to, batch)

        follower.node._forward = first_one_hangs
        lost = asyncio.create_task(follower.node.propose(b"lost=1", timeout=3))
        await stuck.wait()
        held = asyncio.create_task(follower.node.propose(b"held=1", timeout=20))
        await asyncio.sleep(0.1)
        assert not held.done()  # one request in flight per leader: it waits
        assert await leader.node.transfer_leader(other.id) == other.id
        await held  # sent to the new leader once there was one, and applied
        await c.converge()
        assert follower.sm.items()[b"held"] == b"1"
        with pytest.raises(OutcomeUnknown):
            await lost

    run(tmp_path, body)


def test_a_read_request_lost_on_the_way_is_sent_again(tmp_path: Path) -> None:
    async def body(c: LocalCluster) -> None:
        await c.start(["a", "b", "c"])
        leader = await c.leader()
        follower = next(m for m in c.members.values() if m.id != leader.id)
        await leader.node.propose(b"x=1")
        rounds = counting_rounds(follower)
        transport = follower.node.transport
        send = transport.send
        lost = []

        def lossy(messages):  # type: ignore[no-untyped-def]
            if not lost:
                lost.extend(m for m in messages if m.type == MessageType.READ_INDEX)
                messages = [m for m in messages if m.type != MessageType.READ_INDEX]
            send(messages)

        transport.send = lossy
        index = await follower.node.linearizable_read(timeout=5)
        assert lost and len(rounds) == 2 and rounds[0] != rounds[1]  # a fresh context
        assert index >= 1 and follower.sm.items()[b"x"] == b"1"
        assert not follower.node._reads  # nothing left behind

    run(tmp_path, body)


def test_a_member_that_missed_its_removal_is_told_by_the_peers_it_campaigns_to(tmp_path: Path) -> None:
    async def body(c: LocalCluster) -> None:
        await c.start(["a", "b", "c"])
        leader = await c.leader()
        gone = next(m for m in c.members.values() if m.id != leader.id)
        await c.kill(c.members.pop(gone.id))  # down while the others remove it
        await leader.node.remove_member(gone.id)
        await leader.node.propose(b"after=1")
        c.members[gone.id] = gone
        await c.restart(gone.id)  # from a log that never got its removal
        back = c.members[gone.id]
        assert not back.node.removed.is_set()
        # no leader talks to it any more; its first campaign is refused, with the index
        await asyncio.wait_for(back.node.removed.wait(), 10)
        others = [m for m in c.members.values() if m.id != gone.id]
        assert all(gone.id not in {x.id for x in m.node.status().members} for m in others)
        assert b"after" not in back.sm.items()
        c.members.pop(gone.id)
        await c.kill(back)
        await leader.node.propose(b"still=1")  # the two that stay go on
        with pytest.raises(ValueError, match="not reused"):  # it would replay its own removal
            await leader.node.add_member(gone.id, gone.address, "")

    run(tmp_path, body)


def test_peers_that_compacted_a_removal_away_and_restarted_still_tell_the_removed_member(
    tmp_path: Path,
) -> None:
    async def body(c: LocalCluster) -> None:
        await c.start(["a", "b", "c"])
        leader = await c.leader()
        gone = next(m for m in c.members.values() if m.id != leader.id)
        await c.kill(c.members.pop(gone.id))
        await leader.node.remove_member(gone.id)
        removed_at = leader.node._removed_at[gone.id]
        for i in range(120):  # snapshot_entries=50: both peers compact past the removal
            await leader.node.propose(b"k%d=v" % i)
        for m in c.members.values():
            await until(lambda m=m: m.node.storage.snapshot().metadata.index > removed_at)
        for member_id in list(c.members):  # they come back knowing only their snapshots
            await c.restart(member_id)
        c.members[gone.id] = gone
        await c.restart(gone.id)
        back = c.members[gone.id]
        await asyncio.wait_for(back.node.removed.wait(), 10)
        assert b"k0" not in back.sm.items()
        c.members.pop(gone.id)
        await c.kill(back)

    run(tmp_path, body, snapshot_entries=50)


def test_stop_returns_only_when_its_threads_are_done_with_the_stores(tmp_path: Path) -> None:
    """A task cancelled while its thread applies entries leaves the thread running; the caller
    closes the stores after stop() returns, so stop waits for that thread."""

    async def body(c: LocalCluster) -> None:
        await c.start(["a"])
        leader = await c.leader()
        inside, release, finished = threading.Event(), threading.Event(), []
        apply = leader.sm.apply

        def slow_apply(entries):  # type: ignore[no-untyped-def]
            inside.set()
            release.wait(10)
            result = apply(entries)
            finished.append(len(entries))
            return result

        leader.sm.apply = slow_apply  # type: ignore[method-assign]
        proposal = asyncio.ensure_future(leader.node.propose(b"k=v", timeout=10))
        await asyncio.get_running_loop().run_in_executor(None, inside.wait, 10)
        stopping = asyncio.ensure_future(leader.node.stop())
        await asyncio.sleep(0.3)
        assert not stopping.done()  # the apply thread still writes
        release.set()
        await asyncio.wait_for(stopping, 10)
        assert finished == [1]
        with pytest.raises(OutcomeUnknown):
            await proposal

    run(tmp_path, body)


def test_join_as_learner_then_voter_then_transfer_and_leave(tmp_path: Path) -> None:
    async def body(c: LocalCluster) -> None:
        await c.start(["a", "b", "c"])
        leader = await c.leader()
        for i in range(30):
            await leader.node.propose(b"k%d=v" % i)
        d = await c.join("d")
        await leader.node.add_member("d", d.address, "")
        status = leader.node.status()
        assert [(m.id, m.learner) for m in status.members] == [
            ("a", False), ("b", False), ("c", False), ("d", False)]
        await c.converge()
        assert d.sm.items() == leader.sm.items()
        moved_to = await leader.node.transfer_leader("d")
        assert moved_to == "d" and d.node.role == Role.LEADER
        await d.node.remove_member(leader.id)
        await d.node.propose(b"after=leave")
        assert [m.id for m in d.node.status().members] == sorted({"a", "b", "c", "d"} - {leader.id})

    run(tmp_path, body)
