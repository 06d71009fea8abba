"""`alcor demo`: the whole system in one command, and the story the end-to-end test replays.

A 3-node controller cluster (separate processes on this machine, data in a temp dir), two hosts
with an agent each, two VPCs with the same CIDR, a security group and four workloads; the ports
turn ACTIVE, pings that must pass pass and pings that must fail fail; then the Raft leader is
killed during a continuous ping and a port created after the failover turns ACTIVE. With root
and BPF the hosts are network namespaces on the eBPF data plane; otherwise the same story runs on
the in-memory data plane (and says so). Everything it made is removed at the end.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import click

from alcor.sdk import Client
from alcor.v1 import resources_pb2 as res

from .demohosts import Hosts, choose_hosts
from .localcluster import LocalCluster

HOSTS = {"host-a": "10.99.0.1", "host-b": "10.99.0.2"}
CIDR = "10.0.0.0/16"
SUBNET = "10.0.1.0/24"
# (name, vpc, host, fixed ip): red-1 reuses blue-1's address on purpose (overlapping VPCs)
WORKLOADS = [
    ("blue-1", "blue", "host-a", "10.0.1.10"),
    ("blue-2", "blue", "host-b", "10.0.1.11"),
    ("red-1", "red", "host-a", "10.0.1.10"),
    ("red-2", "red", "host-b", "10.0.1.20"),
]
ACTIVE_TIMEOUT = 20.0


@dataclass
class Outcome:
    """What the story observed (the end-to-end test asserts on it)."""

    mode: str = ""
    ports: dict[str, res.Port] = field(default_factory=dict)
    pings: list[tuple[str, str, bool, bool]] = field(default_factory=list)  # src, dst ip, expected, got
    old_leader: str = ""
    new_leader: str = ""
    failover_sent: int = 0
    failover_received: int = 0
    late_port_active_s: float = float("inf")
    seconds: float = 0.0


class Narrator:
    def __init__(self, echo: Callable[[str], None]) -> None:
        self.echo = echo
        self.start = time.monotonic()

    def step(self, text: str) -> None:
        self.echo(f"[{time.monotonic() - self.start:5.1f}s] {text}")

    def detail(self, text: str) -> None:
        self.echo(f"         {text}")


def wait_active(client: Client, port_ids: list[str], timeout: float = ACTIVE_TIMEOUT) -> dict[str, res.Port]:
    """Poll until every port is ACTIVE (ERROR or the deadline raise)."""
    deadline = time.monotonic() + timeout
    pending = set(port_ids)
    done: dict[str, res.Port] = {}
    while pending:
        for pid in sorted(pending):
            port = client.get_port(pid)
            if port.status == res.PORT_STATUS_ERROR:
                raise click.ClickException(f"port {port.name} went to ERROR: {port.status_detail}")
            if port.status == res.PORT_STATUS_ACTIVE:
                done[pid] = port
                pending.discard(pid)
        if pending and time.monotonic() > deadline:
            raise click.ClickException(f"ports not ACTIVE after {timeout:.0f}s: {sorted(pending)}")
        if pending:
            time.sleep(0.02)
    return done


def wait_registered(client: Client, host_ids: set[str], timeout: float = ACTIVE_TIMEOUT) -> None:
    """Until every host's agent has said Hello (which registers its node and underlay IP)."""
    deadline = time.monotonic() + timeout
    while not host_ids <= {n.host_id for n in client.list_nodes()}:
        if time.monotonic() > deadline:
            raise click.ClickException(f"agents of {sorted(host_ids)} did not connect in {timeout:.0f}s")
        time.sleep(0.05)


