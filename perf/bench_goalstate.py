"""Benchmark: goal-state streams to 1,000 simulated agents (issue 5).

    python perf/bench_goalstate.py [--quick] [--json PATH]

One controller process (`alcor controller run`, fsync on) and, in this process (on uvloop, as
`alcor agent run`), the load generator (perf/loadgen): one real GoalStateService stream per
simulated host, each applying updates to the agent's goal-state model and acking at once. The
network: VPCs of 100 ports (one project each, so each VPC has its own default security group),
one port per host, plus one "fan-out" VPC with a port on every host (its ports in a group with
no remote-group rules).

Figures:
- active_p50_ms / active_p99_ms: CreatePort (bound to a connected host, in a 100-port VPC)
  sent -> the port's ACTIVE status seen on a Watch stream: the commit, the engine, the stream,
  the agent's ack, the batched status write-back and its commit. Sequential samples, from a
  client process of its own (not behind the simulated agents' traffic).
- fanout_p99_ms: CreatePort in the fan-out VPC sent -> the last of the 1,000 hosts received the
  update that carries the new neighbor.
- snapshot_100k_s: a host with one port in a VPC of 100,000 ports (bound to 20 other hosts)
  connects -> it holds the full snapshot (Hello, registration through Raft, snapshot, transfer,
  and the agent model's apply); median of 3. `--quick` measures 10,000 ports
  (snapshot_10k_s) with 100 agents.
- The hosts are registered nodes before their agents connect (steady state: a first-time
  registration storm in a VPC spanning every host is quadratic in neighbor updates).
- mem_per_agent_kb: growth of the controller's anonymous memory (RssAnon) from before the
  agents connect to after all are connected and synced, per agent.
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import random
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import grpc
import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import parse_args, percentile, report
from loadgen import LoadGen

from alcor.cmd.localcluster import LocalCluster
from alcor.v1 import network_pb2 as net
from alcor.v1 import network_pb2_grpc, watch_pb2, watch_pb2_grpc
from alcor.v1 import resources_pb2 as res

BULK = 1000


def underlay_ip(i: int, host: str) -> str:
    return f"172.16.{i // 250}.{i % 250 + 1}"


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


async def idle(pid: int, quiet: float = 1.0, timeout: float = 600.0) -> None:
    """Wait until the process used no CPU for `quiet` seconds (the engine caught up)."""
    deadline = time.monotonic() + timeout
    last = cpu_ticks(pid)
    while time.monotonic() < deadline:
        await asyncio.sleep(quiet)
        now = cpu_ticks(pid)
        if now - last <= 1:
            return
        last = now


def rss_anon_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1])
    raise RuntimeError("no RssAnon in /proc/PID/status")


async def active_latencies(endpoint: str, subnets: list[str], hosts: list[str], samples: int, seed: int) -> list[float]:
    """CreatePort sent -> ACTIVE seen on a Watch, `samples` times in a row, each port in a random
    100-port VPC (subnets[v] of project p{v}) on a random host."""
    rng = random.Random(seed)
    async with grpc.aio.insecure_channel(endpoint) as channel:
        api = network_pb2_grpc.NetworkServiceStub(channel)
        out: list[float] = []
        active: dict[str, float] = {}
        wanted: asyncio.Queue[str] = asyncio.Queue()
        call = watch_pb2_grpc.WatchServiceStub(channel).Watch(watch_pb2.WatchRequest(kinds=[res.RESOURCE_KIND_PORT]))

        async def follow() -> None:
            async for response in call:
                for event in response.events:
                    port = event.resource.port
                    if port.status == res.PORT_STATUS_ACTIVE and port.id not in active:
                        active[port.id] = time.perf_counter()
                        wanted.put_nowait(port.id)

        reader = asyncio.create_task(follow())
        await asyncio.sleep(0.5)  # the watch is established
        try:
            for _ in range(samples):
                v = rng.randrange(len(subnets))
                host = rng.choice(hosts)
                t0 = time.perf_counter()
                request = net.CreatePortRequest(project_id=f"p{v}", subnet_id=subnets[v], host_id=host)
                port = (await api.CreatePort(request)).port
                while port.id not in active:
                    await asyncio.wait_for(wanted.get(), 30)
                out.append((active[port.id] - t0) * 1000)
        finally:
            call.cancel()
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
        return out


def measure_active(endpoint: str, subnets: list[str], hosts: list[str], samples: int, seed: int) -> list[float]:
    """`active_latencies` in a process of its own: the client that times a port must not wait
    behind the 1,000 simulated agents' traffic in this one (real agents run elsewhere)."""
    return uvloop.run(active_latencies(endpoint, subnets, hosts, samples, seed))


