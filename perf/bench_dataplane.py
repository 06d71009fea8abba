"""Benchmark: the eBPF data plane on this kernel (issue 6). Needs root, clang and bpffs.

    python perf/bench_dataplane.py [--quick] [--json PATH]

What is measured, on two hosts (network namespaces joined by a veth underlay) with one workload
each in one VPC, wired and programmed by `EbpfDriver`:

- neighbors_10k_s / neighbors_1m_s: a goal-state snapshot holding 10,000 (1,000,000) neighbor
  ports, from its serialized bytes to entries in the endpoints map: parse (as the agent decodes
  a snapshot: `columns.decode_update`, column-wise), `GoalState.apply`,
  `model.desired`, `plan.plan` against the state before (an empty host: every entry is new) and
  `EbpfDriver.execute` (batched map updates). 10k is the median of several rounds, each in a
  VPC of its own; 1M is one round (with --quick: 100,000, reported as neighbors_100k_s).
  Targets: <= 0.05 s and <= 5 s; the original Alcor agent needed 0.53 s and 55 s.
  neighbors_1m_{parse,apply,desired,plan,execute}_s split the 1M round's wall time by stage
  (the collector's pauses land in whichever stage they hit).
- neighbor_delta_ms / neighbor_delta_full_ms: on the host holding that large snapshot, one
  neighbor's delta from its bytes to its entry in the map (parse, `GoalState.apply`, reconcile):
  planned from the last pass (`Reconciler` given the delta: the agent's path for a port created
  elsewhere in the VPC), and by a full pass (desired, `installed()` read back, plan) in the same
  run. Medians of several deltas each.
- port_wire_ms: one new local port, from the plan to a workload that can send: namespace, veth
  pair, addresses, route, program attached, port and endpoint entries (median of several).
- tcp_ratio: one iperf3 TCP stream workload -> workload across hosts (VXLAN through the BPF
  programs) over the same stream host -> host on the bare underlay, 8 pairs of 3 s alternated
  in the same run (median of each; every run is in the JSON). Target >= 0.8.
  tcp_kernel_vxlan_ratio: the same for the textbook overlay with no BPF (`kernel_vxlan`: kernel
  VXLAN devices, IP forwarding, routed workload veths), alternated in the same loop: what
  VXLAN itself allows on this machine.
- ping_added_us: median ping RTT workload -> workload across hosts minus the median RTT
  host -> host on the underlay. ping_loopback_us (a workload pinging its own address, no
  device crossed) is this machine's floor at the time, to read the others against.

Everything created (namespaces, links, pinned maps, processes) is removed at the end.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from itertools import pairwise
from pathlib import Path

from benchlib import median, parse_args, report
from pyroute2 import IPRoute, netns

from alcor.agent.dataplane.columns import decode_update
from alcor.agent.dataplane.ebpf import build
from alcor.agent.dataplane.ebpf.driver import EbpfConfig, EbpfDriver
from alcor.agent.dataplane.model import GoalState, State, desired
from alcor.agent.dataplane.plan import plan
from alcor.agent.dataplane.scenario import Scenario
from alcor.agent.reconciler import Reconciler
from alcor.v1 import goalstate_pb2, resources_pb2

BPFFS = "/sys/fs/bpf"
HOSTS = {"h1": "10.251.0.1", "h2": "10.251.0.2"}
NEIGHBOR_HOSTS = 1000  # the neighbors' ports are spread over this many remote hosts


def sh(*cmd: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def in_ns(ns: str, *cmd: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return sh("ip", "netns", "exec", ns, *cmd, timeout=timeout)


class Lab:
    """Two host namespaces joined by a veth underlay, a driver per host, and what to remove."""

    def __init__(self, cache: Path) -> None:
        self.prefix = f"bdp{uuid.uuid4().hex[:5]}-"
        self.cache = cache
        self.drivers: dict[str, EbpfDriver] = {}
        self.procs: list[subprocess.Popen] = []
        self.sc = Scenario()

    def ns(self, host: str) -> str:
        return f"{self.prefix}{host}"

    def config(self, host: str, **extra: object) -> EbpfConfig:
        settings: dict = dict(
            pin_dir=f"{BPFFS}/{self.prefix}{host}",
            underlay_ip=HOSTS.get(host, ""),
            host_netns=self.ns(host),
            netns_prefix=f"{self.prefix}{host}-",
            cache_dir=self.cache,
        )
        settings.update(extra)
        return EbpfConfig(**settings)

    def up(self) -> None:
        for host in HOSTS:
            netns.create(self.ns(host))
        with IPRoute(netns=self.ns("h1"), flags=0) as h1:
            h1.link("add", ifname="ul0", kind="veth", peer={"ifname": "ul0", "net_ns_fd": self.ns("h2")})
        for host, ip in HOSTS.items():
            with IPRoute(netns=self.ns(host), flags=0) as ipr:
                idx = ipr.link_lookup(ifname="ul0")[0]
                ipr.addr("add", index=idx, address=ip, prefixlen=24)
                ipr.link("set", index=idx, state="up")
                ipr.link("set", index=ipr.link_lookup(ifname="lo")[0], state="up")
            self.sc.host(host, ip)
            self.drivers[host] = EbpfDriver(self.config(host))

    def workload_ns(self, port: resources_pb2.Port) -> str:
        return f"{self.prefix}{port.host_id}-{port.id}"

    def sync(self, host: str) -> None:
        d = self.drivers[host]
        result = d.execute(plan(desired(self.sc.goal(host)), d.installed()))
        if not result.ok:
            raise RuntimeError(f"reconcile of {host} failed: {dict(result.failed)}")

    def spawn(self, ns: str, *cmd: str) -> subprocess.Popen:
        proc = subprocess.Popen(
            ["ip", "netns", "exec", ns, *cmd], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self.procs.append(proc)
        return proc

    def down(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        for d in self.drivers.values():
            d.destroy()  # its workloads' namespaces, the VXLAN device, the pinned maps
        for name in netns.listnetns():
            if name.startswith(self.prefix):
                netns.remove(name)
        for entry in os.listdir(BPFFS):
            if entry.startswith(self.prefix):
                shutil.rmtree(os.path.join(BPFFS, entry), ignore_errors=True)


# -- neighbors ---------------------------------------------------------------------------------


def neighbor_snapshot(count: int, vni: int) -> bytes:
    """A host's goal-state snapshot: one VPC and `count` neighbor ports on remote hosts."""
    update = goalstate_pb2.GoalStateUpdate(revision=1, full=True)
    vpc_id = f"vpc-{vni}"
    update.upserts.add().vpc.CopyFrom(resources_pb2.Vpc(id=vpc_id, cidr="10.0.0.0/8", vni=vni))
    for i in range(count):
        n = update.upserts.add().neighbor
        n.port_id = f"port-{vni}-{i}"
        n.vpc_id = vpc_id
        n.vni = vni
        n.ip_address = f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"
        n.mac_address = f"fa:16:3e:{(i >> 16) & 255:02x}:{(i >> 8) & 255:02x}:{i & 255:02x}"
        h = i % NEIGHBOR_HOSTS
        n.host_id = f"nh{h}"
        n.host_ip = f"10.252.{h >> 8}.{h & 255}"
    return update.SerializeToString()