def story(root: Path, hosts: Hosts, say: Narrator) -> Outcome:
    out = Outcome(mode=hosts.mode)
    t0 = time.monotonic()
    with ExitStack() as stack:
        cluster = LocalCluster(root / "controllers", size=3, host=hosts.controller_address,
                               extra=["--log-level", "warning"])
        stack.callback(cluster.stop)
        cluster.start()
        leader = cluster.leader()
        say.step(f"3 controllers up on {', '.join(cluster.endpoints)}; Raft leader {leader.id}")

        stack.callback(hosts.close)
        hosts.start(cluster.endpoints, HOSTS)
        client = stack.enter_context(Client(cluster.endpoints))
        wait_registered(client, set(HOSTS))
        say.step(f"hosts {', '.join(HOSTS)} up: their agents registered, on the {hosts.mode} data plane")

        blue = client.create_vpc(name="blue", cidr=CIDR)
        red = client.create_vpc(name="red", cidr=CIDR)
        say.step(f"VPCs blue (VNI {blue.vni}) and red (VNI {red.vni}), both {CIDR}")
        subnets = {v.name: client.create_subnet(vpc_id=v.id, cidr=SUBNET, name=f"{v.name}-a") for v in (blue, red)}
        web = client.create_security_group(name="web", rules=[
            {"direction": "ingress", "protocol": "icmp", "remote_ip_prefix": SUBNET},
            {"direction": "egress"},
        ])
        say.step(f"subnets {SUBNET} in each; security group web admits ICMP from {SUBNET} (blue uses it)")

        for name, vpc, host, ip in WORKLOADS:
            groups = [web.id] if vpc == "blue" else []
            port = client.create_port(subnet_id=subnets[vpc].id, host_id=host, name=name, device_id=hosts.device_id(name),
                                      fixed_ips=[ip], security_group_ids=groups)
            out.ports[name] = port
            say.detail(f"port {name:<7} {vpc:<4} {host}  {ip}  {port.mac_address}")
        active = wait_active(client, [p.id for p in out.ports.values()])
        out.ports.update({p.name: p for p in active.values()})
        say.step("all 4 ports ACTIVE (each acked by its host's agent)")

        checks = [
            ("blue-1", "10.0.1.11", True, "blue-1 -> blue-2 across hosts"),
            ("red-1", "10.0.1.20", True, "red-1 -> red-2 across hosts (same IPs as blue, other VPC)"),
            ("red-1", "10.0.1.11", False, "red-1 -> 10.0.1.11 (blue-2's address): VPCs are isolated"),
            ("blue-2", "10.0.1.20", False, "blue-2 -> 10.0.1.20 (red-2's address): VPCs are isolated"),
        ]
        for src, dst, expected, text in checks:
            got = hosts.ping(out.ports[src], dst, count=3) == 3
            out.pings.append((src, dst, expected, got))
            mark = "ok  " if got == expected else "FAIL"
            say.detail(f"{mark} {'replies' if got else 'no reply'}: {text}")
        if any(e != g for _, _, e, g in out.pings):
            raise click.ClickException("a ping did not behave as it must")
        say.step("pings pass inside each VPC and fail across them")

        say.step("continuous ping blue-1 -> blue-2 while the Raft leader is killed")
        with hosts.continuous_ping(out.ports["blue-1"], "10.0.1.11") as counts:
            time.sleep(0.5)
            old = cluster.leader()
            out.old_leader = old.id
            cluster.kill9(old.id)
            new = cluster.leader(exclude=old.id)
            out.new_leader = new.id
            say.detail(f"killed leader {old.id} (kill -9); new leader {new.id}")
            created = time.monotonic()
            late = client.create_port(subnet_id=subnets["blue"].id, host_id="host-b", name="blue-3",
                                      device_id=hosts.device_id("blue-3"), security_group_ids=[web.id])
            wait_active(client, [late.id])
            out.late_port_active_s = time.monotonic() - created
            say.detail(f"port blue-3 created after the failover: ACTIVE in {out.late_port_active_s * 1000:.0f} ms")
            time.sleep(0.5)
        out.failover_sent, out.failover_received = counts()
        lost = out.failover_sent - out.failover_received
        say.step(f"{out.failover_sent} pings during the failover, {lost} lost")
        if lost:
            raise click.ClickException(f"{lost} pings were lost during the failover")
    out.seconds = time.monotonic() - t0
    say.step(f"cleaned up (controllers, agents{', namespaces, links, pinned maps' if hosts.kernel else ''})")
    return out


@contextmanager
def _workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="alcor-demo-") as tmp:
        yield Path(tmp)


@click.command()
@click.option("--dataplane", type=click.Choice(["auto", "ebpf", "memory"]), default="auto", show_default=True,
              help="auto: eBPF when root and BPF are available, else the in-memory data plane.")
def demo(dataplane: str) -> None:
    """Show Alcor end to end: a 3-node cluster, two hosts, isolation, failover under traffic."""
    say = Narrator(click.echo)
    hosts, why = choose_hosts(dataplane)
    if why:
        say.step(why)
    with _workdir() as root:
        out = story(root, hosts, say)
    say.step(f"done in {out.seconds:.1f}s")
