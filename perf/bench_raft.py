"""Raft on this machine: 3 member processes on loopback, fsync on (issue 3).

Figures: commits_per_s (64 proposers in flight inside the leader process, the workload
pysyncobj is driven with), commits_per_s_rpc (64 in flight from a client process over gRPC:
each command also pays a unary RPC), latency_p50_ms / latency_p99_ms (one client proposer over
gRPC), failover_s (median time from kill -9 of the leader to the first new commit),
pysyncobj_commits_per_s: pysyncobj 0.3.17 in the same run, 3 processes, 64 in flight inside its
leader (and without fsync), and latency_floor_p50_ms / latency_floor_p99_ms: the same client
against replication_floor.py, one replicated fdatasynced write with no Raft in it (the lowest
latency any Raft that keeps acknowledged writes can have on this machine with these libraries),
with its parts: latency_floor_nosync_p50_ms (the same without fdatasync) and rpc_p50_ms (the
client's call alone).

    python perf/bench_raft.py [--quick] [--json PATH]
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import grpc
from benchlib import median, parse_args, percentile, report
from replication_floor import running as floor_running
from support.cluster import free_port
from support.processes import ProcessCluster


async def throughput(api: str, inflight: int, seconds: float) -> float:
    async with grpc.aio.insecure_channel(api) as channel:
        put = channel.unary_unary("/kv/Put")
        done = 0
        stop = time.monotonic() + seconds

        async def worker(w: int) -> None:
            nonlocal done
            i = 0
            while time.monotonic() < stop:
                await put(b"t%d-%d=v" % (w, i), timeout=5.0)
                i += 1
                done += 1

        start = time.monotonic()
        await asyncio.gather(*(worker(w) for w in range(inflight)))
        return done / (time.monotonic() - start)


def latencies(api: str, count: int, method: str = "/kv/Put") -> list[float]:
    with grpc.insecure_channel(api) as channel:
        put = channel.unary_unary(method)
        for i in range(50):  # warm the connection and the leader's caches
            put(b"warm%d=v" % i, timeout=5.0)
        out = []
        for i in range(count):
            t0 = time.perf_counter()
            put(b"l%d=v" % i, timeout=5.0)
            out.append((time.perf_counter() - t0) * 1000)
        return out


def failover(cluster: ProcessCluster) -> float:
    old = cluster.leader()
    cluster.kill9(old.id)
    t0 = time.monotonic()
    survivors = cluster.alive()
    i = 0
    while True:
        target = survivors[i % len(survivors)]
        i += 1
        try:
            target.call("Put", b"failover=%d" % i, timeout=0.3)
            elapsed = time.monotonic() - t0
            break
        except grpc.RpcError:
            continue
    cluster.launch(old.id)
    leader = cluster.leader()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # let it catch up before the next round
        if cluster.procs[old.id].status()["applied"] >= leader.status()["commit"]:
            break
        time.sleep(0.05)
    time.sleep(1.0)
    return elapsed


def pysyncobj_throughput(inflight: int, seconds: float) -> float:
    addrs = [f"127.0.0.1:{free_port()}" for _ in range(3)]
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).with_name("pysyncobj_peer.py")),
                "--me",
                a,
                "--partners",
                ",".join(x for x in addrs if x != a),
                "--inflight",
                str(inflight),
                "--seconds",
                str(seconds),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for a in addrs
    ]
    figure = float("nan")
    for p in procs:
        out, _ = p.communicate(timeout=seconds + 60)
        for line in out.splitlines():
            if line.startswith("{"):
                figure = json.loads(line)["commits_per_s"]
    return figure


def main() -> None:
    opts = parse_args(__doc__.splitlines()[0])
    seconds = 3.0 if opts.quick else 10.0
    inflight = 64
    lat_count = 500 if opts.quick else 3000
    kills = 2 if opts.quick else 5
    # the machine is shared: how busy it was says how far these figures are from a quiet box
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        cluster = ProcessCluster(Path(tmp), size=3)
        try:
            cluster.start()
            leader = cluster.leader()
            commits_rpc = asyncio.run(throughput(leader.api, inflight, seconds))
            commits = json.loads(
                cluster.leader().call("Load", b"%d,%f" % (inflight, seconds), timeout=seconds + 30)
            )["commits_per_s"]
            lat = latencies(cluster.leader().api, lat_count)
            failovers = [failover(cluster) for _ in range(kills)]
        finally:
            cluster.stop()
        with floor_running(Path(tmp) / "floor", [free_port() for _ in range(3)]) as floor:
            floor_lat = latencies(floor, lat_count)
            rpc_lat = latencies(floor, lat_count, "/kv/Ping")
        with floor_running(Path(tmp) / "nosync", [free_port() for _ in range(3)], sync=False) as floor:
            nosync_lat = latencies(floor, lat_count)
    theirs = pysyncobj_throughput(inflight, seconds)
    figures = {
        "commits_per_s": round(commits, 1),
        "commits_per_s_rpc": round(commits_rpc, 1),
        "latency_p50_ms": round(percentile(lat, 50), 3),
        "latency_p99_ms": round(percentile(lat, 99), 3),
        "latency_floor_p50_ms": round(percentile(floor_lat, 50), 3),
        "latency_floor_p99_ms": round(percentile(floor_lat, 99), 3),
        "latency_floor_nosync_p50_ms": round(percentile(nosync_lat, 50), 3),
        "rpc_p50_ms": round(percentile(rpc_lat, 50), 3),
        "failover_s": round(median(failovers), 3),
        "pysyncobj_commits_per_s": round(theirs, 1),
    }
    params = {
        "mode": "quick" if opts.quick else "full",
        "members": 3,
        "fsync": True,
        "inflight": inflight,
        "throughput_seconds": seconds,
        "latency_samples": lat_count,
        "failover_runs": failovers,
        "pysyncobj": "0.3.17, no fsync, load driven inside its leader",
        "cores": os.cpu_count(),
        "loadavg_1min_before": load_before,
        "loadavg_1min_after": os.getloadavg()[0],
    }
    report("bench_raft", figures, params, opts.json)


if __name__ == "__main__":
    main()
