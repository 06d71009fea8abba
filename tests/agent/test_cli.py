"""`alcor agent run` as a real process against a scripted controller: it applies and acks, serves
metrics, stops cleanly on SIGTERM, and after a restart resumes from its --state-dir."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

from click.testing import CliRunner
from clocks import wait_for
from goalstate_double import Session, serving
from net import H1, IP1, network

from alcor.agent.store import SNAPSHOT, snapshot_of
from alcor.cmd.main import cli

ALCOR = [sys.executable, "-c", "from alcor.cmd.main import main; main()"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def scrape(port: int) -> str:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    data = await reader.read()
    writer.close()
    return data.decode()


def test_agent_process_applies_acks_serves_metrics_and_resumes_after_restart(tmp_path: Path) -> None:
    sc, _ = network()
    goal = sc.goal(H1)

    async def script(s: Session) -> None:
        await s.welcome(resumed=False, revision=goal.revision)
        await s.send(snapshot_of(goal))

    async def main() -> None:
        metrics_port = free_port()
        async with serving(script) as (ctl, addr):
            args = [
                *ALCOR,
                "agent",
                "run",
                "--host-id",
                H1,
                "--controllers",
                addr,
                "--dataplane",
                "memory",
                "--underlay-ip",
                IP1,
                "--state-dir",
                str(tmp_path / "state"),
                "--log-level",
                "warning",
            ]
            env = {**os.environ, "ALCOR_AGENT_TOKEN": "tok"}
            proc = await asyncio.create_subprocess_exec(
                *args,
                "--metrics-listen",
                f"127.0.0.1:{metrics_port}",
                env=env,
                stderr=asyncio.subprocess.PIPE,
            )
            try:
                s = await ctl.wait_sessions(1, timeout=30)
                await wait_for(lambda: s.acks, timeout=30)
                assert s.metadata["authorization"] == "Bearer tok"
                assert s.acks[0].revision == goal.revision and not s.acks[0].statuses
                text = await scrape(metrics_port)
                assert 'alcor_agent_updates_applied_total{kind="full"} 1.0' in text
                assert f"alcor_agent_revision {goal.revision:.1f}" in text
                assert 'alcor_dataplane_packets_total{counter="rx_workload"} 0.0' in text
            finally:
                proc.send_signal(signal.SIGTERM)
                _, err = await asyncio.wait_for(proc.communicate(), 30)
            assert proc.returncode == 0, err.decode()
            assert (tmp_path / "state" / SNAPSHOT).exists()

            again = await asyncio.create_subprocess_exec(*args, env=env, stderr=asyncio.subprocess.PIPE)
            try:
                s2 = await ctl.wait_sessions(2, timeout=30)
                assert s2.hello.last_applied_revision == goal.revision
            finally:
                again.send_signal(signal.SIGTERM)
                _, err = await asyncio.wait_for(again.communicate(), 30)
            assert again.returncode == 0, err.decode()

    asyncio.run(main())


def test_bad_input_is_one_line_without_a_traceback(tmp_path: Path) -> None:
    runner = CliRunner()
    (tmp_path / "other").mkdir()
    cases = [
        (["--controllers", "nohost"], "bad controller endpoint 'nohost'"),
        (["--controllers", "127.0.0.1:1", "--underlay-ip", "1.2.3"], "bad underlay ip"),
        (["--controllers", "127.0.0.1:1", "--metrics-listen", "nowhere"], "bad --metrics-listen"),
        (
            ["--controllers", "127.0.0.1:1", "--tls-cert", str(tmp_path / "other")],
            "Invalid value for '--tls-cert'",
        ),
    ]
    for extra, message in cases:
        result = runner.invoke(cli, ["agent", "run", "--host-id", H1, "--dataplane", "memory", *extra])
        assert result.exit_code != 0
        assert message in result.output, result.output
        assert "Traceback" not in result.output
