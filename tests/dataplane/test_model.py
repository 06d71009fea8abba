"""The goal-state container and `desired`: what a host's goal state asks of its data plane."""

from __future__ import annotations

import random

import pytest

from alcor.agent.dataplane.layered import Layered
from alcor.agent.dataplane.model import (
    KIND_NEIGHBOR,
    KIND_PORT,
    LAYERED_NEIGHBORS,
    Address,
    Endpoint,
    EndpointKey,
    Endpoints,
    GoalState,
    OutOfOrder,
    desired,
)
from alcor.agent.dataplane.rules import INGRESS, RuleKey
from alcor.agent.dataplane.scenario import Scenario
from alcor.agent.store import snapshot_of
from alcor.v1 import goalstate_pb2, resources_pb2


def test_local_ports_and_neighbors_become_endpoints(net) -> None:
    d = desired(net.sc.goal("h1"))
    a, c, x = net.ports["a"], net.ports["c"], net.ports["x"]
    assert d.endpoints[EndpointKey(100, "10.0.1.5")] == Endpoint(a.id, None, a.mac_address)
    assert d.endpoints[EndpointKey(200, "10.0.1.5")] == Endpoint(x.id, None, x.mac_address)
    assert d.endpoints[EndpointKey(100, "10.0.1.7")] == Endpoint(None, "10.250.0.2", c.mac_address)
    local = d.ports[a.id]
    assert (local.vni, local.addresses, local.gateway_ip) == (100, (Address("10.0.1.5", 24),), "10.0.1.1")
    assert local.sg_enabled and local.rules_version
    assert not d.ports[net.ports["b"].id].sg_enabled  # no groups: not filtered
    assert RuleKey(INGRESS, 6, "10.0.1.0/24") in d.rules[a.id]
    assert set(d.ports) == {net.ports[n].id for n in "abx"}
    assert not d.problems


def test_unrealisable_resources_are_reported_not_raised(net) -> None:
    goal = net.sc.goal("h1")
    c = net.ports["c"].id
    neighbors = dict(goal.neighbors)
    neighbors[c] = goalstate_pb2.Neighbor(
        port_id=c, vni=100, ip_address="10.0.1.7", mac_address="fa:16:3e:00:00:09", host_id="h9"
    )  # host not registered yet
    ports = dict(goal.ports)
    broken = ports[net.ports["b"].id].__deepcopy__()
    broken.subnet_id = "gone"
    broken.fixed_ips[0].subnet_id = "gone"
    ports[broken.id] = broken
    d = desired(
        GoalState(
            goal.host_id,
            goal.revision,
            goal.vpcs,
            goal.subnets,
            ports,
            neighbors,
            goal.security_groups,
            goal.group_members,
        )
    )
    assert d.problems[(KIND_NEIGHBOR, c)] == "host h9 has no underlay ip yet"
    assert "subnet gone" in d.problems[(KIND_PORT, broken.id)]
    assert broken.id not in d.ports and EndpointKey(100, "10.0.1.7") not in d.endpoints


def test_a_neighbor_never_shadows_a_local_port(net) -> None:
    goal = net.sc.goal("h1")
    a = net.ports["a"]
    neighbors = dict(goal.neighbors)
    neighbors["stale"] = goalstate_pb2.Neighbor(
        port_id="stale",
        vni=100,
        ip_address="10.0.1.5",
        mac_address="fa:16:3e:00:00:99",
        host_id="h2",
        host_ip="10.250.0.2",
    )
    d = desired(GoalState("h1", 1, goal.vpcs, goal.subnets, goal.ports, neighbors, goal.security_groups, {}))
    assert d.endpoints[EndpointKey(100, "10.0.1.5")].local_port == a.id
    assert d.problems[(KIND_NEIGHBOR, "stale")] == "address 10.0.1.5 is a port on this host"


def _neighbor(i: int, mac: str) -> goalstate_pb2.Neighbor:
    return goalstate_pb2.Neighbor(
        port_id=f"n{i}",
        vni=100,
        ip_address=f"10.0.3.{i}",
        mac_address=mac,
        host_id="h2",
        host_ip="10.250.0.2",
    )