STAGES = ("parse", "apply", "desired", "plan", "execute")


def program_neighbors(driver: EbpfDriver, raw: bytes, count: int) -> tuple[float, float, list[float]]:
    """(wall, CPU) seconds from the snapshot's bytes to its entries in the map, on a host that had
    none, and the wall seconds of each of `STAGES`. CPU time (user + system, so the map syscalls
    count) shows the cost apart from the waiting that other processes on a shared machine cause.
    The plan is made against an empty installed state, as on a host that had none."""
    start, cpu = time.perf_counter(), time.process_time()
    update = decode_update(raw)
    parsed = time.perf_counter()
    goal = GoalState("bench").apply(update)
    applied = time.perf_counter()
    want = desired(goal)
    derived = time.perf_counter()
    todo = plan(want, State())
    planned = time.perf_counter()
    result = driver.execute(todo)
    end = time.perf_counter()
    elapsed, cpu = end - start, time.process_time() - cpu
    if not result.ok or result.plan.counts().get("SetEndpoint") != count:
        raise RuntimeError(
            f"{len(result.failed)} of {len(result.plan)} items failed: "
            f"{next(iter(result.failed.values()), '')}"
        )
    marks = [start, parsed, applied, derived, planned, end]
    return elapsed, cpu, [b - a for a, b in pairwise(marks)]


