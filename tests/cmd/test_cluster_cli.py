"""`alcor cluster status|join|leave|transfer-leader` against real Raft member processes."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from support.processes import ProcessCluster

pytestmark = pytest.mark.slow


def alcor(*args: str, endpoints: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("alcor")
    assert exe
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=150,
                          env={"ALCOR_ENDPOINTS": endpoints, "PATH": "/usr/bin:/bin"})


def ok(*args: str, endpoints: str) -> object:
    out = alcor(*args, "-o", "json", endpoints=endpoints)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_status_join_transfer_leave(tmp_path: Path) -> None:
    c = ProcessCluster(tmp_path, size=3)
    try:
        c.start()
        endpoints = ",".join(p.api for p in c.alive())
        status = ok("cluster", "status", endpoints=endpoints)
        assert isinstance(status, dict)
        assert status["leader_id"] == c.leader().id
        assert [(m["id"], m["role"]) for m in status["members"]] == [("a", "voter"), ("b", "voter"), ("c", "voter")]

        table = alcor("cluster", "status", endpoints=endpoints)
        assert table.returncode == 0 and "PEER_ADDRESS" in table.stdout and "leader " in table.stdout

        for i in range(50):
            c.leader().call("Put", b"k%d=v" % i)
        d = c.add("d")
        members = ok("cluster", "join", "--id", "d", "--peer-address", d.peer, "--api-address", d.api,
                     endpoints=endpoints)
        assert [(m["id"], m["role"]) for m in members] == [(x, "voter") for x in "abcd"]  # type: ignore[union-attr]
        assert d.call("Get", b"k49") == b"v"  # caught up before it was promoted

        moved = ok("cluster", "transfer-leader", "--to", "d", endpoints=endpoints)
        assert moved == {"leader_id": "d"}
        assert c.leader().id == "d"

        # d leads: leaving makes it hand leadership over first, then it is removed
        members = ok("cluster", "leave", "--id", "d", endpoints=endpoints)
        assert sorted(m["id"] for m in members) == ["a", "b", "c"]  # type: ignore[union-attr]
        assert c.leader(exclude="d").id in {"a", "b", "c"}
        c.leader(exclude="d").call("Put", b"after=leave")

        bad = alcor("cluster", "leave", "--id", "zz", endpoints=endpoints)
        assert bad.returncode == 1
        assert bad.stderr.startswith("Error: failed_precondition: zz is not a member")
        assert "Traceback" not in bad.stderr
    finally:
        c.stop()
