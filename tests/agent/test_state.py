"""The saved goal state (restart resumes without re-fetching), the periodic resync (repairs the
data plane, reports recovered resources), and the ack bookkeeping."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from clocks import InstantClock, ManualClock, wait_for
from goalstate_double import Session, delta, serving
from net import H1, IP1, add_port, in_sync, network

from alcor.agent.acks import StatusBook
from alcor.agent.backoff import Backoff
from alcor.agent.dataplane.memory import MemoryDriver
from alcor.agent.dataplane.model import KIND_NEIGHBOR, KIND_PORT, GoalState
from alcor.agent.dataplane.plan import DeleteEndpoints, Plan, WirePort
from alcor.agent.runner import Agent, AgentConfig
from alcor.agent.store import JOURNAL, SNAPSHOT, StateError, StateStore, snapshot_of


@asynccontextmanager
async def running(agent: Agent) -> AsyncIterator[Agent]:
    task = asyncio.create_task(agent.run())
    try:
        yield agent
    finally:
        agent.stop()
        await asyncio.wait_for(task, 10)


def config(addr: str, **kw) -> AgentConfig:  # type: ignore[no-untyped-def]
    kw.setdefault("resync_interval", None)
    return AgentConfig(host_id=H1, controllers=[addr], underlay_ip=IP1, **kw)


class CountingDriver(MemoryDriver):
    """The memory driver, counting the plan items it is asked to execute."""

    executed = 0

    def execute(self, plan: Plan):  # type: ignore[no-untyped-def]
        self.executed += len(plan)
        return super().execute(plan)


def test_a_restarted_agent_resumes_from_its_state_dir_without_refetching(tmp_path: Path) -> None:
    sc, _ = network()
    g1 = sc.goal(H1)
    add_port(sc, "host-2", "10.0.1.60")
    g2 = sc.goal(H1)

    async def first_life(s: Session) -> None:
        await s.welcome(resumed=False, revision=g2.revision)
        await s.send(snapshot_of(g1))
        await s.send(delta(g1, g2))

    async def main() -> None:
        driver = CountingDriver(IP1)  # stands for pinned maps that outlive the agent
        async with serving(first_life) as (ctl, addr):
            async with running(
                Agent(config(addr, state_dir=tmp_path), driver, clock=InstantClock())
            ) as agent:
                await agent.wait_revision(g2.revision, timeout=10)
            assert (tmp_path / SNAPSHOT).exists() and (tmp_path / JOURNAL).stat().st_size > 0
            programmed = driver.executed

            # restart on the same data plane: nothing is re-programmed, nothing re-sent
            async with running(
                Agent(config(addr, state_dir=tmp_path), driver, clock=InstantClock())
            ) as again:
                s = await ctl.wait_sessions(2)
                assert s.hello.last_applied_revision == g2.revision
                await wait_for(lambda: again.connected)
                assert again.goal.neighbors.keys() == g2.neighbors.keys()
                assert driver.executed == programmed
                assert not s.acks  # the controller resumed: no update, no ack

            # a host whose data plane was lost: the saved state is programmed before connecting
            fresh = CountingDriver(IP1)
            async with running(Agent(config(addr, state_dir=tmp_path), fresh, clock=InstantClock())) as third:
                s = await ctl.wait_sessions(3)
                assert s.hello.last_applied_revision == g2.revision
                await wait_for(lambda: third.connected)
                assert in_sync(fresh, g2)

    asyncio.run(main())


def test_the_store_keeps_what_was_applied_across_torn_writes_and_compaction(tmp_path: Path) -> None:
    sc, _ = network()
    goals = [sc.goal(H1)]
    store = StateStore(tmp_path, H1, fsync=False)
    assert store.load() is None
    store.append(snapshot_of(goals[0]), goals[0])
    for i in range(5):
        add_port(sc, "host-2", f"10.0.1.{100 + i}")
        goals.append(sc.goal(H1))
        store.append(delta(goals[-2], goals[-1]), goals[-1])
    store.close()
    loaded = StateStore(tmp_path, H1).load()
    assert loaded is not None and loaded.revision == goals[-1].revision
    assert snapshot_of(loaded) == snapshot_of(goals[-1])

    # a new delta, then a torn one
    add_port(sc, "host-2", "10.0.1.120")
    goals.append(sc.goal(H1))
    store = StateStore(tmp_path, H1)
    store.load()
    store.append(delta(goals[-2], goals[-1]), goals[-1])
    store.close()
    add_port(sc, "host-2", "10.0.1.121")
    torn = delta(goals[-1], sc.goal(H1)).SerializeToString()
    with open(tmp_path / JOURNAL, "ab") as f:
        f.write(len(torn).to_bytes(4, "little") + b"\0\0\0\0" + torn[: len(torn) // 2])
    store = StateStore(tmp_path, H1)
    loaded = store.load()
    assert loaded is not None and loaded.revision == goals[-1].revision
    # the torn tail was cut: a delta appended after it is found on the next load
    goals.append(sc.goal(H1))
    store.append(delta(goals[-2], goals[-1]), goals[-1])
    store.close()
    loaded = StateStore(tmp_path, H1).load()
    assert loaded is not None and loaded.revision == goals[-1].revision
    assert snapshot_of(loaded) == snapshot_of(goals[-1])

    with pytest.raises(StateError, match="holds the goal state of host 'host-1', not 'host-2'"):
        StateStore(tmp_path, "host-2").load()

    (tmp_path / SNAPSHOT).write_bytes(b"garbage")
    assert StateStore(tmp_path, H1).load() is None


def test_the_journal_is_folded_into_a_snapshot_once_it_outgrows_it(tmp_path: Path, monkeypatch) -> None:
    import alcor.agent.store as store_mod

    monkeypatch.setattr(store_mod, "MIN_COMPACT_BYTES", 0)
    sc, _ = network()
    goal = sc.goal(H1)
    store = StateStore(tmp_path, H1, fsync=False)
    store.append(snapshot_of(goal), goal)
    sizes = []
    for i in range(40):
        add_port(sc, "host-2", f"10.0.2.{i + 1}")
        new = sc.goal(H1)
        store.append(delta(goal, new), new)
        goal = new
        sizes.append((tmp_path / JOURNAL).stat().st_size)
    store.close()
    assert 0 in sizes[1:]  # compacted at least once
    assert max(sizes) <= (tmp_path / SNAPSHOT).stat().st_size + 4096
    loaded = StateStore(tmp_path, H1).load()
    assert loaded is not None and snapshot_of(loaded) == snapshot_of(goal)


def test_resync_repairs_the_data_plane_and_reports_a_recovered_port() -> None:
    sc, ports = network()
    goal = sc.goal(H1)
    broken = {"on": True}

    def fault(item):  # type: ignore[no-untyped-def]
        if broken["on"] and isinstance(item, WirePort) and item.port.port_id == ports["b"]:
            return "netns busy"
        return None

    async def script(s: Session) -> None:
        await s.welcome(resumed=False, revision=goal.revision)
        await s.send(snapshot_of(goal))

    async def main() -> None:
        clock = ManualClock()
        driver = MemoryDriver(IP1, fault=fault)
        async with (
            serving(script) as (ctl, addr),
            running(Agent(config(addr, resync_interval=30.0), driver, clock=clock)) as agent,
        ):
            s = await ctl.wait_sessions(1)
            await wait_for(lambda: s.acks)
            assert [(st.id, st.ok) for st in s.acks[0].statuses] == [(ports["b"], False)]

            # the fault clears, and someone removes an endpoint behind the agent's back
            broken["on"] = False
            key = next(k for k, ep in driver.installed().endpoints.items() if ep.local_port is None)
            driver.execute(Plan((DeleteEndpoints.of([key]),)))
            assert not in_sync(driver, goal)
            await wait_for(lambda: any(d == 30.0 for _, d, _ in clock.sleepers))
            clock.advance(30.0)
            await wait_for(lambda: len(s.acks) == 2)
            again = s.acks[1]
            assert again.revision == goal.revision
            assert [(st.kind, st.id, st.ok, st.reason) for st in again.statuses] == [
                (KIND_PORT, ports["b"], True, "")
            ]
            assert in_sync(driver, goal)

            # nothing changed: the next resync sends nothing
            await wait_for(lambda: any(d == 30.0 for _, d, _ in clock.sleepers))
            clock.advance(30.0)
            await wait_for(lambda: agent.metrics.reconciles.labels("resync")._value.get() == 2)
            assert len(s.acks) == 2

    asyncio.run(main())


def test_a_slow_full_pass_stretches_the_resync_interval_to_its_budget() -> None:
    sc, _ = network()
    goal = sc.goal(H1)
    timer = {"t": 0.0}

    class SlowDataPlane(MemoryDriver):
        """Reading the data plane back takes `cost` seconds on the agent's timer."""

        cost = 0.1

        def installed(self):  # type: ignore[no-untyped-def]
            timer["t"] += self.cost
            return super().installed()

    async def script(s: Session) -> None:
        await s.welcome(resumed=False, revision=goal.revision)
        await s.send(snapshot_of(goal))

    async def main() -> None:
        clock = ManualClock()
        driver = SlowDataPlane(IP1)
        async with serving(script) as (_, addr):
            settings = config(addr, resync_interval=30.0, resync_budget=0.02)
            async with running(Agent(settings, driver, clock=clock, timer=lambda: timer["t"])) as agent:
                resyncs = agent.metrics.reconciles.labels("resync")._value
                await agent.wait_revision(goal.revision, timeout=10)
                await wait_for(lambda: clock.sleepers)
                assert [d for _, d, _ in clock.sleepers] == [30.0]  # 0.1 s / 2% = 5 s: the interval
                driver.cost = 3.0  # the data plane grew: a full pass takes 3 s, so one per 150 s
                clock.advance(30.0)
                await wait_for(lambda: resyncs.get() == 1 and any(d == 150.0 for _, d, _ in clock.sleepers))
                assert agent.metrics.resync_interval._value.get() == 150.0
                driver.cost = 0.01  # and shrank again
                clock.advance(150.0)
                await wait_for(lambda: resyncs.get() == 2 and any(d == 30.0 for _, d, _ in clock.sleepers))
                assert agent.metrics.resync_interval._value.get() == 30.0

    asyncio.run(main())