def bench_neighbors(lab: Lab, rounds: int, big: int) -> tuple[float, float, float, float, list[float]]:
    """Wall and CPU seconds: median of the 10k rounds, then the large round and its stages."""
    netns.create(lab.ns("nb"))
    driver = EbpfDriver(lab.config("nb", endpoints_max=rounds * 10_000 + big + 1024))
    lab.drivers["nb"] = driver
    small = [program_neighbors(driver, neighbor_snapshot(10_000, 1000 + r), 10_000) for r in range(rounds)]
    raw = neighbor_snapshot(big, 2000)
    large = program_neighbors(driver, raw, big)
    return median([w for w, _, _ in small]), median([c for _, c, _ in small]), *large


def bench_deltas(driver: EbpfDriver, raw: bytes, incremental: int, full: int) -> tuple[float, float]:
    """Median seconds from one neighbor's delta to its map entry: `incremental` deltas planned
    from the last pass, then `full` deltas by full passes (see the module docstring)."""
    goal = GoalState("bench").apply(decode_update(raw))
    reconciler = Reconciler(driver)
    first = reconciler.reconcile(goal)  # full: it also removes the 10k rounds' entries
    if not first.report.ok:
        raise RuntimeError(f"full pass failed: {next(iter(first.report.failed.values()), '')}")
    times: dict[bool, list[float]] = {True: [], False: []}
    for i, planned_from_last in enumerate([True] * incremental + [False] * full):
        update = goalstate_pb2.GoalStateUpdate(base_revision=goal.revision, revision=goal.revision + 1)
        n = update.upserts.add().neighbor
        n.port_id, n.vni, n.ip_address = f"delta-{i}", 2000, f"10.200.{i >> 8}.{i & 255}"
        n.mac_address, n.host_id, n.host_ip = "fa:16:3e:aa:00:01", "nh7", "10.252.0.7"
        data = update.SerializeToString()
        start = time.perf_counter()
        update = goalstate_pb2.GoalStateUpdate.FromString(data)
        goal = goal.apply(update)
        outcome = reconciler.reconcile(goal, [update] if planned_from_last else ())
        times[planned_from_last].append(time.perf_counter() - start)
        if outcome.incremental != planned_from_last or outcome.plan.counts() != {"SetEndpoint": 1}:
            raise RuntimeError(f"delta {i}: incremental={outcome.incremental}, plan {outcome.plan.counts()}")
        if not outcome.report.ok:
            raise RuntimeError(f"delta {i} failed: {next(iter(outcome.report.failed.values()))}")
    return median(times[True]), median(times[False])


# -- workloads ---------------------------------------------------------------------------------


def bench_port_wire(lab: Lab, subnet: resources_pb2.Subnet, count: int) -> float:
    d = lab.drivers["h1"]
    times = []
    for i in range(count):
        lab.sc.port(subnet, "h1", f"10.0.9.{10 + i}")
        want = desired(lab.sc.goal("h1"))
        have = d.installed()
        start = time.perf_counter()
        result = d.execute(plan(want, have))
        times.append(time.perf_counter() - start)
        if not result.ok:
            raise RuntimeError(f"wiring failed: {dict(result.failed)}")
    return median(times) * 1e3


RTT = re.compile(r"time=([\d.]+) ms")


def ping_rtts_us(ns: str, dst: str, count: int) -> list[float]:
    out = in_ns(ns, "ping", "-n", "-c", str(count), "-i", "0.01", "-W", "1", dst, timeout=count + 30).stdout
    rtts = [float(m) * 1e3 for m in RTT.findall(out)]
    if len(rtts) < count * 0.95:
        raise RuntimeError(f"ping {dst} from {ns} lost packets:\n{out[-400:]}")
    return rtts


def listening(ns: str, port: int) -> bool:
    return f":{port} " in in_ns(ns, "ss", "-Hltn").stdout


