"""The in-memory data plane: packets' outcomes (delivered where, or dropped why)."""

from __future__ import annotations

from alcor.agent.dataplane.driver import Driver
from alcor.agent.dataplane.memory import MemoryDriver
from alcor.agent.dataplane.model import (
    DEFAULT_GATEWAY_MAC,
    KIND_NEIGHBOR,
    KIND_PORT,
    EndpointKey,
    State,
    desired,
    owners,
)
from alcor.agent.dataplane.packet import COUNTERS, Packet
from alcor.agent.dataplane.plan import SetEndpoints, WirePort, plan
from alcor.agent.dataplane.rules import INGRESS

H1, H2 = "10.250.0.1", "10.250.0.2"


def ping(net, src: str, dst_ip: str):
    return net.send(src, Packet.ping(net.mac(src), net.ip(src), dst_ip))


def tcp(net, src: str, dst_ip: str, dport: int, sport: int = 40000):
    return net.send(src, Packet.tcp(net.mac(src), net.ip(src), dst_ip, dport, sport))


def test_memory_driver_is_a_driver() -> None:
    assert isinstance(MemoryDriver(), Driver)


def test_same_host_and_cross_host_and_cross_subnet(net) -> None:
    assert ping(net, "a", "10.0.1.6").to == (H1, net.ports["b"].id)
    there = ping(net, "a", "10.0.1.7")
    assert there.to == (H2, net.ports["c"].id)
    assert [h.reason for h in there.hops] == ["tx_tunnel", "tx_local"]
    assert there.hops[0].vni == 100 and there.hops[0].host_ip == H2
    assert there.decision.packet.dst_mac == net.mac("c")
    assert there.decision.packet.src_mac == DEFAULT_GATEWAY_MAC
    assert there.decision.packet.ttl == 63  # one routed hop
    assert ping(net, "a", "10.0.2.8").to == (H2, net.ports["d"].id)  # another subnet of the VPC


def test_vpcs_with_the_same_cidr_are_isolated(net) -> None:
    # x (vpc2) has a's address; it reaches vpc2's y and nothing of vpc1
    assert ping(net, "x", "10.0.1.9").to == (H2, net.ports["y"].id)
    assert ping(net, "x", "10.0.1.7").reason == "drop_no_route"
    assert ping(net, "x", "10.0.1.6").reason == "drop_no_route"
    assert ping(net, "y", "10.0.1.5").to == (H1, net.ports["x"].id)
    assert ping(net, "c", "10.0.1.5").to == (H1, net.ports["a"].id)


def test_security_group_allows_one_port_from_one_prefix(net) -> None:
    assert tcp(net, "b", "10.0.1.5", 80).to == (H1, net.ports["a"].id)
    assert tcp(net, "b", "10.0.1.5", 22).reason == "drop_sg_ingress"
    assert tcp(net, "d", "10.0.1.5", 80).reason == "drop_sg_ingress"  # 10.0.2.8 is outside the prefix
    assert tcp(net, "c", "10.0.1.5", 80).to == (H1, net.ports["a"].id)  # remote host, inside the prefix


def test_replies_of_allowed_flows_pass_and_nothing_else(net) -> None:
    # a may send anything (egress all) but accepts only ping and tcp/80
    assert tcp(net, "b", "10.0.1.5", 40000, sport=5000).reason == "drop_sg_ingress"
    there, back = net.fabric.exchange(
        H1, net.ports["a"].id, Packet.tcp(net.mac("a"), "10.0.1.5", "10.0.1.7", 5000)
    )
    assert (there.host, there.reason, back) == (H2, "drop_sg_ingress", None)  # c accepts only tcp/80
    there, back = net.fabric.exchange(
        H1, net.ports["a"].id, Packet.tcp(net.mac("a"), "10.0.1.5", "10.0.1.6", 5000)
    )
    assert there.to == (H1, net.ports["b"].id)
    assert back is not None and back.to == (H1, net.ports["a"].id)


def test_a_rule_added_live_takes_effect_and_a_removed_one_cuts_flows(net) -> None:
    assert tcp(net, "d", "10.0.1.5", 22).reason == "drop_sg_ingress"
    net.sc.add_rule(net.sg, net.sc.rule(INGRESS, 6, (22, 22), "10.0.2.0/24"))
    net.sync()
    assert tcp(net, "d", "10.0.1.5", 22).to == (H1, net.ports["a"].id)
    # an established flow is re-checked once the rule that allowed it is gone
    net.sc.remove_rule(net.sg, len(net.sc.groups[net.sg].rules) - 1)
    net.sync()
    assert tcp(net, "d", "10.0.1.5", 22).reason == "drop_sg_ingress"


def test_spoofing_is_dropped(net) -> None:
    a = net.ports["a"]
    assert net.send("a", Packet.ping(a.mac_address, "10.0.1.6", "10.0.1.7")).reason == "drop_spoof_ip"
    assert net.send("a", Packet.ping("fa:16:3e:de:ad:00", "10.0.1.5", "10.0.1.7")).reason == "drop_spoof_mac"
    # through the tunnel: h1 claims c's address (owned by h2) in a packet to h2's d
    h2 = net.fabric.hosts[H2]
    forged = Packet.ping("02:00:00:00:00:01", "10.0.1.7", "10.0.2.8")
    assert h2.receive(100, H1, forged).reason == "drop_tunnel_src"
    assert (
        h2.receive(100, "10.250.0.77", Packet.ping("02:00:00:00:00:01", "10.0.1.5", "10.0.2.8")).reason
        == "drop_tunnel_src"
    )
    assert h2.receive(100, H1, Packet.ping("02:00:00:00:00:01", "10.0.1.5", "10.0.2.8")).delivered


