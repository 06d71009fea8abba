"""The `alcor demo` story as assertions: 3 controller processes, two hosts with agents, two
overlapping VPCs, pings that must pass and fail, the leader killed during a continuous ping with
no loss, and a port created after the failover turning ACTIVE.

The in-memory run needs nothing; the eBPF run needs root and bpffs (it runs in CI).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from alcor.cmd.demo import Narrator, story
from alcor.cmd.demohosts import MemoryHosts, bpf_available

pytestmark = pytest.mark.slow


def check(out) -> None:  # type: ignore[no-untyped-def]
    assert len(out.ports) == 4
    assert all(expected == got for _, _, expected, got in out.pings), out.pings
    assert out.old_leader and out.new_leader and out.old_leader != out.new_leader
    assert out.failover_sent > 10 and out.failover_received == out.failover_sent
    assert out.late_port_active_s < 2.0


def test_demo_story_on_the_memory_data_plane(tmp_path: Path) -> None:
    lines: list[str] = []
    out = story(tmp_path, MemoryHosts(), Narrator(lines.append))
    check(out)
    assert out.mode == "in-memory"
    assert any("ACTIVE" in line for line in lines)


@pytest.mark.root
@pytest.mark.skipif(bool(bpf_available()), reason=f"the eBPF data plane needs root and bpffs: {bpf_available()}")
def test_demo_story_on_the_ebpf_data_plane(tmp_path: Path) -> None:
    from alcor.cmd.demonetns import NamespaceHosts

    before = set(subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split())
    out = story(tmp_path, NamespaceHosts(), Narrator(lambda _: None))
    check(out)
    after = set(subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split())
    assert after <= before, f"namespaces left behind: {after - before}"