class Bench:
    def __init__(self, endpoint: str, hosts: list[str], rng: random.Random) -> None:
        self.channel = grpc.aio.insecure_channel(
            endpoint, options=[("grpc.max_receive_message_length", 64 << 20)]
        )
        self.api = network_pb2_grpc.NetworkServiceStub(self.channel)
        self.hosts = hosts
        self.rng = rng
        self.subnets: list[str] = []  # the 100-port VPCs' subnets
        self.fan_subnet = ""
        self.fan_group = ""
        self.projects: dict[str, str] = {}  # subnet id -> project
        self.pid = 0  # the controller process

    async def vpc(self, project: str, cidr: str, subnet_cidr: str) -> str:
        vpc = (await self.api.CreateVpc(net.CreateVpcRequest(project_id=project, cidr=cidr))).vpc
        request = net.CreateSubnetRequest(project_id=project, vpc_id=vpc.id, cidr=subnet_cidr)
        subnet = await self.api.CreateSubnet(request)
        self.projects[subnet.subnet.id] = project
        return str(subnet.subnet.id)

    async def ports(self, subnet_id: str, hosts: list[str], groups: list[str] | None = None) -> int:
        revision = 0
        for i in range(0, len(hosts), BULK):
            items = [
                net.CreatePortRequest(
                    project_id=self.projects[subnet_id],
                    subnet_id=subnet_id,
                    host_id=h,
                    security_group_ids=groups or [],
                )
                for h in hosts[i : i + BULK]
            ]
            response = await self.api.CreatePorts(net.CreatePortsRequest(ports=items))
            revision = response.header.revision
        return revision

    async def setup(self, vpc_size: int) -> None:
        hosts = self.hosts
        # the hosts are known nodes already (as in steady state): an agent's Hello then only
        # refreshes its version, which changes nobody's goal state
        for i, h in enumerate(hosts):
            await self.api.CreateNode(net.CreateNodeRequest(host_id=h, underlay_ip=underlay_ip(i, h)))
        for v in range(len(hosts) // vpc_size):
            subnet = await self.vpc(f"p{v}", "10.0.0.0/16", "10.0.0.0/20")
            self.subnets.append(subnet)
            await self.ports(subnet, hosts[v * vpc_size : (v + 1) * vpc_size])
        self.fan_subnet = await self.vpc("fan", "10.0.0.0/16", "10.0.0.0/18")
        rule = res.SecurityGroupRule(direction=res.DIRECTION_INGRESS, remote_ip_prefix="10.0.0.0/16")
        group = await self.api.CreateSecurityGroup(
            net.CreateSecurityGroupRequest(project_id="fan", name="open", rules=[rule])
        )
        self.fan_group = group.security_group.id
        await self.ports(self.fan_subnet, hosts, [self.fan_group])

    async def fanout(self, lg: LoadGen, samples: int) -> list[float]:
        out = []
        for _ in range(samples):
            host = self.rng.choice(self.hosts)
            t0 = time.perf_counter()
            request = net.CreatePortRequest(
                project_id="fan", subnet_id=self.fan_subnet, host_id=host, security_group_ids=[self.fan_group]
            )
            response = await self.api.CreatePort(request)
            times = await lg.wait_all(response.header.revision, self.hosts, timeout=60)
            out.append((max(times.values()) - t0) * 1000)
            await asyncio.sleep(0.2)  # let acks and status write-backs settle between samples
        return out

    async def snapshot(self, endpoint: str, size: int, runs: int) -> list[float]:
        subnet = await self.vpc("big", "10.0.0.0/8", "10.0.0.0/12")
        far = [f"far-{i % 20:02d}" for i in range(size)]
        await self.ports(subnet, far)
        await idle(self.pid)
        out = []
        for run in range(runs):
            host = f"snap-{run}"
            await self.ports(subnet, [host])
            t0 = time.perf_counter()
            async with LoadGen([endpoint], [host]) as one:
                elapsed = time.perf_counter() - t0
                neighbors = len(one.agents[host].goal.neighbors)
            if neighbors < size:
                raise RuntimeError(f"snapshot held {neighbors} neighbors, expected at least {size}")
            out.append(elapsed)
        return out

    async def close(self) -> None:
        await self.channel.close()


async def run(endpoint: str, pid: int, quick: bool) -> tuple[dict[str, float], dict[str, object]]:
    agents = 100 if quick else 1000
    vpc_size = 50 if quick else 100
    active_samples = 30 if quick else 200
    fanout_samples = 10 if quick else 50
    snapshot_size = 10_000 if quick else 100_000
    hosts = [f"host-{i:04d}" for i in range(agents)]
    bench = Bench(endpoint, hosts, random.Random(5))
    bench.pid = pid
    try:
        await bench.setup(vpc_size)
        await idle(pid)
        before = rss_anon_kb(pid)
        t0 = time.perf_counter()
        lg = LoadGen([endpoint], hosts, seed=5, underlay_ip=underlay_ip, streams_per_channel=25)
        try:
            await lg.start(timeout=300)
            connect_s = time.perf_counter() - t0
            # this one process holds every simulated agent's goal state (a million messages),
            # where a real agent's heap is its own: freeze what the snapshots built, or the
            # collector's full passes over it pause all 1,000 agents at once
            gc.collect()
            gc.freeze()
            # and what their updates allocate afterwards (a new table per touched collection, per
            # agent) would trigger collections of all 1,000 agents' young objects: a real agent
            # collects only its own. Rarer collections: fan-out last host 402 -> 354 ms (mean)
            gc.set_threshold(100_000, 50, 1000)
            await idle(pid)  # acks and the first status write-backs
            after = rss_anon_kb(pid)
            spawn = multiprocessing.get_context("spawn")  # no fork under gRPC
            with ProcessPoolExecutor(1, mp_context=spawn) as pool:
                active = await asyncio.get_running_loop().run_in_executor(
                    pool, measure_active, endpoint, bench.subnets, hosts, active_samples, 5
                )
            fan = await bench.fanout(lg, fanout_samples)
            stats = lg.stats()
        finally:
            await lg.close()
        snaps = await bench.snapshot(endpoint, snapshot_size, 3)
    finally:
        await bench.close()
    snapshot_name = "snapshot_100k_s" if snapshot_size == 100_000 else f"snapshot_{snapshot_size // 1000}k_s"
    figures = {
        "active_p50_ms": round(percentile(active, 50), 2),
        "active_p99_ms": round(percentile(active, 99), 2),
        "fanout_p99_ms": round(percentile(fan, 99), 2),
        snapshot_name: round(statistics.median(snaps), 3),
        "mem_per_agent_kb": round((after - before) / agents, 1),
    }
    params: dict[str, object] = {
        "mode": "quick" if quick else "full",
        "agents": agents,
        "vpc_ports": vpc_size,
        "fanout_vpc_ports": agents,
        "active_samples": active_samples,
        "fanout_samples": fanout_samples,
        "fanout_p50_ms": round(percentile(fan, 50), 2),
        "snapshot_ports": snapshot_size,
        "snapshot_runs_s": [round(s, 3) for s in snaps],
        "connect_all_s": round(connect_s, 2),
        "controller_rss_anon_kb": [before, after],
        "loadgen": stats,
        "controller": "1 member, fsync on, separate process; loadgen in the bench process (2 cores shared)",
    }
    return figures, params


def main() -> None:
    opts = parse_args(__doc__.splitlines()[0])
    with tempfile.TemporaryDirectory() as tmp:
        cluster = LocalCluster(Path(tmp), size=1, extra=["--log-level", "warning"])
        try:
            cluster.start()
            member = next(iter(cluster.members.values()))
            assert member.popen is not None
            # uvloop, as `alcor agent run` and the controller use
            figures, params = uvloop.run(run(member.api, member.popen.pid, opts.quick))
        finally:
            cluster.stop()
    report("bench_goalstate", figures, params, opts.json)


if __name__ == "__main__":
    main()
