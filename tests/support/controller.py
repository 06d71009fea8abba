"""Controller clusters for tests: in-process nodes on a background event loop (fast, for SDK, CLI
and servicer tests) and real `alcor controller run` processes (for failover tests).

    with InProcessCluster(tmp_path, size=1) as c:      # c.endpoints, c.nodes, c.run(coro)
        Client(c.endpoints).create_vpc(...)

    cluster = ProcessCluster(tmp_path, size=3); cluster.start()   # alcor.cmd.localcluster
"""

from __future__ import annotations

import asyncio
import faulthandler
import sys
import threading
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from alcor.cmd.localcluster import LocalCluster as ProcessCluster
from alcor.controller.config import NodeConfig
from alcor.controller.node import ControllerNode

from .cluster import free_port

T = TypeVar("T")
# fast elections for tests; production ticks are the same length, with the same tick counts
TICK = 0.05


def write_tokens(path: Path, tokens: dict[str, str]) -> Path:
    """A token file from {token: scope}."""
    path.write_text("".join(f"{t} {scope}\n" for t, scope in tokens.items()))
    return path


class InProcessCluster:
    """`size` ControllerNodes sharing one background asyncio loop in this process."""

    def __init__(self, root: Path, size: int = 1, **settings: Any) -> None:
        self.root = root
        self.size = size
        self.settings = settings
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.nodes: dict[str, ControllerNode] = {}
        self.configs: dict[str, NodeConfig] = {}

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        try:
            return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)
        except TimeoutError:
            _dump(self.loop)  # where the loop's tasks and every thread are: for the CI log
            raise

    @property
    def endpoints(self) -> list[str]:
        return [c.listen for c in self.configs.values()]

    def __enter__(self) -> InProcessCluster:
        self.thread.start()
        ids = [f"c{i + 1}" for i in range(self.size)]
        addrs = {i: (f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}") for i in ids}
        bootstrap = {i: (peer, api) for i, (peer, api) in addrs.items()}
        for i in ids:
            peer, api = addrs[i]
            self.configs[i] = NodeConfig(
                id=i, data_dir=str(self.root / i), listen=api, peer_listen=peer, bootstrap=bootstrap,
                tick_seconds=TICK, **self.settings,
            ).validate()
            self.nodes[i] = ControllerNode(self.configs[i])
        for node in self.nodes.values():
            self.run(node.start())
        self.wait_leader()
        return self

    def leader(self) -> ControllerNode | None:
        for node in self.nodes.values():
            if node._started and node.raft.status().leader == node.config.id:
                return node
        return None

    def wait_leader(self, timeout: float = 15.0) -> ControllerNode:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            node = self.leader()
            if node is not None:
                return node
            time.sleep(0.02)
        raise AssertionError("no leader elected")

    def __exit__(self, *exc: object) -> None:
        for node in self.nodes.values():
            self.run(node.stop(0.2))
        self.run(_cancel_rest())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


def _dump(loop: asyncio.AbstractEventLoop) -> None:
    print(f"\n--- {len(asyncio.all_tasks(loop))} tasks on the cluster's loop ---", file=sys.stderr)
    for task in list(asyncio.all_tasks(loop)):
        task.print_stack(limit=8, file=sys.stderr)
    print("--- threads ---", file=sys.stderr, flush=True)
    faulthandler.dump_traceback(file=sys.stderr, all_threads=True)


async def _cancel_rest() -> None:
    """Cancel what the stopped nodes left behind (grpc.aio call tasks), so the loop closes clean."""
    me = asyncio.current_task()
    rest = [t for t in asyncio.all_tasks() if t is not me]
    for t in rest:
        t.cancel()
    await asyncio.gather(*rest, return_exceptions=True)


__all__ = ["InProcessCluster", "ProcessCluster", "write_tokens"]


def wait_connected(client: Any, host_ids: list[str], timeout: float = 30.0) -> None:
    """Until an agent of every host is connected to the cluster (WaitForHosts' progress)."""
    deadline = time.monotonic() + timeout
    while True:
        progress = client.wait_for_hosts(0, host_ids=host_ids, timeout=1)
        if all(h.connected for h in progress.hosts) and len(progress.hosts) == len(host_ids):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"agents not connected: {progress.hosts}")
        time.sleep(0.05)
