"""The plan: ordered make-before-break, and empty once converged."""

from __future__ import annotations

import random

import pytest

from alcor.agent.dataplane import packet as pk
from alcor.agent.dataplane.memory import MemoryDriver
from alcor.agent.dataplane.model import State, desired, unpack_key, unpack_remote
from alcor.agent.dataplane.plan import (
    DeleteEndpoints,
    DeletePort,
    DeleteRule,
    SetConfig,
    SetEndpoint,
    SetEndpoints,
    SetPort,
    SetRule,
    WirePort,
    plan,
)
from alcor.agent.dataplane.rules import EGRESS, INGRESS
from alcor.agent.dataplane.scenario import Scenario

PHASES = [
    SetConfig,
    WirePort,
    SetRule,
    SetPort,
    SetEndpoint,
    SetEndpoints,
    DeleteEndpoints,
    DeleteRule,
    DeletePort,
]


def test_first_plan_builds_in_order(net) -> None:
    p = plan(desired(net.sc.goal("h1")), State())
    kinds = [type(i) for i in p]
    assert kinds == sorted(kinds, key=PHASES.index)
    assert p.counts() == {"SetConfig": 1, "WirePort": 3, "SetRule": 3, "SetPort": 3, "SetEndpoint": 6}


def test_converged_plan_is_empty(net) -> None:
    for host_id, ip in net.sc.hosts.items():
        assert len(plan(desired(net.sc.goal(host_id)), net.fabric.hosts[ip].installed())) == 0


def _ops(net, host="h1"):
    driver = net.fabric.hosts[net.sc.hosts[host]]
    return list(plan(desired(net.sc.goal(host)), driver.installed()))


def test_a_port_enforces_only_after_its_rules_are_in(net) -> None:
    b = net.ports["b"].id
    net.sc.update_port(b, security_group_ids=[net.sg])
    ops = _ops(net)
    first_port = next(i for i, op in enumerate(ops) if isinstance(op, SetPort) and op.port.port_id == b)
    rules = [i for i, op in enumerate(ops) if isinstance(op, SetRule) and op.port_id == b]
    assert rules and max(rules) < first_port and ops[first_port].port.sg_enabled


def test_a_port_stops_enforcing_before_its_rules_go(net) -> None:
    a = net.ports["a"].id
    net.sc.update_port(a, security_group_ids=[])
    ops = _ops(net)
    off = next(i for i, op in enumerate(ops) if isinstance(op, SetPort) and op.port.port_id == a)
    deletes = [i for i, op in enumerate(ops) if isinstance(op, DeleteRule) and op.port_id == a]
    assert deletes and off < min(deletes) and not ops[off].port.sg_enabled


def test_changed_rules_go_in_first_and_conntrack_is_rechecked_last(net) -> None:
    net.sc.remove_rule(net.sg, 1)  # tcp/80 from 10.0.1.0/24
    net.sc.add_rule(net.sg, net.sc.rule(INGRESS, 6, (443, 443), "10.0.0.0/16"))
    a = net.ports["a"].id
    ops = [
        op
        for op in _ops(net)
        if getattr(op, "port_id", None) == a or (isinstance(op, SetPort) and op.port.port_id == a)
    ]
    assert [type(op) for op in ops] == [SetRule, DeleteRule, SetPort]


def test_moving_a_port_to_another_namespace_takes_it_down_first(net) -> None:
    a = net.ports["a"].id
    net.sc.update_port(a, device_id="their-ns")
    ops = _ops(net)
    assert isinstance(ops[0], DeleteEndpoints)
    assert [unpack_key(k).ip for k in ops[0].each_key()] == ["10.0.1.5"]
    down = next(i for i, op in enumerate(ops) if isinstance(op, DeletePort))
    up = next(i for i, op in enumerate(ops) if isinstance(op, WirePort))
    assert ops[down].port_id == a and down < up and ops[up].port.device_id == "their-ns"


def test_remote_endpoints_change_in_bulk_and_only_what_changed(net) -> None:
    net.sc.host("h3", "10.250.0.3")
    c, y = net.ports["c"].id, net.ports["y"].id
    net.sc.update_port(c, host_id="h3")  # h1 now reaches c through h3
    net.sc.delete_port(y)
    ops = _ops(net)
    assert [type(op) for op in ops] == [SetEndpoints, DeleteEndpoints]
    assert [(unpack_key(k).ip, unpack_remote(v).host_ip) for k, v in ops[0].entries()] == [
        ("10.0.1.7", "10.250.0.3")
    ]
    assert [unpack_key(k) for k in ops[1].each_key()] == [(200, "10.0.1.9")]


def _probes(state: State) -> list[tuple[str, pk.Packet]]:
    out = []
    for pid, port in state.ports.items():
        src = port.addresses[0].ip
        for key in state.endpoints:
            if key.vni != port.vni:
                continue
            out.append((pid, pk.Packet.ping(port.mac, src, key.ip)))
            out.extend((pid, pk.Packet.tcp(port.mac, src, key.ip, dport)) for dport in (22, 80, 443))
    return out


