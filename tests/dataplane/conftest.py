"""Shared goal states for the data-plane unit tests: two hosts, two VPCs with the same CIDR."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from alcor.agent.dataplane.memory import Fabric, MemoryDriver
from alcor.agent.dataplane.model import desired
from alcor.agent.dataplane.plan import plan
from alcor.agent.dataplane.rules import EGRESS, INGRESS
from alcor.agent.dataplane.scenario import Scenario
from alcor.v1 import resources_pb2

TCP = resources_pb2.PROTOCOL_TCP
ICMP = resources_pb2.PROTOCOL_ICMP
H1, H2 = "10.250.0.1", "10.250.0.2"


@dataclass
class Net:
    sc: Scenario
    fabric: Fabric
    ports: dict  # name -> Port message
    sg: str  # the web group's id

    def sync(self) -> None:
        """Reconcile every host to the scenario's goal state, as the agent would."""
        for host_id, ip in self.sc.hosts.items():
            driver = self.fabric.hosts[ip]
            report = driver.execute(plan(desired(self.sc.goal(host_id)), driver.installed()))
            assert report.ok, dict(report.failed)

    def send(self, name: str, pkt):
        port = self.ports[name]
        return self.fabric.send(self.sc.hosts[port.host_id], port.id, pkt)

    def ip(self, name: str) -> str:
        return self.ports[name].fixed_ips[0].ip_address

    def mac(self, name: str) -> str:
        return self.ports[name].mac_address


@pytest.fixture
def net() -> Net:
    """h1: a (vpc1, web group), b (vpc1, no groups), x (vpc2, same address as a);
    h2: c (vpc1, web group), y (vpc2). The web group allows ping, tcp/80 from 10.0.1.0/24, and
    all egress."""
    sc = Scenario()
    sc.host("h1", H1)
    sc.host("h2", H2)
    vpc1, vpc2 = sc.vpc("10.0.0.0/16", 100), sc.vpc("10.0.0.0/16", 200)
    s1, s2 = sc.subnet(vpc1, "10.0.1.0/24"), sc.subnet(vpc2, "10.0.1.0/24")
    s1b = sc.subnet(vpc1, "10.0.2.0/24")
    web = sc.security_group(
        sc.rule(INGRESS, ICMP), sc.rule(INGRESS, TCP, (80, 80), "10.0.1.0/24"), sc.rule(EGRESS), name="web"
    )
    ports = {
        "a": sc.port(s1, "h1", "10.0.1.5", groups=[web.id]),
        "b": sc.port(s1, "h1", "10.0.1.6"),
        "x": sc.port(s2, "h1", "10.0.1.5"),
        "c": sc.port(s1, "h2", "10.0.1.7", groups=[web.id]),
        "d": sc.port(s1b, "h2", "10.0.2.8"),
        "y": sc.port(s2, "h2", "10.0.1.9"),
    }
    n = Net(sc, Fabric({H1: MemoryDriver(H1), H2: MemoryDriver(H2)}), ports, web.id)
    n.sync()
    return n
