"""Unit tests for each relevance rule of the goal-state engine, and its per-host history."""

from __future__ import annotations

from goalstate_helpers import expected, follow, load
from google.protobuf.field_mask_pb2 import FieldMask

from alcor.controller.goalstate import items as it
from alcor.controller.goalstate import loader
from alcor.controller.state import Store
from alcor.controller.state.testing import ADMIN, Harness
from alcor.internal import command_pb2 as cmd
from alcor.v1 import network_pb2 as net
from alcor.v1 import resources_pb2 as res

PORT, VPC, SUBNET, NEIGHBOR, SG, MEMBERS = (
    it.KIND_PORT, it.KIND_VPC, it.KIND_SUBNET, it.KIND_NEIGHBOR, it.KIND_SECURITY_GROUP, it.KIND_GROUP_MEMBERS,
)  # fmt: skip


def register(h: Harness, host: str, ip: str) -> None:
    h.ok(caller=ADMIN, register_node=cmd.RegisterNode(host_id=host, underlay_ip=ip))


def move(h: Harness, port_id: str, host: str) -> None:
    update = net.UpdatePortRequest(
        port=res.Port(id=port_id, host_id=host), update_mask=FieldMask(paths=["host_id"])
    )
    h.ok(caller=ADMIN, update_port=update)


def test_own_port_subnet_vpc_and_group(store: Store, h: Harness) -> None:
    engine = load(store)
    vpc, subnet = h.network()
    port = h.port(subnet.id, host_id="h1")
    deltas = follow(store, engine)
    assert set(deltas) == {"h1"}
    keys = set(deltas["h1"])
    group = port.security_group_ids[0]
    # the project's default group references itself: its members are sent too
    assert keys == {(PORT, port.id), (SUBNET, subnet.id), (VPC, vpc.id), (SG, group), (MEMBERS, group)}
    sent = deltas["h1"][(PORT, port.id)].port  # type: ignore[union-attr]
    assert sent.status == res.PORT_STATUS_UNSPECIFIED and sent.revision == port.revision
    assert list(deltas["h1"][(MEMBERS, group)].group_members.ip_addresses) == [port.fixed_ips[0].ip_address]  # type: ignore[union-attr]
    assert engine.full("h1") == expected(store, "h1")


def test_unbound_port_is_nowhere(store: Store, h: Harness) -> None:
    _, subnet = h.network()
    h.port(subnet.id, host_id="h1")
    engine = load(store)
    h.port(subnet.id)
    deltas = follow(store, engine)
    # only the member list of the default group changed (the new port's address is a member)
    assert set(deltas) == {"h1"} and {k[0] for k in deltas["h1"]} == {MEMBERS}


def test_neighbors_are_other_hosts_ports_of_the_same_vpc(store: Store, h: Harness) -> None:
    _, a = h.network()
    vpc_b = h.vpc("10.1.0.0/16")
    b = h.subnet(vpc_b.id, "10.1.1.0/24")
    p1 = h.port(a.id, host_id="h1")
    h.port(b.id, host_id="h3")
    register(h, "h2", "192.0.2.2")
    engine = load(store)
    p2 = h.port(a.id, host_id="h2")
    deltas = follow(store, engine)
    assert (NEIGHBOR, p2.id) in deltas["h1"]
    n = deltas["h1"][(NEIGHBOR, p2.id)].neighbor  # type: ignore[union-attr]
    assert (n.host_id, n.host_ip, n.ip_address, n.mac_address) == (
        "h2",
        "192.0.2.2",
        p2.fixed_ips[0].ip_address,
        p2.mac_address,
    )
    # h2 joined the VPC: it gets h1's port as a neighbor; h3 (another VPC) no neighbor, only the
    # new member address of the project's default group, which its own port is in too
    assert (NEIGHBOR, p1.id) in deltas["h2"]
    assert set(deltas["h3"]) == {(MEMBERS, p2.security_group_ids[0])}
    assert (NEIGHBOR, p2.id) not in expected(store, "h2")


def test_a_host_with_no_agent_joining_a_vpc_gets_history_not_items(store: Store, h: Harness) -> None:
    _, a = h.network()
    others = [h.port(a.id, host_id="h1") for _ in range(3)]
    engine = load(store)
    start = engine.revision
    h.port(a.id, host_id="h2")
    with store.read() as txn:
        found = loader.new_events(store.schema, txn, engine.revision)
    assert found is not None
    deltas = engine.apply(*found, wanted=lambda host: host != "h2")
    # its neighbors were not built for it...
    assert not any(key[0] == NEIGHBOR for key in deltas.get("h2", {}))
    # ...but an agent that connects later resumes with them, built then
    resumed = engine.delta_since("h2", start)
    assert resumed is not None and {(NEIGHBOR, p.id) for p in others} <= set(resumed)
    assert {k: v for k, v in resumed.items() if k[0] == NEIGHBOR} == {
        k: v for k, v in expected(store, "h2").items() if k[0] == NEIGHBOR
    }


