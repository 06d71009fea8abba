"""The demo's hosts: how agents run and how a workload pings, on either data plane.

`MemoryHosts` runs one agent per host inside this process on the in-memory data plane and
sends pings through its packet model (`agent.dataplane.memory.Fabric`). `NamespaceHosts`
(root and BPF) makes each host a network namespace on an underlay bridge with an
`alcor agent run --dataplane ebpf` process inside, and pings with the real `ping` from the
workload namespaces the agents wire.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

from alcor.agent.dataplane import packet as pk
from alcor.agent.dataplane.memory import Fabric, MemoryDriver
from alcor.agent.dataplane.plan import Plan
from alcor.agent.runner import Agent, AgentConfig
from alcor.v1 import resources_pb2 as res

Counts = Callable[[], tuple[int, int]]


class Hosts(Protocol):
    mode: str
    kernel: bool  # namespaces, links and pinned maps were made (and are removed by close)
    controller_address: str  # where controllers listen so that the agents reach them

    def start(self, controllers: list[str], hosts: Mapping[str, str]) -> None: ...

    def device_id(self, name: str) -> str:
        """The device id for a workload called name (on the eBPF data plane: its namespace)."""
        ...

    def ping(self, port: res.Port, dst_ip: str, count: int = 3) -> int:
        """Echo requests from the port's workload to dst_ip; the number of replies."""
        ...

    def continuous_ping(self, port: res.Port, dst_ip: str) -> AbstractContextManager[Counts]:
        """Ping until the context exits; the context value gives (sent, received) so far."""
        ...

    def close(self) -> None: ...


class LockedDriver(MemoryDriver):
    """A MemoryDriver that the agent's worker thread programs while the demo thread sends
    packets through it: one lock keeps the tables consistent for both."""

    def __init__(self, underlay_ip: str) -> None:
        super().__init__(underlay_ip)
        self.lock = threading.RLock()

    def execute(self, plan: Plan):  # type: ignore[no-untyped-def]
        with self.lock:
            return super().execute(plan)

    def send(self, port_id: str, pkt: pk.Packet) -> pk.Decision:
        with self.lock:
            return super().send(port_id, pkt)

    def receive(self, vni: int, outer_src: str, pkt: pk.Packet) -> pk.Decision:
        with self.lock:
            return super().receive(vni, outer_src, pkt)


class MemoryHosts:
    mode = "in-memory"
    kernel = False
    controller_address = "127.0.0.1"

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True, name="demo-agents")
        self.agents: dict[str, Agent] = {}
        self.drivers: dict[str, LockedDriver] = {}
        self.tasks: list[asyncio.Future[None]] = []
        self.fabric = Fabric({})
        self._ident = itertools.count(1)

    @staticmethod
    def device_id(name: str) -> str:
        return name

    def start(self, controllers: list[str], hosts: Mapping[str, str]) -> None:
        self.thread.start()
        for host_id, underlay in hosts.items():
            driver = LockedDriver(underlay)
            agent = Agent(AgentConfig(host_id=host_id, controllers=controllers, underlay_ip=underlay,
                                      resync_interval=None, fsync=False), driver)
            self.drivers[host_id], self.agents[host_id] = driver, agent
            self.tasks.append(asyncio.run_coroutine_threadsafe(agent.run(), self.loop))  # type: ignore[arg-type]
        self.fabric = Fabric({d.underlay_ip: d for d in self.drivers.values()})

    def ping(self, port: res.Port, dst_ip: str, count: int = 3) -> int:
        replies = 0
        src = port.fixed_ips[0].ip_address
        for _ in range(count):
            _, back = self.fabric.exchange(
                self.drivers[port.host_id].underlay_ip, port.id,
                pk.Packet.ping(port.mac_address, src, dst_ip, next(self._ident) & 0xFFFF))
            replies += back is not None and back.delivered
        return replies

    @contextmanager
    def continuous_ping(self, port: res.Port, dst_ip: str, interval: float = 0.02) -> Iterator[Counts]:
        sent = received = 0
        stop = threading.Event()

        def run() -> None:
            nonlocal sent, received
            while not stop.is_set():
                sent += 1
                received += self.ping(port, dst_ip, 1)
                stop.wait(interval)

        pinger = threading.Thread(target=run, daemon=True, name="demo-ping")
        pinger.start()
        try:
            yield lambda: (sent, received)
        finally:
            stop.set()
            pinger.join()

    def close(self) -> None:
        for agent in self.agents.values():
            self.loop.call_soon_threadsafe(agent.stop)
        for task in self.tasks:
            with contextlib.suppress(Exception):  # an agent that failed said why in its log
                task.result(10)
        for driver in self.drivers.values():
            driver.close()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def bpf_available() -> str:
    """"" when the eBPF data plane can run here, else why not."""
    if os.geteuid() != 0:
        return "not root"
    if not os.path.ismount("/sys/fs/bpf"):
        return "bpffs is not mounted at /sys/fs/bpf"
    return ""


def choose_hosts(dataplane: str) -> tuple[Hosts, str]:
    """The hosts for --dataplane, and a sentence to say when falling back to memory."""
    if dataplane == "memory":
        return MemoryHosts(), "in-memory data plane (as asked)"
    why = bpf_available()
    if dataplane == "ebpf" and why:
        raise SystemExit(f"alcor demo: the eBPF data plane needs root and bpffs: {why}")
    if why:
        return MemoryHosts(), f"eBPF data plane unavailable ({why}): running on the in-memory data plane"
    from .demonetns import NamespaceHosts

    return NamespaceHosts(), ""

