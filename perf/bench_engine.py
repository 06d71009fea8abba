"""Benchmark: the controller's goal-state work for one bulk create into a VPC that spans many
hosts, in this process (no Raft, no streams): what a member does on its event loop.

    python perf/bench_engine.py [--quick] [--json PATH]

The VPC has one port on each of HOSTS hosts (every host has an agent connected); one batch then
creates BULK ports in it, spread over the hosts, so every host gets BULK - (its own) new
neighbors: HOSTS x BULK upserts in all.

Figures (median of 3 runs):
- bulk_apply_s: `GoalStateEngine.apply` of the batch (the per-host deltas and histories).
- bulk_queue_s: pushing those deltas into the hosts' queues (`HostQueue.push`).
- bulk_messages_s: taking every host's update message from its queue (`HostQueue.take`, with
  the items encoded once for all hosts, as the hub's streams take them as they pull).
`--quick`: 200 hosts, 200 ports.
"""

from __future__ import annotations

import gc
import statistics
import time

from benchlib import parse_args, report

from alcor.controller.goalstate.engine import GoalStateEngine
from alcor.controller.goalstate.session import HostQueue
from alcor.v1 import resources_pb2 as res
from alcor.v1 import watch_pb2 as watch


def port(i: int, host: str) -> res.Port:
    return res.Port(
        id=f"port-{i:07d}",
        vpc_id="vpc-1",
        subnet_id="subnet-1",
        host_id=host,
        mac_address=f"fa:16:3e:{(i >> 16) & 255:02x}:{(i >> 8) & 255:02x}:{i & 255:02x}",
        fixed_ips=[
            res.FixedIp(subnet_id="subnet-1", ip_address=f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}")
        ],
    )


def one_run(hosts: int, bulk: int) -> tuple[float, float, float, int]:
    names = [f"host-{i:05d}" for i in range(hosts)]
    engine = GoalStateEngine()
    engine.load(
        10,
        vpcs=[res.Vpc(id="vpc-1", cidr="10.0.0.0/8", vni=77)],
        subnets=[res.Subnet(id="subnet-1", vpc_id="vpc-1", cidr="10.0.0.0/8", gateway_ip="10.0.0.1")],
        nodes=[res.Node(host_id=h, underlay_ip=f"172.16.{i >> 8}.{i & 255}") for i, h in enumerate(names)],
        ports=[(port(i, h), 10) for i, h in enumerate(names)],
    )
    queues = {h: HostQueue(10, full=False) for h in names}
    events = [
        watch.Event(
            type=watch.EVENT_TYPE_CREATED,
            kind=res.RESOURCE_KIND_PORT,
            revision=11,
            resource=res.Resource(port=port(hosts + j, names[j % hosts])),
        )
        for j in range(bulk)
    ]
    gc.collect()
    t0 = time.perf_counter()
    deltas = engine.apply(events, 11, wanted=queues.__contains__)
    t1 = time.perf_counter()
    for host, delta in deltas.items():
        assert delta is not None, "a host was sent a snapshot: the bench measures deltas"
        queues[host].push(11, delta)
    t2 = time.perf_counter()
    upserts = 0
    for queue in queues.values():
        message = queue.take(lambda: engine.snapshot(""), engine.index.chunk_of)  # as the hub does
        assert message is not None
        upserts += len(message.update.upserts)
    t3 = time.perf_counter()
    return t1 - t0, t2 - t1, t3 - t2, upserts


def main() -> None:
    opts = parse_args(__doc__.splitlines()[0])
    hosts, bulk = (200, 200) if opts.quick else (1000, 1000)
    runs = [one_run(hosts, bulk) for _ in range(3)]
    upserts = runs[0][3]
    figures = {
        "bulk_apply_s": round(statistics.median(r[0] for r in runs), 3),
        "bulk_queue_s": round(statistics.median(r[1] for r in runs), 3),
        "bulk_messages_s": round(statistics.median(r[2] for r in runs), 3),
    }
    params = {
        "mode": "quick" if opts.quick else "full",
        "hosts": hosts,
        "bulk_ports": bulk,
        "upserts": upserts,
        "runs": [[round(x, 4) for x in r[:3]] for r in runs],
    }
    report("bench_engine", figures, params, opts.json)


if __name__ == "__main__":
    main()
