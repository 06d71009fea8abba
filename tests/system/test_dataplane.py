"""The eBPF data plane on a real kernel: two hosts (network namespaces on a bridged underlay)
and workloads wired by the driver, checked with real ping and TCP connections.

Layout (vpc1 and vpc2 both 10.0.0.0/16):
  h1: a 10.0.1.5 (vpc1, group srv)   b 10.0.1.6 (vpc1)   e 10.0.1.20 (vpc1)   x 10.0.1.5 (vpc2)
  h2: c 10.0.1.7 (vpc1)   d 10.0.2.8 (vpc1, another subnet)   y 10.0.1.9 (vpc2)
Group srv: ingress ICMP, ingress tcp/8080 from 10.0.1.0/29; no egress rules (replies only).
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass

import pytest

from alcor.agent.dataplane.ebpf import netlink as nl_mod
from alcor.agent.dataplane.rules import INGRESS
from alcor.agent.dataplane.scenario import Scenario

pytestmark = pytest.mark.root

ICMP, TCP = 1, 6


@dataclass
class Lab:
    sc: Scenario
    ports: dict
    srv: str

    def ns(self, topo, name: str) -> str:
        return topo.ns_of(self.ports[name])


def build(topo, *, sync: bool = True) -> Lab:
    sc = Scenario()
    for h in ("h1", "h2"):
        sc.host(h, topo.add_host(h))
    vpc1, vpc2 = sc.vpc("10.0.0.0/16", 100), sc.vpc("10.0.0.0/16", 200)
    s1, s1b, s2 = (
        sc.subnet(vpc1, "10.0.1.0/24"),
        sc.subnet(vpc1, "10.0.2.0/24"),
        sc.subnet(vpc2, "10.0.1.0/24"),
    )
    srv = sc.security_group(
        sc.rule(INGRESS, ICMP), sc.rule(INGRESS, TCP, (8080, 8080), "10.0.1.0/29"), name="srv"
    )
    ports = {
        "a": sc.port(s1, "h1", "10.0.1.5", groups=[srv.id]),
        "b": sc.port(s1, "h1", "10.0.1.6"),
        "e": sc.port(s1, "h1", "10.0.1.20"),
        "x": sc.port(s2, "h1", "10.0.1.5"),
        "c": sc.port(s1, "h2", "10.0.1.7"),
        "d": sc.port(s1b, "h2", "10.0.2.8"),
        "y": sc.port(s2, "h2", "10.0.1.9"),
    }
    if sync:
        topo.sync(sc)
    return Lab(sc, ports, srv.id)


def test_ping_within_a_host_and_across_hosts(topo) -> None:
    lab = build(topo)
    b = lab.ns(topo, "b")
    assert topo.ping(b, "10.0.1.20").ok  # same host
    assert topo.ping(b, "10.0.1.7").ok  # across hosts
    assert topo.ping(b, "10.0.2.8").ok  # across hosts and subnets of the VPC
    assert topo.ping(lab.ns(topo, "d"), "10.0.1.6").ok
    ttl = topo.in_ns(b, "ping", "-n", "-c", "1", "10.0.1.7").stdout
    assert "ttl=63" in ttl  # one routed hop
    # the workload sees the MTU the tunnel leaves room for, and IPv6 is off
    link = topo.in_ns(b, "ip", "-o", "link", "show", "eth0").stdout
    assert "mtu 1450" in link
    assert topo.in_ns(b, "ip", "-6", "-o", "addr", "show", "dev", "eth0").stdout.strip() == ""
    counters = topo.drivers["h1"].counters()
    assert counters["tx_tunnel"] > 0 and counters["arp_reply"] > 0 and counters["drop_not_ipv4"] == 0


def test_two_vpcs_with_the_same_cidr_stay_isolated(topo) -> None:
    lab = build(topo)
    x = lab.ns(topo, "x")  # vpc2's 10.0.1.5, next to vpc1's a with the same address
    assert topo.ping(x, "10.0.1.9").ok  # vpc2's y on the other host
    before = topo.drivers["h1"].counters()["drop_no_route"]
    assert topo.ping(x, "10.0.1.7", count=2).none  # vpc1's c
    assert topo.ping(x, "10.0.1.6", count=2).none  # vpc1's b on the same host
    assert topo.drivers["h1"].counters()["drop_no_route"] - before == 4
    # replies go to the right 10.0.1.5: y reaches x, c reaches a
    assert topo.ping(lab.ns(topo, "y"), "10.0.1.5").ok
    assert topo.ping(lab.ns(topo, "c"), "10.0.1.5").ok
    assert topo.connect(x, "10.0.1.9", 9, timeout=0.5) is False


def test_security_group_allows_one_tcp_port_from_one_prefix(topo) -> None:
    lab = build(topo)
    topo.serve(lab.ports["a"], [8080, 8081])
    topo.serve(lab.ports["b"], [8080])
    b, c, e = lab.ns(topo, "b"), lab.ns(topo, "c"), lab.ns(topo, "e")
    h1 = topo.drivers["h1"]
    assert topo.connect(b, "10.0.1.5", 8080, timeout=5)  # allowed: port 8080 from 10.0.1.0/29
    assert topo.connect(c, "10.0.1.5", 8080, timeout=5)  # allowed across hosts (10.0.1.7)
    denied = h1.counters()["drop_sg_ingress"]
    assert not topo.connect(b, "10.0.1.5", 8081, timeout=0.5)  # another port: denied
    assert not topo.connect(e, "10.0.1.5", 8080, timeout=0.5)  # 10.0.1.20 is outside the prefix
    assert h1.counters()["drop_sg_ingress"] > denied
    # no egress rules: a cannot open connections, yet it answered the allowed ones (conntrack)
    egress = h1.counters()["drop_sg_egress"]
    assert not topo.connect(lab.ns(topo, "a"), "10.0.1.6", 8080, timeout=0.5)
    assert h1.counters()["drop_sg_egress"] > egress
    assert topo.ping(b, "10.0.1.5").ok  # ICMP allowed


def test_a_rule_added_live_takes_effect(topo) -> None:
    lab = build(topo)
    topo.serve(lab.ports["a"], [8081])
    b = lab.ns(topo, "b")
    assert not topo.connect(b, "10.0.1.5", 8081, timeout=0.5)
    lab.sc.add_rule(lab.srv, lab.sc.rule(INGRESS, TCP, (8081, 8081), "10.0.1.6/32"))
    topo.sync(lab.sc, "h1")
    assert topo.connect(b, "10.0.1.5", 8081, timeout=5)
    assert not topo.connect(lab.ns(topo, "e"), "10.0.1.5", 8081, timeout=0.5)
    lab.sc.remove_rule(lab.srv, 2)
    topo.sync(lab.sc, "h1")
    assert not topo.connect(b, "10.0.1.5", 8081, timeout=0.5)


def test_spoofed_sources_are_dropped(topo) -> None:
    lab = build(topo)
    b = lab.ns(topo, "b")
    h1 = topo.drivers["h1"]
    # another address on the workload's interface: the data plane only accepts the port's own
    topo.in_ns(b, "ip", "addr", "add", "10.0.1.66/24", "dev", "eth0")
    before = h1.counters()["drop_spoof_ip"]
    assert topo.ping(b, "10.0.1.7", count=2, source="10.0.1.66").none
    assert h1.counters()["drop_spoof_ip"] - before >= 2
    assert topo.ping(b, "10.0.1.7", count=2, source="10.0.1.6").ok
    # another MAC: everything from it is dropped
    before = h1.counters()["drop_spoof_mac"]
    topo.in_ns(b, "ip", "link", "set", "eth0", "address", "fa:16:3e:66:66:66")
    assert topo.ping(b, "10.0.1.7", count=2).none
    assert h1.counters()["drop_spoof_mac"] - before >= 2


def test_a_deleted_port_stops_receiving(topo) -> None:
    lab = build(topo)
    b = lab.ns(topo, "b")
    assert topo.ping(b, "10.0.1.7").ok
    c_ns = lab.ns(topo, "c")
    lab.sc.delete_port(lab.ports["c"].id)
    topo.sync(lab.sc)
    assert topo.ping(b, "10.0.1.7", count=2).none
    assert not nl_mod.netns_exists(c_ns)  # the namespace the driver created for it went with it
    assert topo.ping(b, "10.0.2.8").ok  # the rest is untouched


def test_a_port_is_wired_into_the_namespace_its_device_id_names(topo) -> None:
    from pyroute2 import netns

    lab = build(topo, sync=False)
    mine = f"{topo.prefix}vm-owned-by-someone"
    netns.create(mine)
    port = lab.sc.update_port(lab.ports["e"].id, device_id=mine)
    topo.sync(lab.sc)
    assert "10.0.1.20/24" in topo.in_ns(mine, "ip", "-o", "addr", "show", "eth0").stdout
    assert topo.ping(mine, "10.0.1.7").ok
    lab.sc.delete_port(port.id)
    topo.sync(lab.sc)
    assert nl_mod.netns_exists(mine)  # not ours to delete
    assert topo.in_ns(mine, "ip", "link", "show", "eth0").returncode != 0


def test_a_new_driver_reads_back_exactly_what_was_installed(topo) -> None:
    from alcor.agent.dataplane.model import desired
    from alcor.agent.dataplane.plan import plan

    lab = build(topo)
    for host in ("h1", "h2"):
        fresh = topo.driver(host)  # a new process would do exactly this
        want = desired(lab.sc.goal(host))
        have = fresh.installed()
        assert have.endpoints == want.endpoints
        assert have.rules == want.rules
        assert have.ports == want.ports
        assert len(plan(want, have)) == 0
    assert topo.ping(lab.ns(topo, "b"), "10.0.1.7").ok


def test_a_full_endpoints_map_fails_the_entries_that_do_not_fit_by_neighbor(topo) -> None:
    from alcor.agent.dataplane.model import KIND_NEIGHBOR, EndpointKey, desired, owners
    from alcor.agent.dataplane.plan import SetEndpoints, plan

    lab = build(topo, sync=False)
    s1 = lab.sc.subnets[lab.ports["c"].subnet_id]
    for i in range(20):
        lab.sc.port(s1, "h2", f"10.0.1.{100 + i}")
    goal = lab.sc.goal("h1")
    want = desired(goal)
    room = len(want.endpoints) - 12
    driver = topo.driver("h1", endpoints_max=room)
    report = driver.execute(plan(want, driver.installed()))
    installed = driver.installed().endpoints
    left_out = {
        (KIND_NEIGHBOR, pid)
        for pid, n in goal.neighbors.items()
        if EndpointKey(n.vni, n.ip_address) not in installed
    }
    assert len(installed) == room and len(left_out) == 12
    failures = report.resources(owners(goal, want))
    assert set(failures) == left_out
    assert set(failures.values()) == {"endpoints map full (E2BIG): raise its max_entries"}
    assert [type(item) for item in report.failed] == [SetEndpoints]
    assert topo.ping(lab.ns(topo, "b"), "10.0.1.5").ok  # what fitted works


PINGS = 1600  # 8 s at 5 ms: outlasts four helper starts on a loaded machine


@pytest.mark.slow
def test_restarting_the_driver_process_during_a_ping_loses_nothing(topo, tmp_path) -> None:
    lab = build(topo, sync=False)
    h1_goal = lab.sc.snapshot("h1").SerializeToString()
    h2_goal = lab.sc.snapshot("h2").SerializeToString()
    first, report = topo.start_helper("h1", h1_goal, tmp_path)
    assert not report["failed"] and report["plan"]["WirePort"] == 4
    _, report = topo.start_helper("h2", h2_goal, tmp_path)
    assert not report["failed"]
    b = lab.ns(topo, "b")

    def filters() -> list[str]:
        # tc shows the attached program's id; pyroute2 0.9.7 does not decode it
        out = topo.in_ns(topo.host_ns("h1"), "tc", "filter", "show", "dev", "alcorvx0", "ingress").stdout
        return [line for line in out.splitlines() if " bpf " in line and "direct-action" in line]

    before = filters()
    pinger = subprocess.Popen(
        ["ip", "netns", "exec", b, "ping", "-n", "-i", "0.005", "-c", str(PINGS), "10.0.1.7"],
        stdout=subprocess.PIPE,
        text=True,
    )
    topo.procs.append(pinger)
    time.sleep(0.3)  # let the ping run on the first helper's programs before the restarts begin
    for _ in range(2):  # kill -9, start again: each start swaps the programs in place
        first.kill()
        first.wait()
        first, report = topo.start_helper("h1", h1_goal, tmp_path)
        assert report["plan"] == {} and not report["failed"]  # everything survived as installed
    # the goal changed while the agent was down (e deleted, f created): the new process
    # reconciles make-before-break, and the flow it does not touch keeps going
    e_ns = lab.ns(topo, "e")
    lab.sc.delete_port(lab.ports["e"].id)
    lab.sc.port(lab.sc.subnets[lab.ports["b"].subnet_id], "h1", "10.0.1.21")  # f
    first.kill()
    first.wait()
    first, report = topo.start_helper("h1", lab.sc.snapshot("h1").SerializeToString(), tmp_path)
    assert not report["failed"]
    assert report["plan"] == {
        "WirePort": 1,
        "SetPort": 1,
        "SetEndpoint": 1,
        "DeleteEndpoint": 1,
        "DeletePort": 1,
    }
    assert pinger.poll() is None, "the ping ended before the restarts did: nothing was shown"
    out, _ = pinger.communicate(timeout=30)
    after = filters()
    result = topo.parse_ping(out)
    assert result.sent == PINGS and result.received == PINGS, result.output[-300:]
    # replaced at the same prio (not piled up), by another program
    assert len(before) == len(after) == 1 and "pref 1 " in after[0] and "from_tunnel" in after[0]
    assert before[0].split(" id ")[1] != after[0].split(" id ")[1]
    assert not nl_mod.netns_exists(e_ns)
    assert topo.ping(b, "10.0.1.21").ok  # f is wired and reachable
