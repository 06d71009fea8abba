"""`alcor controller run`: flags and config file, clear errors for bad settings, a graceful stop
on SIGTERM that keeps every acknowledged write."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
from click.testing import CliRunner
from grpc_health.v1 import health_pb2, health_pb2_grpc
from support.cluster import free_port

from alcor.cmd.main import cli
from alcor.controller.config import ConfigError, load, parse_bootstrap
from alcor.v1 import cluster_pb2, cluster_pb2_grpc, network_pb2_grpc
from alcor.v1 import network_pb2 as net


def wait_serving(api: str, proc: subprocess.Popen[bytes], timeout: float = 20) -> None:
    """Until the node serves and has elected itself (a single-node cluster)."""
    deadline = time.monotonic() + timeout
    with grpc.insecure_channel(api) as ch:
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            try:
                r = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=1)
                status = cluster_pb2_grpc.ClusterServiceStub(ch).Status(cluster_pb2.ClusterStatusRequest(), timeout=1)
                if r.status == health_pb2.HealthCheckResponse.SERVING and status.leader_id:
                    return
            except grpc.RpcError:
                pass
            time.sleep(0.05)
    raise AssertionError("the controller did not start serving")


def start(args: list[str], cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "alcor.cmd.main", "controller", "run", *args],
                            cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.mark.slow
def test_config_file_run_and_sigterm_keep_acknowledged_writes(tmp_path: Path) -> None:
    api, peer = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    conf = tmp_path / "c1.toml"
    conf.write_text(f'id = "c1"\ndata_dir = "{tmp_path / "data"}"\nlisten = "{api}"\npeer_listen = "{peer}"\n')
    proc = start(["--config", str(conf)], tmp_path)
    try:
        wait_serving(api, proc)
        with grpc.insecure_channel(api) as ch:
            vpc = network_pb2_grpc.NetworkServiceStub(ch).CreateVpc(
                net.CreateVpcRequest(name="kept", cidr="10.0.0.0/16"), timeout=10).vpc
        assert vpc.project_id == "default"  # an open server's callers act in project default
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
        assert b"open" in proc.stderr.read()  # it said the API is open
        proc = start(["--config", str(conf)], tmp_path)
        wait_serving(api, proc)
        with grpc.insecure_channel(api) as ch:
            got = network_pb2_grpc.NetworkServiceStub(ch).GetVpc(net.GetRequest(id=vpc.id), timeout=10).vpc
        assert got == vpc
    finally:
        proc.terminate()
        proc.wait(20)


@pytest.mark.parametrize(("args", "message"), [
    (["--listen", "nowhere"], "listen 'nowhere': expected host:port"),
    (["--bootstrap", "c2=127.0.0.1:1/127.0.0.1:2"], "bootstrap does not list this node's id 'c1'"),
    (["--token-file", "/no/such/file"], "token_file: /no/such/file is not a readable file"),
    (["--bootstrap", "c1=127.0.0.1:1", "--join", "127.0.0.1:2"], "either bootstrap or join"),
    (["--vni-range", "5-1"], "vni_range 5-1"),
])
def test_bad_settings_are_one_line_errors(args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["controller", "run", *args])
    assert result.exit_code != 0
    assert message in result.output and "Traceback" not in result.output


def test_config_file_and_flags_merge_with_flags_winning(tmp_path: Path) -> None:
    conf = tmp_path / "c.toml"
    conf.write_text('id = "c7"\nlisten = "127.0.0.1:1"\nhistory = 50\n')
    c = load(str(conf), {"listen": "127.0.0.1:2", "id": None})
    assert (c.id, c.listen, c.history) == ("c7", "127.0.0.1:2", 50)
    conf.write_text('colour = "blue"\n')
    with pytest.raises(ConfigError, match="unknown setting"):
        load(str(conf), {})


def test_no_flags_found_a_single_node_cluster() -> None:
    c = load(None, {})
    assert c.founding == {"c1": ("127.0.0.1:7001", "127.0.0.1:6001")} and c.data_dir == "./alcor-data"
    assert parse_bootstrap("a=h:1/h:2,b=h:3") == {"a": ("h:1", "h:2"), "b": ("h:3", "")}
