"""The installed `alcor-cni` executable, run as a runtime runs it (CNI_* environment, the
network configuration on stdin), against a real controller and an agent on the in-memory data
plane: ADD, adoption, DEL, CHECK's port checks and every error path, which must leave nothing
behind. The namespace side (podman, real veths) is in tests/system/test_cni_podman.py."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from support.cni import CONTAINER, PLUGIN, cni
from support.controller import InProcessCluster, write_tokens

from alcor.agent.dataplane.memory import MemoryDriver
from alcor.agent.runner import Agent, AgentConfig
from alcor.cmd.main import cli
from alcor.sdk import Client
from alcor.v1 import resources_pb2 as res


class Env:
    def __init__(self, cluster: InProcessCluster, root: Path) -> None:
        self.cluster = cluster
        self.token_file = root / "cni-token"
        self.token_file.write_text("cni-admin\n")
        self.client = Client(cluster.endpoints, token="cni-admin")
        self.vpc = self.client.create_vpc(name="web", cidr="10.1.0.0/16", project_id="team-a")
        self.subnet = self.client.create_subnet(
            vpc_id=self.vpc.id, cidr="10.1.1.0/24", name="web-a", dns_nameservers=["10.1.1.53"]
        )

    def conf(self, **overrides: Any) -> dict[str, Any]:
        conf: dict[str, Any] = {
            "cniVersion": "1.0.0",
            "name": "alcor",
            "type": "alcor-cni",
            "vpc": "web",
            "subnet": "web-a",
            "project": "team-a",
            "endpoints": self.cluster.endpoints,
            "hostId": "h1",
            "tokenFile": str(self.token_file),
            "timeoutSeconds": 5,
        }
        conf.update(overrides)
        return {k: v for k, v in conf.items() if v is not None}

    def ports(self, container: str = CONTAINER) -> list[res.Port]:
        return list(self.client.list_ports(container_id=container))


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    root = tmp_path_factory.mktemp("cni")
    tokens = write_tokens(root / "tokens", {"cni-admin": "admin", "agent-h1": "host:h1"})
    with InProcessCluster(root, size=1, token_file=str(tokens)) as cluster:
        # the agent of h1 on the in-memory data plane, on the cluster's loop
        config = AgentConfig(
            host_id="h1", controllers=cluster.endpoints, underlay_ip="192.0.2.1", token="agent-h1",
            resync_interval=None, fsync=False,
        )  # fmt: skip
        agent = Agent(config, MemoryDriver("192.0.2.1"))
        running = asyncio.run_coroutine_threadsafe(agent.run(), cluster.loop)
        e = Env(cluster, root)
        try:
            yield e
        finally:
            e.client.close()
            cluster.loop.call_soon_threadsafe(agent.stop)
            running.result(10)


@pytest.fixture(autouse=True)
def no_ports_left(env: Env) -> Iterator[None]:
    yield
    for port in env.client.list_ports(vpc_id=env.vpc.id):
        env.client.delete_port(port.id)


def test_version() -> None:
    code, out = cni("VERSION", {"cniVersion": "1.0.0"}, container="", netns="dummy", ifname="dummy")
    assert code == 0
    assert out == {"cniVersion": "1.0.0", "supportedVersions": ["0.3.0", "0.3.1", "0.4.0", "1.0.0"]}


def test_add_makes_an_active_port_and_returns_its_configuration(env: Env) -> None:
    code, result = cni("ADD", env.conf(), args="IgnoreUnknown=1;K8S_POD_NAME=web-0;K8S_POD_NAMESPACE=shop")
    assert code == 0, result
    [port] = env.ports()
    assert port.status == res.PORT_STATUS_ACTIVE
    assert (port.host_id, port.device_id, port.interface_name) == ("h1", "/run/netns/cni-test-1", "eth0")
    assert (port.container.container_id, port.container.pod_name, port.container.pod_namespace) == (
        CONTAINER, "web-0", "shop",
    )  # fmt: skip
    assert port.name == "web-0"
    ip = port.fixed_ips[0].ip_address
    assert result == {
        "cniVersion": "1.0.0",
        "interfaces": [
            {"name": "eth0", "mac": port.mac_address, "sandbox": "/run/netns/cni-test-1", "mtu": 1450}
        ],
        "ips": [{"interface": 0, "address": f"{ip}/24", "gateway": "10.1.1.1"}],
        "routes": [{"dst": "0.0.0.0/0", "gw": "10.1.1.1"}],
        "dns": {"nameservers": ["10.1.1.53"]},
    }


def test_a_retried_add_adopts_the_port(env: Env) -> None:
    _, first = cni("ADD", env.conf())
    code, again = cni("ADD", env.conf())
    assert code == 0 and again == first
    assert len(env.ports()) == 1
    # another interface of the same container is another port
    code, other = cni("ADD", env.conf(), ifname="net1")
    assert code == 0 and other["interfaces"][0]["name"] == "net1"
    assert sorted(p.interface_name for p in env.ports()) == ["eth0", "net1"]


def test_requested_ip_and_mac_from_cni_args_and_runtime_config(env: Env) -> None:
    code, result = cni("ADD", env.conf(), args="IgnoreUnknown=1;IP=10.1.1.42;MAC=02:AA:BB:CC:DD:EE")
    assert code == 0, result
    assert result["ips"][0]["address"] == "10.1.1.42/24"
    assert result["interfaces"][0]["mac"] == "02:aa:bb:cc:dd:ee"
    conf = env.conf(runtimeConfig={"ips": ["10.1.1.77/24"], "mac": "02:00:00:00:00:77"})
    code, result = cni("ADD", conf, container="c2", netns="/proc/4242/ns/net")
    assert code == 0, result
    [port] = env.ports("c2")
    assert (port.fixed_ips[0].ip_address, port.mac_address, port.device_id) == (
        "10.1.1.77", "02:00:00:00:00:77", "/proc/4242/ns/net",
    )  # fmt: skip


def test_old_spec_versions_get_their_result_format(env: Env) -> None:
    code, result = cni("ADD", env.conf(cniVersion="0.4.0"))
    assert code == 0, result
    assert result["cniVersion"] == "0.4.0" and result["ips"][0]["version"] == "4"


def test_del_is_idempotent(env: Env) -> None:
    cni("ADD", env.conf())
    assert len(env.ports()) == 1
    assert cni("DEL", env.conf()) == (0, None)
    assert env.ports() == []
    # again, without a namespace and without prevResult: nothing there is success
    assert cni("DEL", env.conf(), netns="") == (0, None)
    assert cni("DEL", env.conf(), container="never-added") == (0, None)


def test_port_kubernetes_arguments_are_visible_in_the_cli(env: Env) -> None:
    cni("ADD", env.conf(), args="K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-1;K8S_POD_UID=uid-1")
    out = CliRunner().invoke(
        cli,
        ["port", "list", "--container", CONTAINER, "-o", "json"],
        env={"ALCOR_ENDPOINTS": ",".join(env.cluster.endpoints), "ALCOR_TOKEN": "cni-admin"},
    )
    assert out.exit_code == 0, out.output
    [port] = json.loads(out.stdout)
    assert port["container"] == {
        "container_id": CONTAINER, "pod_namespace": "shop", "pod_name": "web-1", "pod_uid": "uid-1",
    }  # fmt: skip


def test_check_needs_the_port_and_its_interface(env: Env) -> None:
    code, err = cni("CHECK", env.conf())
    assert (code, err["code"]) == (1, 101) and "no port" in err["msg"]
    cni("ADD", env.conf())
    # the namespace does not exist here (the in-memory agent wires nothing): CHECK says so
    code, err = cni("CHECK", env.conf())
    assert (code, err["code"]) == (1, 102) and "no interface eth0" in err["msg"]


@pytest.mark.parametrize(
    ("overrides", "args", "code", "words"),
    [
        ({"vpc": None}, "", 7, "no 'vpc'"),
        ({"endpoints": []}, "", 7, "no 'endpoints'"),
        ({"hostId": None}, "", 7, "no 'hostId'"),
        ({"timeoutSeconds": "soon"}, "", 7, "timeoutSeconds"),
        ({"vpcc": "web"}, "", 7, "unknown keys"),
        ({"vpc": "no-such-vpc"}, "", 7, "vpc 'no-such-vpc' not found"),
        ({"subnet": "no-such-subnet"}, "", 7, "subnet 'no-such-subnet' not found"),
        ({"cniVersion": "9.9.9"}, "", 1, "not supported"),
        ({}, "IP=10.2.0.5", 100, "10.2.0.5"),
        ({}, "IP=not-an-ip", 7, "not an IP address"),
        ({}, "MAC=01:00:5e:00:00:01", 100, "multicast"),
        ({"hostId": "h-without-agent"}, "", 11, "not connected"),
        ({"tokenFile": "/nonexistent/token"}, "", 5, "tokenFile"),
    ],
)
def test_bad_input_gets_a_cni_error_and_leaves_nothing(
    env: Env, overrides: dict[str, Any], args: str, code: int, words: str
) -> None:
    rc, err = cni("ADD", env.conf(**overrides), args=args)
    assert rc == 1
    assert err["code"] == code, err
    assert words in err["msg"] + err.get("details", ""), err
    assert env.ports() == []


def test_an_address_already_taken_is_refused(env: Env) -> None:
    cni("ADD", env.conf(), container="first", args="IP=10.1.1.50")
    rc, err = cni("ADD", env.conf(), container="second", args="IP=10.1.1.50")
    assert (rc, err["code"]) == (1, 100) and "10.1.1.50" in err["msg"]
    assert env.ports("second") == []


def test_no_controller_is_try_again_later(env: Env) -> None:
    from support.cluster import free_port

    rc, err = cni("ADD", env.conf(endpoints=[f"127.0.0.1:{free_port()}"], timeoutSeconds=1))
    assert (rc, err["code"]) == (1, 11), err
    assert env.ports() == []


def test_conflist_command_prints_what_the_plugin_loads(env: Env, tmp_path: Path) -> None:
    out = CliRunner().invoke(
        cli,
        ["cni", "conflist", "--vpc", "web", "--subnet", "web-a", "--host-id", "h1", "--project", "team-a",
         "--endpoints", ",".join(env.cluster.endpoints), "--token-file", str(env.token_file)],
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    conflist = json.loads(out.stdout)
    plugin = conflist["plugins"][0]
    assert plugin["type"] == "alcor-cni" and Path(PLUGIN).name == plugin["type"]
    # the runtime hands the plugin its object with name and cniVersion: ADD works with it
    code, result = cni("ADD", {**plugin, "name": conflist["name"], "cniVersion": conflist["cniVersion"]})
    assert code == 0, result


def test_vpc_and_subnet_by_id_and_a_subnet_of_another_vpc(env: Env) -> None:
    code, result = cni("ADD", env.conf(vpc=env.vpc.id, subnet=env.subnet.id))
    assert code == 0, result
    other = env.client.create_vpc(name="other", cidr="10.9.0.0/16", project_id="team-a")
    theirs = env.client.create_subnet(vpc_id=other.id, cidr="10.9.1.0/24")
    try:
        code, err = cni("ADD", env.conf(subnet=theirs.id), container="c3")
        assert (code, err["code"]) == (1, 7) and "not found in vpc" in err["msg"]
        assert env.ports("c3") == []
    finally:
        env.client.delete_subnet(theirs.id)
        env.client.delete_vpc(other.id)