def _where(state: State, pid: str, probe: pk.Packet) -> tuple | None:
    d = pk.from_workload(state, {}, pid, probe)
    if d.action == "deliver":
        return ("port", d.port_id)
    if d.action == "tunnel":
        return ("host", d.host_ip)
    return None


def _mutate(sc: Scenario, rng: random.Random, subnets, groups) -> None:
    op = rng.randrange(6)
    ports = sorted(sc.ports)
    if op == 0 or not ports:
        sc.port(
            rng.choice(subnets),
            rng.choice(["h1", "h2"]),
            f"10.0.1.{rng.randint(2, 250)}",
            groups=rng.sample(groups, rng.randint(0, 1)),
        )
    elif op == 1:
        sc.delete_port(rng.choice(ports))
    elif op == 2:
        sc.update_port(rng.choice(ports), security_group_ids=rng.sample(groups, rng.randint(0, 2)))
    elif op == 3:
        sc.add_rule(
            rng.choice(groups),
            sc.rule(
                INGRESS, 6, (rng.choice([22, 80, 443]),) * 2, rng.choice(["10.0.1.0/24", "10.0.1.0/28", ""])
            ),
        )
    elif op == 4 and sc.groups[groups[0]].rules:
        sc.remove_rule(groups[0], rng.randrange(len(sc.groups[groups[0]].rules)))
    else:
        sc.update_port(rng.choice(ports), host_id=rng.choice(["h1", "h2"]))


@pytest.mark.parametrize("seed", range(12))
def test_no_packet_allowed_before_and_after_is_dropped_during(seed: int) -> None:
    """Execute the plan from A to B one item at a time; after each item, every probe that both A
    and B deliver is still delivered (to A's or B's destination)."""
    rng = random.Random(seed)
    sc = Scenario()
    sc.host("h1", "10.250.0.1")
    sc.host("h2", "10.250.0.2")
    vpc = sc.vpc("10.0.0.0/16", 100)
    subnets = [sc.subnet(vpc, "10.0.1.0/24")]
    groups = [
        sc.security_group(sc.rule(INGRESS, 1), sc.rule(EGRESS), sc.rule(INGRESS, 6, (80, 80))).id,
        sc.security_group(sc.rule(EGRESS, 6), sc.rule(INGRESS, 6, (22, 22), "10.0.1.0/24")).id,
    ]
    taken = set()
    for _ in range(8):
        ip = f"10.0.1.{rng.randint(2, 250)}"
        if ip not in taken:
            taken.add(ip)
            sc.port(subnets[0], rng.choice(["h1", "h2"]), ip, groups=rng.sample(groups, rng.randint(0, 2)))
    driver = MemoryDriver("10.250.0.1")
    a = desired(sc.goal("h1"))
    assert driver.execute(plan(a, State())).ok
    for _ in range(rng.randint(1, 4)):
        _mutate(sc, rng, subnets, groups)
    b = desired(sc.goal("h1"))
    steps = plan(b, driver.installed())
    kept = []
    for pid, probe in _probes(a):
        before, after = _where(a, pid, probe), _where(b, pid, probe)
        if before and after and pid in b.ports and b.ports[pid].mac == probe.src_mac:
            kept.append((pid, probe, {before, after}))
    for item in steps:
        assert driver.execute(type(steps)((item,))).ok
        now = driver._tables()
        for pid, probe, ok in kept:
            assert _where(now, pid, probe) in ok, (
                item,
                pid,
                probe,
                pk.from_workload(now, {}, pid, probe).reason,
            )
    assert len(plan(b, driver.installed())) == 0


def test_a_port_taking_over_a_namespace_interface_waits_for_the_old_one_to_go(net) -> None:
    # CNI DEL then ADD of one container, arriving in one update: the new port's veth end has the
    # old one's name in the same namespace, so the old port must be unwired first
    s1 = next(iter(net.sc.subnets.values()))
    old = net.sc.port(s1, "h1", "10.0.1.20", device_id="/run/netns/ctr")
    net.sync()
    net.sc.delete_port(old.id)
    new = net.sc.port(s1, "h1", "10.0.1.20", device_id="/run/netns/ctr")
    ops = _ops(net)
    down = next(i for i, op in enumerate(ops) if isinstance(op, DeletePort) and op.port_id == old.id)
    up = next(i for i, op in enumerate(ops) if isinstance(op, WirePort) and op.port.port_id == new.id)
    assert down < up
    driver = net.fabric.hosts[net.sc.hosts["h1"]]
    assert not driver.execute(plan(desired(net.sc.goal("h1")), driver.installed())).failed
    assert len(plan(desired(net.sc.goal("h1")), driver.installed())) == 0
    # another interface in the same namespace is another slot: both stay
    other = net.sc.port(s1, "h1", "10.0.1.21", device_id="/run/netns/ctr")
    net.sc.ports[other.id].interface_name = "net1"
    ops = _ops(net)
    assert not any(isinstance(op, DeletePort) for op in ops)