def test_node_underlay_change_updates_neighbors_elsewhere(store: Store, h: Harness) -> None:
    _, subnet = h.network()
    h.port(subnet.id, host_id="h1")
    p2 = h.port(subnet.id, host_id="h2")
    engine = load(store)
    register(h, "h2", "192.0.2.2")
    deltas = follow(store, engine)
    assert set(deltas) == {"h1"}
    assert deltas["h1"][(NEIGHBOR, p2.id)].neighbor.host_ip == "192.0.2.2"  # type: ignore[union-attr]
    register(h, "h2", "192.0.2.2")  # a refresh that changes nothing the data plane sees
    assert follow(store, engine) == {}


def test_leaving_a_vpc_deletes_it_its_subnets_and_neighbors(store: Store, h: Harness) -> None:
    vpc, subnet = h.network()
    p1 = h.port(subnet.id, host_id="h1")
    p2 = h.port(subnet.id, host_id="h2")
    engine = load(store)
    move(h, p1.id, "h2")
    deltas = follow(store, engine)
    group = p1.security_group_ids[0]
    assert deltas["h1"] == {
        (PORT, p1.id): None, (VPC, vpc.id): None, (SUBNET, subnet.id): None,
        (NEIGHBOR, p2.id): None, (SG, group): None, (MEMBERS, group): None,
    }  # fmt: skip
    assert deltas["h2"][(PORT, p1.id)] is not None
    assert deltas["h2"][(NEIGHBOR, p1.id)] is None  # no longer a neighbor: h2's own port now


def test_referenced_group_members_reach_only_referencing_hosts(store: Store, h: Harness) -> None:
    _, subnet = h.network()
    db = h.security_group("db")
    rule = res.SecurityGroupRule(direction=res.DIRECTION_INGRESS, remote_group_id=db.id)
    web = h.security_group("web", rules=[rule])
    h.port(subnet.id, host_id="h1", security_group_ids=[web.id])
    h.port(subnet.id, host_id="h2", security_group_ids=[db.id])
    engine = load(store)
    assert (MEMBERS, db.id) in engine.full("h1") and (MEMBERS, db.id) not in engine.full("h2")
    p3 = h.port(subnet.id, host_id="h3", security_group_ids=[db.id])
    deltas = follow(store, engine)
    # h1 holds db's members: it gets what changed, not the whole list again
    update = deltas["h1"][(MEMBERS, db.id)]
    assert update is not None and update.WhichOneof("item") == "group_members_change"
    change = update.group_members_change
    assert list(change.added_ip_addresses) == [p3.fixed_ips[0].ip_address]
    assert not change.removed_ip_addresses
    assert p3.fixed_ips[0].ip_address in engine.full("h1")[(MEMBERS, db.id)].group_members.ip_addresses  # type: ignore[union-attr]
    assert (MEMBERS, db.id) not in deltas["h2"] and (MEMBERS, db.id) not in deltas["h3"]
    # deleting the rule removes the members from h1; its group is updated
    h.ok(caller=ADMIN, delete_security_group_rule=net.DeleteSecurityGroupRuleRequest(
        security_group_id=web.id, rule_id=web.rules[0].id))  # fmt: skip
    deltas = follow(store, engine)
    assert set(deltas["h1"]) == {(SG, web.id), (MEMBERS, db.id)} and deltas["h1"][(MEMBERS, db.id)] is None


def test_status_write_back_sends_nothing(store: Store, h: Harness) -> None:
    _, subnet = h.network()
    p1 = h.port(subnet.id, host_id="h1")
    h.port(subnet.id, host_id="h2")
    engine = load(store)
    update = cmd.PortStatusUpdate(
        port_id=p1.id, status=res.PORT_STATUS_ACTIVE, host_id="h1", port_revision=p1.revision
    )
    h.ok(caller=ADMIN, update_port_statuses=cmd.UpdatePortStatuses(updates=[update]))
    assert follow(store, engine) == {}
    assert engine.index.ports[p1.id].status == res.PORT_STATUS_ACTIVE
    assert engine.index.config_revision[p1.id] == p1.revision


