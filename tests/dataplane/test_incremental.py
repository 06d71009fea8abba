"""Incremental passes (`incremental.Incremental` through `Reconciler`) equal full recomputes.

Two hosts' data planes take the same random sequences of goal-state deltas: one through a
reconciler given the deltas (incremental wherever it can be), the other through full passes.
After every pass both data planes and both sets of reported failures must be the same. The
neighbors are drawn from small pools so that addresses collide, clash with local ports, turn
bad, move to this host; group members and rules change under the local ports.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alcor.agent.dataplane import model
from alcor.agent.dataplane.memory import MemoryDriver
from alcor.agent.dataplane.model import KIND_NEIGHBOR, GoalState, desired
from alcor.agent.dataplane.plan import Item, SetEndpoints, plan
from alcor.agent.dataplane.rules import INGRESS
from alcor.agent.dataplane.scenario import Scenario
from alcor.agent.reconciler import Reconciler
from alcor.v1 import goalstate_pb2, resources_pb2

HOST, UNDERLAY = "h0", "10.250.0.1"
TCP = resources_pb2.PROTOCOL_TCP
IDS = [f"n{i}" for i in range(10)]


class Counting(MemoryDriver):
    """A memory driver that counts how often it is read back."""

    def __init__(self, *args, **kw) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kw)
        self.reads = 0

    def installed(self):  # type: ignore[no-untyped-def]
        self.reads += 1
        return super().installed()


def base() -> tuple[GoalState, str]:
    """h0 with a port in each of two VPCs of the same CIDR (at the same address); port a's group
    admits tcp/22 from the members of group `peers`. Returns the goal and the peers group id."""
    sc = Scenario()
    sc.host(HOST, UNDERLAY)
    v1, v2 = sc.vpc("10.0.0.0/16", 100), sc.vpc("10.0.0.0/16", 200)
    s1, s2 = sc.subnet(v1, "10.0.1.0/24"), sc.subnet(v2, "10.0.1.0/24")
    peers = sc.security_group(name="peers")
    web = sc.security_group(sc.rule(INGRESS, TCP, (22, 22), group=peers.id), name="web")
    sc.port(s1, HOST, "10.0.1.5", groups=[web.id, peers.id])
    sc.port(s2, HOST, "10.0.1.5")
    return GoalState(HOST).apply(sc.snapshot(HOST)), peers.id


neighbors = st.builds(
    lambda pid, vni, ip, mac, host: goalstate_pb2.Neighbor(
        port_id=pid, vni=vni, ip_address=ip, mac_address=mac, host_id=host[0], host_ip=host[1]
    ),
    st.sampled_from(IDS),
    st.sampled_from([100, 100, 200, 0]),
    st.sampled_from(["10.0.1.5", "10.0.1.6", "10.0.1.7", "10.0.1.8", "10.0.1.9", "10.0.2.1", "bad"]),
    st.sampled_from(["fa:16:3e:00:00:01", "FA:16:3E:00:00:02", "fa:16:3e:00:00:03", "zz"]),
    st.sampled_from([("h1", "10.250.0.2"), ("h2", "10.250.0.3"), ("h3", ""), (HOST, UNDERLAY)]),
)
# one goal-state item or delete: ("n", Neighbor) | ("del", id) | ("members", [ips]) | ("rule", port)
changes = st.one_of(
    st.tuples(st.just("n"), neighbors),
    st.tuples(st.just("n"), neighbors),
    st.tuples(st.just("del"), st.sampled_from(IDS)),
    st.tuples(
        st.just("members"), st.lists(st.sampled_from(["10.0.1.6", "10.0.1.7", "10.0.3.3"]), unique=True)
    ),
    st.tuples(st.just("rule"), st.integers(1, 65535)),
)
# passes, each of a few deltas, each of a few changes
passes = st.lists(st.lists(st.lists(changes, min_size=1, max_size=3), min_size=1, max_size=3), max_size=12)


def delta(goal: GoalState, items: list, peers: str) -> goalstate_pb2.GoalStateUpdate:
    update = goalstate_pb2.GoalStateUpdate(base_revision=goal.revision, revision=goal.revision + 1)
    for what, arg in items:
        if what == "n":
            update.upserts.add().neighbor.CopyFrom(arg)
        elif what == "del":
            update.deletes.add(kind=KIND_NEIGHBOR, id=arg)
        elif what == "members":
            update.upserts.add().group_members.CopyFrom(
                goalstate_pb2.GroupMembers(security_group_id=peers, ip_addresses=sorted(arg))
            )
        else:
            web = next(g for g in goal.security_groups.values() if g.name == "web")
            changed = update.upserts.add().security_group
            changed.CopyFrom(web)
            changed.rules.add(direction=INGRESS, protocol=TCP, port_range_min=arg, port_range_max=arg)
    return update


@contextmanager
def neighbors_layered_from(size: int) -> Iterator[None]:
    """GoalState.apply makes `Layered` neighbor tables from `size` neighbors on."""
    default = model.LAYERED_NEIGHBORS
    model.LAYERED_NEIGHBORS = size
    try:
        yield
    finally:
        model.LAYERED_NEIGHBORS = default


@pytest.mark.parametrize("layered", [False, True], ids=["dict", "layered"])
@settings(max_examples=200, deadline=None)
@given(script=passes)
def test_incremental_passes_equal_full_passes(layered: bool, script: list) -> None:
    with neighbors_layered_from(0 if layered else model.LAYERED_NEIGHBORS):
        _incremental_passes_equal_full_passes(script)


def _incremental_passes_equal_full_passes(script: list) -> None:
    goal, peers = base()
    fast, full = MemoryDriver(UNDERLAY), MemoryDriver(UNDERLAY)
    by_delta, by_full = Reconciler(fast), Reconciler(full)
    by_delta.reconcile(goal)
    by_full.reconcile(goal)
    for deltas in script:
        updates = []
        for items in deltas:
            updates.append(delta(goal, items, peers))
            goal = goal.apply(updates[-1])
        a, b = by_delta.reconcile(goal, updates), by_full.reconcile(goal)
        assert a.report.ok and b.report.ok and not b.incremental
        assert fast.installed() == full.installed()
        assert dict(a.failures) == dict(b.failures)
        assert not plan(desired(goal), fast.installed()).items


def test_a_new_neighbor_is_one_entry_planned_without_reading_the_data_plane() -> None:
    goal, _ = base()
    snapshot = goalstate_pb2.GoalStateUpdate(base_revision=goal.revision, revision=goal.revision + 1)
    for i in range(1000):
        snapshot.upserts.add().neighbor.CopyFrom(
            goalstate_pb2.Neighbor(
                port_id=f"p{i}", vni=100, ip_address=f"10.0.{10 + i // 250}.{i % 250 + 1}",
                mac_address="fa:16:3e:00:00:01", host_id="h1", host_ip="10.250.0.2",
            )
        )  # fmt: skip
    goal = goal.apply(snapshot)
    driver = Counting(UNDERLAY)
    reconciler = Reconciler(driver)
    assert not reconciler.reconcile(goal).incremental
    reads = driver.reads
    new = goalstate_pb2.Neighbor(
        port_id="p-new", vni=100, ip_address="10.0.50.1", mac_address="fa:16:3e:00:00:02",
        host_id="h2", host_ip="10.250.0.3",
    )  # fmt: skip
    update = goalstate_pb2.GoalStateUpdate(base_revision=goal.revision, revision=goal.revision + 1)
    update.upserts.add().neighbor.CopyFrom(new)
    gone = goalstate_pb2.GoalStateUpdate(base_revision=goal.revision + 1, revision=goal.revision + 2)
    gone.deletes.add(kind=KIND_NEIGHBOR, id="p7")
    after = goal.apply(update).apply(gone)
    outcome = reconciler.reconcile(after, [update, gone])
    assert outcome.incremental and outcome.report.ok
    assert outcome.plan.counts() == {"SetEndpoint": 1, "DeleteEndpoint": 1}
    assert driver.reads == reads
    assert not plan(desired(after), driver.installed()).items


def test_a_failed_incremental_pass_is_followed_by_a_full_pass_that_repairs_it() -> None:
    goal, _ = base()
    failing = {"on": False}

    def fault(item: Item) -> str | None:
        return "map full" if failing["on"] and isinstance(item, SetEndpoints) else None

    driver = MemoryDriver(UNDERLAY, fault=fault)
    reconciler = Reconciler(driver)
    reconciler.reconcile(goal)
    revision = goal.revision
    outcomes = []
    for i, fail in enumerate([True, False]):
        failing["on"] = fail
        update = goalstate_pb2.GoalStateUpdate(base_revision=revision, revision=revision + 1)
        update.upserts.add().neighbor.CopyFrom(
            goalstate_pb2.Neighbor(
                port_id=f"p{i}", vni=100, ip_address=f"10.0.1.{20 + i}", mac_address="fa:16:3e:00:00:01",
                host_id="h1", host_ip="10.250.0.2",
            )
        )  # fmt: skip
        goal, revision = goal.apply(update), revision + 1
        outcomes.append(reconciler.reconcile(goal, [update]))
    assert outcomes[0].incremental and not outcomes[0].report.ok
    assert outcomes[0].failures == {(KIND_NEIGHBOR, "p0"): "map full"}
    # the next delta is planned against the data plane again: both neighbors go in
    assert not outcomes[1].incremental and outcomes[1].report.ok
    assert outcomes[1].plan.counts() == {"SetEndpoint": 2}
    assert not plan(desired(goal), driver.installed()).items


def test_two_neighbors_at_one_address_take_a_full_pass() -> None:
    goal, _ = base()
    reconciler = Reconciler(MemoryDriver(UNDERLAY))
    reconciler.reconcile(goal)
    outcomes = []
    for i, host in enumerate([("h1", "10.250.0.2"), ("h2", "10.250.0.3")]):
        update = goalstate_pb2.GoalStateUpdate(base_revision=goal.revision, revision=goal.revision + 1)
        update.upserts.add().neighbor.CopyFrom(
            goalstate_pb2.Neighbor(
                port_id=f"p{i}", vni=100, ip_address="10.0.1.30", mac_address="fa:16:3e:00:00:01",
                host_id=host[0], host_ip=host[1],
            )
        )  # fmt: skip
        goal = goal.apply(update)
        outcomes.append(reconciler.reconcile(goal, [update]))
    assert [o.incremental for o in outcomes] == [True, False]
    # as a full pass decides: the later neighbor's host
    (value,) = reconciler.driver.installed().endpoints.remote.values()
    assert value[4:8] == bytes([10, 250, 0, 3])