def test_each_bad_neighbor_mac_is_found_among_good_ones(net) -> None:
    """MACs are checked in bulk; one bad MAC sends the check through neighbor by neighbor, which
    names exactly the bad ones and keeps the rest. Case does not matter (a MAC is bytes)."""
    goal = net.sc.goal("h1")
    neighbors = dict(goal.neighbors)
    macs = {1: "fa:16:3e:00:03:01", 2: "FA:16:3E:00:03:02", 3: "fa:16:3e:00:03:zz", 4: "fa:16:3e:00:0304"}
    macs |= {5: "fa:16:3e:00:03:05 ", 6: "fa-16-3e-00-03-06", 7: "fa:16:3e:00:03:07"}
    for i, mac in macs.items():
        neighbors[f"n{i}"] = _neighbor(i, mac)
    d = desired(GoalState("h1", 1, goal.vpcs, goal.subnets, goal.ports, neighbors, goal.security_groups, {}))
    bad = {f"n{i}" for i in (3, 4, 5, 6)}
    assert {pid for kind, pid in d.problems if kind == KIND_NEIGHBOR} == bad
    assert d.endpoints[EndpointKey(100, "10.0.3.2")] == Endpoint(None, "10.250.0.2", "fa:16:3e:00:03:02")
    assert {k.ip for k in d.endpoints if k.ip.startswith("10.0.3.")} == {"10.0.3.1", "10.0.3.2", "10.0.3.7"}
    # the same table whichever way it was built
    assert d.endpoints == Endpoints.of(d.endpoints.items())
    keys, values = d.endpoints.remote_bulk()
    assert len(keys) // 8 == len(values) // 16 == len(d.endpoints.remote)


def test_apply_snapshot_then_deltas() -> None:
    sc = Scenario()
    sc.host("h1", "10.250.0.1")
    vpc = sc.vpc("10.0.0.0/16", 7)
    sn = sc.subnet(vpc, "10.0.0.0/24")
    p = sc.port(sn, "h1", "10.0.0.5")
    goal = GoalState("h1").apply(sc.snapshot("h1"))
    assert set(goal.ports) == {p.id} and goal.revision == sc.revision
    delta = goalstate_pb2.GoalStateUpdate(base_revision=goal.revision, revision=goal.revision + 1)
    delta.upserts.add().neighbor.CopyFrom(goalstate_pb2.Neighbor(port_id="n1", vni=7, ip_address="10.0.0.9"))
    delta.deletes.add(kind=goalstate_pb2.GOAL_STATE_KIND_PORT, id=p.id)
    after = goal.apply(delta)
    assert set(after.neighbors) == {"n1"} and not after.ports
    assert after.vpcs is goal.vpcs  # untouched collections are shared, not copied
    assert set(goal.ports) == {p.id}  # the old value is unchanged
    with pytest.raises(OutOfOrder):
        after.apply(delta)


def test_apply_keeps_each_kind_apart_in_a_mixed_update() -> None:
    """Neighbors take a bulk path; other items (and a neighbor without a port id) the general one."""
    snap = goalstate_pb2.GoalStateUpdate(revision=1, full=True)
    snap.upserts.add().neighbor.CopyFrom(goalstate_pb2.Neighbor(port_id="", vni=7, ip_address="10.0.0.2"))
    snap.upserts.add().neighbor.CopyFrom(goalstate_pb2.Neighbor(port_id="n1", vni=7, ip_address="10.0.0.3"))
    goal = GoalState("h1").apply(snap)
    assert {k: n.ip_address for k, n in goal.neighbors.items()} == {"": "10.0.0.2", "n1": "10.0.0.3"}
    delta = goalstate_pb2.GoalStateUpdate(base_revision=1, revision=2)
    delta.upserts.add().vpc.CopyFrom(resources_pb2.Vpc(id="v1", vni=7))
    delta.upserts.add().neighbor.CopyFrom(goalstate_pb2.Neighbor(port_id="n1", vni=7, ip_address="10.0.0.4"))
    delta.upserts.add().neighbor.CopyFrom(goalstate_pb2.Neighbor(port_id="n2", vni=7, ip_address="10.0.0.5"))
    after = goal.apply(delta)
    assert {k: n.ip_address for k, n in after.neighbors.items()} == {
        "": "10.0.0.2",
        "n1": "10.0.0.4",
        "n2": "10.0.0.5",
    }
    assert set(after.vpcs) == {"v1"} and after.vpcs["v1"].vni == 7


