"""A small network for the agent tests: one VPC on two hosts, and helpers to check a driver."""

from __future__ import annotations

from alcor.agent.dataplane.memory import MemoryDriver
from alcor.agent.dataplane.model import GoalState, desired
from alcor.agent.dataplane.plan import plan
from alcor.agent.dataplane.scenario import Scenario

H1, H2 = "host-1", "host-2"
IP1, IP2 = "10.250.0.1", "10.250.0.2"


def network() -> tuple[Scenario, dict[str, str]]:
    """host-1 with two ports, host-2 with one; returns the scenario and port ids by name."""
    sc = Scenario()
    sc.host(H1, IP1)
    sc.host(H2, IP2)
    vpc = sc.vpc("10.0.0.0/16", vni=100)
    sn = sc.subnet(vpc, "10.0.1.0/24")
    ports = {
        "a": sc.port(sn, H1, "10.0.1.10").id,
        "b": sc.port(sn, H1, "10.0.1.11").id,
        "c": sc.port(sn, H2, "10.0.1.12").id,
    }
    return sc, ports


def in_sync(driver: MemoryDriver, goal: GoalState) -> bool:
    """Is the driver programmed exactly as `goal` asks?"""
    return not plan(desired(goal), driver.installed()).items


def add_port(sc: Scenario, host: str, ip: str) -> str:
    sn = next(iter(sc.subnets.values()))
    return sc.port(sn, host, ip).id
