"""The controller API on this machine: 3 `alcor controller run` processes on loopback, fsync on
(issue 4).

Figures: create_port_per_s (single CreatePort calls, 64 in flight, spread over the members),
bulk_ports_per_s (CreatePorts of 1,000 ports, 4 in flight), get_per_s (linearizable GetPort,
64 in flight over the members), watch_lag_p99_ms (100 watchers on the members; the lag of an
event is the time from the CreatePort reply that made it to its arrival at a watcher).

    python perf/bench_api.py [--quick] [--json PATH]
"""

from __future__ import annotations

import asyncio
import itertools
import tempfile
import time
from pathlib import Path

import grpc
import uvloop
from benchlib import parse_args, percentile, report
from support.controller import ProcessCluster

from alcor.v1 import network_pb2 as net
from alcor.v1 import network_pb2_grpc, watch_pb2, watch_pb2_grpc
from alcor.v1 import resources_pb2 as res


async def setup(stub: network_pb2_grpc.NetworkServiceStub) -> str:
    vpc = (await retrying(lambda: stub.CreateVpc(net.CreateVpcRequest(name="bench", cidr="10.0.0.0/8")))).vpc
    sub = await retrying(lambda: stub.CreateSubnet(net.CreateSubnetRequest(vpc_id=vpc.id, cidr="10.0.0.0/9")))
    return str(sub.subnet.id)


async def retrying(call):  # type: ignore[no-untyped-def]
    """A call retried while UNAVAILABLE (a leader election under load), as a client would."""
    while True:
        try:
            return await call()
        except grpc.aio.AioRpcError as e:
            if e.code() != grpc.StatusCode.UNAVAILABLE:
                raise
            await asyncio.sleep(0.05)


async def closed_loop(calls: int, inflight: int, call) -> float:  # type: ignore[no-untyped-def]
    """Run `calls` calls with `inflight` workers; calls per second. A call refused with
    UNAVAILABLE (a leader election under load) is retried, as a client would: it counts once."""
    counter = itertools.count()

    async def worker(w: int) -> None:
        while next(counter) < calls:
            await retrying(lambda: call(w))

    start = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(inflight)))
    return calls / (time.perf_counter() - start)


async def measure(endpoints: list[str], quick: bool) -> dict[str, float]:
    channels = [grpc.aio.insecure_channel(e) for e in endpoints]
    stubs = [network_pb2_grpc.NetworkServiceStub(ch) for ch in channels]
    subnet = await setup(stubs[0])
    figures: dict[str, float] = {}

    n = 3000 if quick else 15000
    figures["create_port_per_s"] = await closed_loop(n, 64, lambda w: stubs[w % len(stubs)].CreatePort(
        net.CreatePortRequest(subnet_id=subnet, host_id=f"h{w % 50}"), timeout=30))

    batch = 1000
    batches = 20 if quick else 100
    figures["bulk_ports_per_s"] = batch * await closed_loop(batches, 4, lambda w: stubs[w % len(stubs)].CreatePorts(
        net.CreatePortsRequest(ports=[net.CreatePortRequest(subnet_id=subnet, host_id=f"h{i % 50}")
                                      for i in range(batch)]), timeout=60))

    some = (await retrying(lambda: stubs[0].ListPorts(net.ListPortsRequest(page=net.PageRequest(page_size=100))))).ports
    ids = [p.id for p in some]
    gets = 5000 if quick else 30000
    figures["get_per_s"] = await closed_loop(gets, 64, lambda w: stubs[w % len(stubs)].GetPort(
        net.GetRequest(id=ids[w % len(ids)]), timeout=30))

    figures["watch_lag_p99_ms"] = await watch_lag(channels, stubs[0], subnet, 100, 100 if quick else 500)
    for ch in channels:
        await ch.close()
    return figures


async def watch_lag(channels: list[grpc.aio.Channel], stub: network_pb2_grpc.NetworkServiceStub, subnet: str,
                    watchers: int, events: int) -> float:
    start_rev = (await retrying(lambda: stub.ListVpcs(net.ListVpcsRequest()))).header.revision + 1
    replied: dict[str, float] = {}
    lags: list[float] = []
    done = asyncio.Event()
    remaining = [watchers]

    async def watcher(i: int) -> None:
        call = watch_pb2_grpc.WatchServiceStub(channels[i % len(channels)]).Watch(
            watch_pb2.WatchRequest(start_revision=start_rev, kinds=[res.RESOURCE_KIND_PORT]))
        seen = 0
        async for r in call:
            now = time.perf_counter()
            for e in r.events:
                t = replied.get(e.resource.port.id)
                # an event can beat the reply to the creator: that is zero lag
                lags.append(max(0.0, now - t) * 1000 if t is not None else 0.0)
                seen += 1
            if seen >= events:
                break
        call.cancel()
        remaining[0] -= 1
        if not remaining[0]:
            done.set()

    tasks = [asyncio.create_task(watcher(i)) for i in range(watchers)]
    await asyncio.sleep(0.5)  # every watch is open
    for _ in range(events):
        r = await retrying(lambda: stub.CreatePort(net.CreatePortRequest(subnet_id=subnet, host_id="w"), timeout=30))
        replied[r.port.id] = time.perf_counter()
        await asyncio.sleep(0.005)  # a steady trickle, not a burst: lag, not queueing
    await asyncio.wait_for(done.wait(), 60)
    await asyncio.gather(*tasks)
    return percentile(lags, 99)


def main() -> None:
    args = parse_args(__doc__ or "")
    with tempfile.TemporaryDirectory() as tmp:
        cluster = ProcessCluster(Path(tmp), size=3, extra=["--log-level", "warning"])
        cluster.start()
        try:
            # the client on uvloop too: 100 watch streams in one process are part of what is timed
            figures = uvloop.run(measure(cluster.endpoints, args.quick))
        finally:
            cluster.stop()
    report("bench_api", figures, {"mode": "quick" if args.quick else "full", "nodes": 3, "fsync": True,
                                  "inflight": 64, "bulk_batch": 1000, "watchers": 100}, args.json)


if __name__ == "__main__":
    main()