def test_delta_since_and_changed_at(store: Store, h: Harness) -> None:
    _, subnet = h.network()
    h.port(subnet.id, host_id="h1")
    engine = load(store, key_history=3)
    start = engine.revision
    assert engine.delta_since("h1", start) == {}
    assert engine.delta_since("h1", start - 1) is None  # before this engine: no history
    assert engine.delta_since("h1", start + 1) is None  # in the future
    assert engine.changed_at("h1", start) == start  # had state at load: conservative
    assert engine.changed_at("h9", start) == 0
    p2 = h.port(subnet.id, host_id="h2")
    follow(store, engine)
    r1 = engine.revision
    assert engine.changed_at("h1", r1) == r1 and engine.changed_at("h1", start) == start
    assert set(engine.delta_since("h1", start) or {}) == {
        (NEIGHBOR, p2.id),
        (MEMBERS, p2.security_group_ids[0]),
    }
    for _ in range(2):  # four more keys changed for h1: more than its key history holds
        h.port(subnet.id, host_id="h2")
        follow(store, engine)
    assert engine.delta_since("h1", start) is None
    assert engine.delta_since("h1", engine.revision) == {}


def big_and_small(h: Harness) -> tuple[res.Subnet, res.Subnet]:
    """A VPC with 12 ports on h0-h2 and an empty one; their subnets."""
    _, big = h.network()
    small_vpc = h.vpc("10.1.0.0/16")
    for i in range(12):
        h.port(big.id, host_id=f"h{i % 3}")
    return big, h.subnet(small_vpc.id, "10.1.1.0/24")


def test_a_host_joining_a_vpc_that_would_be_most_of_its_state_is_sent_a_snapshot(
    store: Store, h: Harness
) -> None:
    big, small = big_and_small(h)
    lone = h.port(small.id, host_id="h9")
    engine = load(store, key_history=8)
    joining = h.port(big.id, host_id="h5")  # h5 joins: 12 neighbors, all of its goal state
    h.port(small.id, host_id="h1")  # h1 joins the small VPC: 1 neighbor next to its 8
    h.port(big.id, host_id="h6")  # h6 joins too, but no agent of h6 is connected
    deltas = follow(store, engine, wanted=lambda host: host != "h6")
    assert deltas["h5"] is None
    assert deltas["h1"] is not None and (NEIGHBOR, lone.id) in deltas["h1"]
    # h6 is sent only what the batch itself touched (h5's new port), not the 12 it joined
    assert deltas["h6"] is not None
    assert [key for key in deltas["h6"] if key[0] == NEIGHBOR] == [(NEIGHBOR, joining.id)]
    # the history says so too: resuming h5 from before the join is a snapshot as well
    assert engine.delta_since("h5", engine.revision - 3) is None
    assert engine.full("h5") == expected(store, "h5")


def test_a_host_leaving_a_vpc_that_held_most_of_its_state_is_sent_a_snapshot(
    store: Store, h: Harness
) -> None:
    big, small = big_and_small(h)
    leaving = h.port(big.id, host_id="h5")
    h.port(small.id, host_id="h5")
    engine = load(store, key_history=8)
    h.ok(caller=ADMIN, delete_port=net.DeleteRequest(id=leaving.id))  # h5 loses 12 neighbors
    deltas = follow(store, engine)
    assert deltas["h5"] is None  # a snapshot of what is left, not 12 deletes
    assert engine.delta_since("h5", engine.revision - 1) is None
    assert engine.full("h5") == expected(store, "h5")
    # the hosts that stay get the port's removal as a delta
    h0 = deltas["h0"]
    assert h0 is not None and (NEIGHBOR, leaving.id) in h0 and h0[(NEIGHBOR, leaving.id)] is None


def test_a_batch_across_a_wide_vpc_gives_each_host_exactly_its_change(store: Store, h: Harness) -> None:
    # Neighbors upserted on every host of their VPC take a shared path (one dict update per
    # host, its own ports taken out); moves, deletes and hosts that own every new port do not.
    _, subnet = h.network("10.0.0.0/16", "10.0.0.0/20")
    hosts = [f"h{i}" for i in range(12)]
    first = [h.port(subnet.id, host_id=host) for host in hosts]
    engine = load(store)
    before = {host: engine.full(host) for host in hosts}
    moved = net.UpdatePortRequest(
        port=res.Port(id=first[0].id, host_id="h1"), update_mask=FieldMask(paths=["host_id"])
    )
    h.batch(
        [
            h.command(create_port=net.CreatePortRequest(subnet_id=subnet.id, host_id=hosts[i % 3]))
            for i in range(9)
        ]
        + [h.command(caller=ADMIN, update_port=moved)]
        + [h.command(delete_port=net.DeleteRequest(id=first[2].id))]
    )
    deltas = follow(store, engine)
    for host in hosts:
        after = expected(store, host)
        assert engine.full(host) == after
        change = {k: v for k, v in after.items() if before[host].get(k) != v}
        change.update({k: None for k in before[host] if k not in after})
        got = deltas.get(host, {})
        assert (host in deltas) == bool(change), host
        # a member list may come as what changed in it (checked by the property test)
        assert set(got) == set(change), host
        assert {k: v for k, v in got.items() if k[0] != MEMBERS} == {
            k: v for k, v in change.items() if k[0] != MEMBERS
        }, host