def kernel_vxlan(lab: Lab) -> tuple[str, str, str]:
    """The textbook overlay with no BPF, as a peer for `tcp_ratio`: two more host namespaces
    joined by a veth underlay like the lab's, a kernel VXLAN device in each (static remote, its
    own address), IP forwarding, and a workload namespace behind each host on a routed veth with
    MTU 1450. Returns (client workload ns, server workload ns, server ip)."""
    a, b, w1, w2 = (lab.ns(f"kv-{n}") for n in ("a", "b", "w1", "w2"))
    script = [
        *(f"netns add {n}" for n in (a, b, w1, w2)),
        f"link add ul0 netns {a} type veth peer ul0 netns {b}",
    ]
    for host, me, peer, workload in ((a, 1, 2, w1), (b, 2, 1, w2)):
        script += [
            f"-n {host} link set lo up",
            f"-n {host} addr add 10.99.0.{me}/24 dev ul0",
            f"-n {host} link set ul0 up",
            f"-n {host} link add vx0 type vxlan id 7 local 10.99.0.{me} remote 10.99.0.{peer}"
            " dstport 4789 dev ul0",
            f"-n {host} addr add 10.77.0.{me}/24 dev vx0",
            f"-n {host} link set vx0 mtu 1450 up",
            f"link add eth0 netns {workload} type veth peer w0 netns {host}",
            f"-n {workload} link set lo up",
            f"-n {workload} addr add 10.77.{me}.1/24 dev eth0",
            f"-n {workload} link set eth0 mtu 1450 up",
            f"-n {workload} route add default via 10.77.{me}.254",
            f"-n {host} addr add 10.77.{me}.254/24 dev w0",
            f"-n {host} link set w0 mtu 1450 up",
            f"-n {host} route add 10.77.{peer}.0/24 via 10.77.0.{peer} dev vx0",
        ]
    for line in script:
        out = sh("ip", *line.split())
        if out.returncode != 0:
            raise RuntimeError(f"ip {line}: {out.stderr.strip()}")
    for host in (a, b):
        in_ns(host, "sysctl", "-qw", "net.ipv4.ip_forward=1")
    return w1, w2, "10.77.2.1"


def iperf_bps(lab: Lab, client_ns: str, server_ns: str, server_ip: str, seconds: float) -> float:
    server = lab.spawn(server_ns, "iperf3", "-s", "-B", server_ip, "-p", "5201")
    try:
        deadline = time.monotonic() + 10
        while not listening(server_ns, 5201):
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError(f"iperf3 server in {server_ns} did not start")
            time.sleep(0.05)
        out = in_ns(
            client_ns, "iperf3", "-c", server_ip, "-p", "5201", "-t", str(seconds), "-J", timeout=seconds + 30
        )
    finally:
        server.kill()
        server.wait()
    if out.returncode != 0:
        raise RuntimeError(
            f"iperf3 {client_ns} -> {server_ip} failed: {out.stdout[-600:]} {out.stderr[-400:]}"
        )
    return float(json.loads(out.stdout)["end"]["sum_received"]["bits_per_second"])