def test_a_deleted_port_stops_receiving(net) -> None:
    c = net.ports["c"].id
    net.sc.delete_port(c)
    net.sync()
    assert ping(net, "a", "10.0.1.7").reason == "drop_no_route"
    # a packet already in flight to h2 finds no endpoint either
    h2 = net.fabric.hosts[H2]
    assert h2.receive(100, H1, Packet.ping(net.mac("a"), "10.0.1.5", "10.0.1.7")).reason == "drop_no_route"
    assert c not in h2.installed().ports


def test_arp_is_answered_with_the_gateway_mac(net) -> None:
    d = net.send("a", Packet.arp(net.mac("a"), "10.0.1.5", "10.0.1.1"))
    assert d.decision.action == "arp_reply"
    assert (d.decision.packet.src_mac, d.decision.packet.src_ip, d.decision.packet.dst_mac) == (
        DEFAULT_GATEWAY_MAC,
        "10.0.1.1",
        net.mac("a"),
    )
    assert net.send("a", Packet.arp(net.mac("a"), "10.0.1.5", "10.0.1.5")).reason == "drop_arp"
    assert net.send("a", Packet.arp(net.mac("a"), "10.0.1.6", "10.0.1.1")).reason == "drop_spoof_ip"
    ipv6 = Packet(net.mac("a"), "10.0.1.5", "10.0.1.6", ethertype="ipv6")
    assert net.send("a", ipv6).reason == "drop_not_ipv4"


def test_counters_count_outcomes_and_drop_reasons(net) -> None:
    ping(net, "a", "10.0.1.7")
    tcp(net, "d", "10.0.1.5", 22)
    h1, h2 = net.fabric.hosts[H1].counters(), net.fabric.hosts[H2].counters()
    assert list(h1) == list(COUNTERS)
    assert (h1["rx_workload"], h1["tx_tunnel"], h1["rx_tunnel"], h1["drop_sg_ingress"]) == (1, 1, 1, 1)
    assert (h2["rx_workload"], h2["tx_tunnel"], h2["rx_tunnel"], h2["tx_local"]) == (1, 1, 1, 1)


def test_failures_are_reported_per_item_and_retried(net) -> None:
    net.sc.port(net.sc.subnets[net.ports["a"].subnet_id], "h1", "10.0.1.20", groups=[net.sg])
    new = max(net.sc.ports)
    h1 = net.fabric.hosts[H1]
    h1.fault = lambda item: "no veth for you" if isinstance(item, WirePort) else None
    want = desired(net.sc.goal("h1"))
    report = h1.execute(plan(want, h1.installed()))
    assert report.resources(owners(net.sc.goal("h1"), want)) == {(KIND_PORT, new): "no veth for you"}
    dependent = {type(r.item).__name__: r.reason for r in report if not r.ok and type(r.item) is not WirePort}
    assert dependent == {
        "SetRule": f"port {new} is not wired",
        "SetPort": f"port {new} is not wired",
        "SetEndpoint": f"port {new} is not wired",
    }
    assert ping(net, "a", "10.0.1.6").delivered  # the rest of the plan was applied
    h1.fault = None
    assert h1.execute(plan(want, h1.installed())).ok
    assert len(plan(want, h1.installed())) == 0


def test_a_full_endpoint_table_fails_the_items_that_do_not_fit(net) -> None:
    small = MemoryDriver(H1, endpoint_capacity=4)
    goal = net.sc.goal("h1")
    want = desired(goal)
    report = small.execute(plan(want, State()))
    failed = report.resources(owners(goal, want))
    assert len(want.endpoints) - 4 == len(failed)
    assert set(failed.values()) == {"endpoint table full"}
    assert {kind for kind, _ in failed} <= {KIND_PORT, KIND_NEIGHBOR}


def test_a_bulk_update_that_fails_in_part_names_each_neighbor_left_out(net) -> None:
    goal = net.sc.goal("h1")
    want = desired(goal)
    room = len(want.endpoints.local) + 1  # every local endpoint and one remote one fit
    small = MemoryDriver(H1, endpoint_capacity=room)
    report = small.execute(plan(want, State()))
    installed = small.installed().endpoints
    left_out = {
        (KIND_NEIGHBOR, pid)
        for pid, n in goal.neighbors.items()
        if EndpointKey(n.vni, n.ip_address) not in installed
    }
    assert len(installed) == room and len(left_out) == len(want.endpoints) - room > 0
    assert report.resources(owners(goal, want)) == dict.fromkeys(left_out, "endpoint table full")
    assert [type(item) for item in report.failed] == [SetEndpoints]
    # with room, the next plan adds exactly what was left out
    small.endpoint_capacity = len(want.endpoints)
    retry = plan(want, small.installed())
    assert retry.counts() == {"SetEndpoint": len(left_out)}
    assert small.execute(retry).ok and len(plan(want, small.installed())) == 0