def test_incremental_equals_full_recompute() -> None:
    """Random changes to a network, fed to a host as deltas, give the same desired state as a
    snapshot of the final network."""
    rng = random.Random(7)
    sc = Scenario()
    for h in range(3):
        sc.host(f"h{h}", f"10.250.0.{h + 1}")
    vpcs = [sc.vpc("10.0.0.0/16", 100 + i) for i in range(2)]
    subnets = [sc.subnet(v, "10.0.1.0/24") for v in vpcs]
    groups = [sc.security_group(sc.rule(INGRESS, 6, (80, 80)))]
    goal = GoalState("h0").apply(sc.snapshot("h0"))
    used: set[tuple[str, str]] = set()
    for step in range(60):
        before = sc.goal("h0")
        op = rng.random()
        if op < 0.5 or not sc.ports:
            sn = rng.choice(subnets)
            ip = f"10.0.1.{rng.randint(2, 250)}"
            if (sn.vpc_id, ip) in used:
                continue
            used.add((sn.vpc_id, ip))
            sc.port(sn, f"h{rng.randint(0, 2)}", ip, groups=[groups[0].id] if rng.random() < 0.5 else [])
        elif op < 0.8:
            pid = rng.choice(sorted(sc.ports))
            p = sc.ports[pid]
            used.discard((p.vpc_id, p.fixed_ips[0].ip_address))
            sc.delete_port(pid)
        else:
            sc.add_rule(groups[0].id, sc.rule(INGRESS, 6, (rng.randint(1, 1000),) * 2, f"10.0.{step}.0/24"))
        goal = goal.apply(_delta(before, sc.goal("h0")))
    full = GoalState("h0").apply(sc.snapshot("h0"))
    assert desired(goal) == desired(full)


def _delta(old: GoalState, new: GoalState) -> goalstate_pb2.GoalStateUpdate:
    """What the controller would send to take a host from `old` to `new`."""
    update = goalstate_pb2.GoalStateUpdate(base_revision=old.revision, revision=new.revision)
    for field, kind, attr in (
        ("vpc", 1, "vpcs"),
        ("subnet", 2, "subnets"),
        ("port", 3, "ports"),
        ("neighbor", 4, "neighbors"),
        ("security_group", 5, "security_groups"),
        ("group_members", 6, "group_members"),
    ):
        a, b = getattr(old, attr), getattr(new, attr)
        for key, msg in b.items():
            if key not in a or a[key] != msg:
                getattr(update.upserts.add(), field).CopyFrom(msg)
        for key in a.keys() - b.keys():
            update.deletes.add(kind=kind, id=key)
    return update


def test_a_member_change_applies_to_the_held_list_in_address_order() -> None:
    def update(base: int, revision: int, item: goalstate_pb2.GoalStateItem) -> goalstate_pb2.GoalStateUpdate:
        return goalstate_pb2.GoalStateUpdate(base_revision=base, revision=revision, upserts=[item])

    held = goalstate_pb2.GroupMembers(security_group_id="g", ip_addresses=["10.0.0.2", "10.0.0.9"])
    goal = GoalState(host_id="h").apply(update(0, 1, goalstate_pb2.GoalStateItem(group_members=held)))
    change = goalstate_pb2.GroupMembersChange(
        security_group_id="g", added_ip_addresses=["10.0.0.10", "10.0.0.1"], removed_ip_addresses=["10.0.0.9"]
    )
    goal = goal.apply(update(1, 2, goalstate_pb2.GoalStateItem(group_members_change=change)))
    assert list(goal.group_members["g"].ip_addresses) == ["10.0.0.1", "10.0.0.2", "10.0.0.10"]
    unknown = goalstate_pb2.GroupMembersChange(security_group_id="other", added_ip_addresses=["10.0.0.3"])
    with pytest.raises(OutOfOrder):
        goal.apply(update(2, 3, goalstate_pb2.GoalStateItem(group_members_change=unknown)))


def _far(i: int, mac: str = "fa:16:3e:00:00:01") -> goalstate_pb2.Neighbor:
    return goalstate_pb2.Neighbor(
        port_id=f"n{i}", vni=100, ip_address=f"10.1.{i >> 8}.{i & 255}", mac_address=mac,
        host_id="h2", host_ip="10.250.0.2",
    )  # fmt: skip


def test_a_large_neighbors_table_gets_new_versions_not_copies() -> None:
    snapshot = goalstate_pb2.GoalStateUpdate(revision=1, full=True)
    for i in range(LAYERED_NEIGHBORS):
        snapshot.upserts.add().neighbor.CopyFrom(_far(i))
    goal = GoalState("h").apply(snapshot)
    delta = goalstate_pb2.GoalStateUpdate(base_revision=1, revision=2)
    delta.upserts.add().neighbor.CopyFrom(_far(LAYERED_NEIGHBORS))
    delta.upserts.add().neighbor.CopyFrom(_far(3, "fa:16:3e:00:00:03"))
    delta.deletes.add(kind=KIND_NEIGHBOR, id="n5")
    after = goal.apply(delta)
    assert isinstance(after.neighbors, Layered)
    assert len(after.neighbors) == len(goal.neighbors) == LAYERED_NEIGHBORS
    assert after.neighbors["n3"].mac_address == "fa:16:3e:00:00:03"
    assert goal.neighbors["n3"].mac_address == "fa:16:3e:00:00:01"  # the old goal state keeps its own
    assert "n5" in goal.neighbors and "n5" not in after.neighbors
    assert desired(after) == desired(GoalState("h").apply(snapshot_of(after)))