def main() -> int:
    args = parse_args(__doc__.split("\n")[0])
    if os.geteuid() != 0:
        print("bench_dataplane needs root (network namespaces, tc, BPF)", file=sys.stderr)
        return 2
    for tool in ("clang", "iperf3", "ping", "ip"):
        if shutil.which(tool) is None:
            print(f"bench_dataplane needs {tool}", file=sys.stderr)
            return 2
    quick = args.quick
    rounds, big = (3, 100_000) if quick else (7, 1_000_000)
    # the bare underlay alone swings between 9 and 21 Gbit/s within minutes on this VM: many
    # short alternated pairs estimate the ratio better than a few long ones
    wires, pings, tcp_seconds, tcp_runs = (5, 200, 2, 2) if quick else (10, 1000, 3, 8)
    deltas_full = 3

    cache = Path(tempfile.mkdtemp(prefix="bench-dp-bpf-"))
    build.compile_object(cache)
    lab = Lab(cache)
    try:
        lab.up()
        vpc = lab.sc.vpc("10.0.0.0/16", 4242)
        subnet = lab.sc.subnet(vpc, "10.0.0.0/16")
        w1 = lab.sc.port(subnet, "h1", "10.0.1.1")
        w2 = lab.sc.port(subnet, "h2", "10.0.2.1")
        lab.sync("h1")
        lab.sync("h2")
        ns1, ns2 = lab.workload_ns(w1), lab.workload_ns(w2)
        ping_rtts_us(ns1, "10.0.2.1", 5)  # warm: ARP in BPF, neighbour entries on the underlay
        ping_rtts_us(lab.ns("h1"), HOSTS["h2"], 5)

        under_rtt = median(ping_rtts_us(lab.ns("h1"), HOSTS["h2"], pings))
        over_rtt = median(ping_rtts_us(ns1, "10.0.2.1", pings))
        floor_rtt = median(ping_rtts_us(ns1, "10.0.1.1", pings))

        kv_client, kv_server, kv_ip = kernel_vxlan(lab)
        ping_rtts_us(kv_client, kv_ip, 5)
        under_bps: list[float] = []
        over_bps: list[float] = []
        kernel_bps: list[float] = []
        for _ in range(tcp_runs):
            under_bps.append(iperf_bps(lab, lab.ns("h1"), lab.ns("h2"), HOSTS["h2"], tcp_seconds))
            over_bps.append(iperf_bps(lab, ns1, ns2, "10.0.2.1", tcp_seconds))
            kernel_bps.append(iperf_bps(lab, kv_client, kv_server, kv_ip, tcp_seconds))

        wire_ms = bench_port_wire(lab, subnet, wires)
        small_s, small_cpu, large_s, large_cpu, stages = bench_neighbors(lab, rounds, big)
        delta_s, delta_full_s = bench_deltas(lab.drivers["nb"], neighbor_snapshot(big, 2000), 20, deltas_full)
    finally:
        lab.down()
        shutil.rmtree(cache, ignore_errors=True)

    big_name = "neighbors_100k" if quick else "neighbors_1m"
    figures = {
        "neighbors_10k_s": round(small_s, 4),
        f"{big_name}_s": round(large_s, 3),
        "neighbors_10k_cpu_s": round(small_cpu, 4),
        f"{big_name}_cpu_s": round(large_cpu, 3),
        **{f"{big_name}_{stage}_s": round(t, 3) for stage, t in zip(STAGES, stages, strict=True)},
        "neighbor_delta_ms": round(delta_s * 1e3, 2),
        "neighbor_delta_full_ms": round(delta_full_s * 1e3, 1),
        "port_wire_ms": round(wire_ms, 2),
        "tcp_ratio": round(median(over_bps) / median(under_bps), 3),
        "tcp_overlay_gbps": round(median(over_bps) / 1e9, 2),
        "tcp_underlay_gbps": round(median(under_bps) / 1e9, 2),
        "tcp_kernel_vxlan_ratio": round(median(kernel_bps) / median(under_bps), 3),
        "tcp_kernel_vxlan_gbps": round(median(kernel_bps) / 1e9, 2),
        "ping_added_us": round(over_rtt - under_rtt, 1),
        "ping_overlay_us": round(over_rtt, 1),
        "ping_underlay_us": round(under_rtt, 1),
        "ping_loopback_us": round(floor_rtt, 1),
    }
    params = {
        "mode": "quick" if quick else "full",
        "neighbor_rounds_10k": rounds,
        "neighbors_large": big,
        "neighbor_deltas": {"incremental": 20, "full": deltas_full},
        "neighbor_hosts": NEIGHBOR_HOSTS,
        "port_wires": wires,
        "pings": pings,
        "tcp_seconds": tcp_seconds,
        "tcp_runs": tcp_runs,
        "tcp_underlay_runs_gbps": [round(b / 1e9, 2) for b in under_bps],
        "tcp_overlay_runs_gbps": [round(b / 1e9, 2) for b in over_bps],
        "tcp_kernel_vxlan_runs_gbps": [round(b / 1e9, 2) for b in kernel_bps],
        "cpus": os.cpu_count(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "targets": {"neighbors_10k_s": 0.05, "neighbors_1m_s": 5.0, "tcp_ratio": 0.8},
        "original_alcor": {"neighbors_10k_s": 0.53, "neighbors_1m_s": 55.0},
    }
    report("bench_dataplane", figures, params, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
