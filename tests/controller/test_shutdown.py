"""A controller's shutdown ends even when one of its parts does not stop: it is logged and
passed over, and the rest (Raft, the peer server, the stores) still stops."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from support.controller import InProcessCluster

from alcor.controller import node as node_module


def test_a_part_that_never_stops_does_not_hang_the_shutdown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(node_module, "STOP_STEP_S", 0.2)
    caplog.set_level(logging.ERROR, logger="alcor.controller.node")
    cluster = InProcessCluster(tmp_path, size=1)
    with cluster:
        node = cluster.nodes["c1"]
        stop_hub = node.hub.stop

        async def stuck() -> None:
            await stop_hub()
            await asyncio.Event().wait()  # a stop that never returns

        node.hub.stop = stuck  # type: ignore[method-assign]
        raft_stop = node.raft.stop
        stopped = []

        async def raft_stopped() -> None:
            await raft_stop()
            stopped.append("raft")

        node.raft.stop = raft_stopped  # type: ignore[method-assign]
    assert stopped == ["raft"]  # the steps after the stuck one ran
    assert any("the goal-state hub did not stop within" in r.getMessage() for r in caplog.records)
