"""The SDK across a leader crash on a real 3-process cluster: creates in flight while the leader
is killed with SIGKILL are retried with their request ids, so every create that returned is
present exactly once and nothing else is; a watch served by the killed member resumes at
another and misses nothing."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import pytest
from support.controller import ProcessCluster

from alcor.sdk import Client

pytestmark = pytest.mark.slow

WRITERS = 4
PER_WRITER = 40


def test_leader_killed_mid_stream_of_creates(tmp_path: Path) -> None:
    c = ProcessCluster(tmp_path, size=3)
    try:
        c.start()
        leader = c.leader()
        with Client(c.endpoints, timeout=30) as admin:
            vpc = admin.create_vpc(name="fo", cidr="10.0.0.0/8")
            subnet = admin.create_subnet(vpc_id=vpc.id, cidr="10.0.0.0/16")
        returned: list[str] = []
        failures: list[BaseException] = []
        lock = threading.Lock()
        halfway = threading.Barrier(WRITERS + 1)

        def writer(n: int) -> None:
            with Client(c.endpoints, timeout=30) as client:
                for i in range(PER_WRITER):
                    if i == PER_WRITER // 2:
                        halfway.wait(60)
                    try:
                        port = client.create_port(subnet_id=subnet.id, name=f"w{n}-{i}")
                    except BaseException as e:  # every failure is reported below
                        failures.append(e)
                        return
                    with lock:
                        returned.append(port.id)

        # the watch is served by the leader that is about to die
        with (
            Client([leader.api, *c.endpoints], timeout=30) as watcher,
            watcher.watch(
                kinds=["port"], from_revision=subnet.revision + 1, progress_interval_ms=200
            ) as events,
        ):
            threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
            for t in threads:
                t.start()
            halfway.wait(60)
            c.kill9(leader.id)
            for t in threads:
                t.join(120)
            assert failures == []
            assert len(returned) == WRITERS * PER_WRITER
            watched = [next(events) for _ in range(len(returned))]
            assert watcher.router.endpoint != leader.api  # the watch moved to a live member

        with Client(c.endpoints, timeout=30) as reader:
            listed = [p for p in reader.list_ports(subnet_id=subnet.id)]
        names = Counter(p.name for p in listed)
        assert names == Counter(f"w{n}-{i}" for n in range(WRITERS) for i in range(PER_WRITER))
        assert sorted(p.id for p in listed) == sorted(returned)
        assert sorted(e.resource.port.id for e in watched) == sorted(returned)
        revisions = [e.revision for e in watched]
        assert revisions == sorted(revisions) and len(set(revisions)) == len(revisions)
    finally:
        c.stop()