def test_status_book_says_each_change_once_ports_first_within_its_limit() -> None:
    sc, ports = network()
    goal = sc.goal(H1)
    neighbor = next(iter(goal.neighbors))
    book = StatusBook(limit=1)
    failures = {(KIND_NEIGHBOR, neighbor): "no underlay", (KIND_PORT, ports["a"]): "wire failed"}
    first = book.statuses(failures, goal)
    assert [(s.kind, s.id, s.ok) for s in first] == [(KIND_PORT, ports["a"], False)]
    assert book.pending(failures, goal)
    second = book.statuses(failures, goal)
    assert [(s.kind, s.id) for s in second] == [(KIND_NEIGHBOR, neighbor)]
    assert not book.pending(failures, goal)
    assert book.statuses(failures, goal) == []
    # a carried resource that still fails is listed again (unlisted would mean ok)
    assert [s.id for s in book.statuses(failures, goal, [(KIND_PORT, ports["a"])])] == [ports["a"]]
    # recovered: ok once; a failed resource that left the goal state is forgotten silently
    gone = GoalState(
        host_id=H1, revision=goal.revision + 1, ports=goal.ports, vpcs=goal.vpcs, subnets=goal.subnets
    )
    assert [(s.id, s.ok) for s in book.statuses({}, gone)] == [(ports["a"], True)]
    assert book.reported == {}


def test_backoff_doubles_to_its_cap_with_jitter_and_resets() -> None:
    import random

    b = Backoff(initial=1.0, maximum=8.0, rng=random.Random(1))
    delays = [b.next() for _ in range(6)]
    for d, cap in zip(delays, [1, 2, 4, 8, 8, 8], strict=True):
        assert cap / 2 <= d <= cap
    b.reset()
    assert b.next() <= 1.0
    with pytest.raises(ValueError):
        Backoff(initial=0)
    with pytest.raises(ValueError):
        Backoff(initial=2, maximum=1)


def test_a_driver_that_fails_outright_fails_every_port() -> None:
    from alcor.agent.reconciler import Reconciler

    class Broken(MemoryDriver):
        def execute(self, plan: Plan):  # type: ignore[no-untyped-def]
            raise OSError("bpffs unmounted")

    sc, ports = network()
    goal = sc.goal(H1)
    outcome = Reconciler(Broken(IP1)).reconcile(goal)
    reason = "data-plane driver error: OSError: bpffs unmounted"
    assert outcome.failures == {
        (KIND_PORT, ports["a"]): reason,
        (KIND_PORT, ports["b"]): reason,
        (0, "dataplane"): reason,
    }
