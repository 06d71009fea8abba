"""perf/replication_floor.py, the no-Raft floor bench_raft.py compares its latency with: a write
is answered only once the leader and a follower hold it, so the floor does the work it claims."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import grpc
import lmdb
import pytest

from alcor.cmd.localcluster import free_port

pytestmark = pytest.mark.slow

_PATH = Path(__file__).resolve().parents[2] / "perf" / "replication_floor.py"
_spec = importlib.util.spec_from_file_location("replication_floor", _PATH)
assert _spec is not None and _spec.loader is not None
floor = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(floor)


def _values(path: Path) -> set[bytes]:
    env = lmdb.open(str(path), readonly=True, lock=False)
    try:
        with env.begin() as txn:
            return {v[16:] for _, v in txn.cursor()}
    finally:
        env.close()


def test_answered_writes_are_on_the_leader_and_a_follower(tmp_path: Path) -> None:
    ports = [free_port() for _ in range(3)]
    sent = {b"w%d" % i for i in range(20)}
    with floor.running(tmp_path, ports) as address, grpc.insecure_channel(address) as channel:
        put = channel.unary_unary("/kv/Put")
        for value in sorted(sent):
            assert put(value, timeout=5.0) == b""
        assert channel.unary_unary("/kv/Ping")(b"", timeout=5.0) == b""
        # read while the processes still run: what each holds once the writes were answered
        leader = _values(tmp_path / "leader")
        followers = [_values(tmp_path / f"f{p}") for p in ports[1:]]
    assert sent <= leader
    assert any(sent <= held for held in followers)
