"""Benchmark: how soon a restarted controller member serves again, by state size.

    python perf/bench_restart.py [--quick] [--json PATH]

3 member processes (`alcor controller run`, fsync on) holding PORTS ports (100,000; 10,000
with --quick) in one VPC spread over 500 hosts. A follower is stopped and started again, RUNS
times: each run alternates a graceful stop (SIGTERM) and a kill -9.

Figures:
- restart_api_s: process start -> the member's health check says SERVING (Raft member and API
  up: it answers reads and takes writes); median over the runs.
- restart_goal_state_s: process start -> the GoalStateService health check says SERVING (its
  goal-state engine is loaded from the store, in a thread of its own: agents wait for it).
- stop_s: SIGTERM -> the process exited (median of the graceful runs).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import grpc
from benchlib import median, parse_args, report
from grpc_health.v1 import health_pb2, health_pb2_grpc

from alcor.cmd.localcluster import LocalCluster
from alcor.sdk import Client

BULK = 1000
HOSTS = 500
GOAL_STATE = "alcor.v1.GoalStateService"


def serving_after(api: str, service: str, since: float, timeout: float = 300.0) -> float:
    """Seconds from `since` until `service` on `api` reports SERVING."""
    deadline = time.monotonic() + timeout
    with grpc.insecure_channel(api) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            try:
                status = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=1).status
                if status == health_pb2.HealthCheckResponse.SERVING:
                    return time.monotonic() - since
            except grpc.RpcError:
                pass
            time.sleep(0.01)
    raise TimeoutError(f"{service or 'the server'} on {api} not serving after {timeout:.0f}s")


def main() -> None:
    opts = parse_args(__doc__.splitlines()[0])
    ports = 10_000 if opts.quick else 100_000
    runs = 2 if opts.quick else 6
    api_s: list[float] = []
    goal_state_s: list[float] = []
    stop_s: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        cluster = LocalCluster(Path(tmp), size=3, extra=["--log-level", "warning"])
        try:
            cluster.start()
            with Client(cluster.endpoints) as client:
                vpc = client.create_vpc(name="restart", cidr="10.0.0.0/8")
                subnet = client.create_subnet(vpc_id=vpc.id, cidr="10.0.0.0/12")
                for start in range(0, ports, BULK):
                    client.create_ports(
                        [{"subnet_id": subnet.id, "host_id": f"h{(start + i) % HOSTS}"} for i in range(BULK)]
                    )
            leader = cluster.leader()
            member = next(m for m in cluster.members if m != leader.id)
            for run in range(runs):
                if run % 2 == 0:
                    t0 = time.monotonic()
                    cluster.stop_member(member)
                    stop_s.append(time.monotonic() - t0)
                else:
                    cluster.kill9(member)
                started = time.monotonic()
                cluster.launch(member, wait=False)
                api_s.append(serving_after(cluster.members[member].api, "", started))
                goal_state_s.append(serving_after(cluster.members[member].api, GOAL_STATE, started))
        finally:
            cluster.stop()
    figures = {
        "restart_api_s": round(median(api_s), 3),
        "restart_goal_state_s": round(median(goal_state_s), 3),
        "stop_s": round(median(stop_s), 3),
    }
    params: dict[str, object] = {
        "mode": "quick" if opts.quick else "full",
        "members": 3,
        "ports": ports,
        "hosts": HOSTS,
        "runs": runs,
        "restart_api_runs_s": [round(x, 3) for x in api_s],
        "restart_goal_state_runs_s": [round(x, 3) for x in goal_state_s],
        "stop_runs_s": [round(x, 3) for x in stop_s],
        "cores": os.cpu_count(),
        "loadavg_1min": os.getloadavg()[0],
    }
    report("bench_restart", figures, params, opts.json)


if __name__ == "__main__":
    main()
