"""`alcor-cni` against a controller that serves only TLS: the conflist's `tls` (CA, client
certificate and key) makes ADD work; no `tls`, an untrusted CA or an unreadable CA file is a CNI
error that leaves nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.certs import issue, make_ca
from support.cni import cni
from support.controller import InProcessCluster, wait_connected

from alcor.agent.channel import TlsFiles
from alcor.agent.dataplane.memory import MemoryDriver
from alcor.agent.runner import Agent, AgentConfig
from alcor.sdk import Client, tls_credentials


@pytest.fixture(scope="module")
def secured(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[InProcessCluster, Client, dict[str, Any]]]:
    root = tmp_path_factory.mktemp("cni-tls")
    ca = make_ca(root)
    cert, key = issue(root, ca, "c1")
    client_cert, client_key = issue(root, ca, "cni")
    tls = {"tls_cert": str(cert), "tls_key": str(key), "tls_ca": str(ca[0])}
    with InProcessCluster(root, size=1, **tls) as cluster:
        config = AgentConfig(
            host_id="h1", controllers=cluster.endpoints, underlay_ip="192.0.2.1", tls=TlsFiles(ca[0]),
            resync_interval=None, fsync=False,
        )  # fmt: skip
        agent = Agent(config, MemoryDriver("192.0.2.1"))
        running = asyncio.run_coroutine_threadsafe(agent.run(), cluster.loop)
        client = Client(cluster.endpoints, tls=tls_credentials(str(ca[0])))
        try:
            vpc = client.create_vpc(name="web", cidr="10.1.0.0/16")
            client.create_subnet(vpc_id=vpc.id, cidr="10.1.1.0/24", name="web-a")
            wait_connected(client, ["h1"])
            conf = {
                "cniVersion": "1.0.0", "name": "alcor", "type": "alcor-cni", "vpc": "web", "subnet": "web-a",
                "endpoints": cluster.endpoints, "hostId": "h1", "timeoutSeconds": 3,
                "tls": {"ca": str(ca[0]), "cert": str(client_cert), "key": str(client_key)},
            }  # fmt: skip
            yield cluster, client, conf
        finally:
            client.close()
            cluster.loop.call_soon_threadsafe(agent.stop)
            running.result(10)


def test_add_and_del_over_tls(secured: tuple[InProcessCluster, Client, dict[str, Any]]) -> None:
    _, client, conf = secured
    code, result = cni("ADD", conf, container="tls-1")
    assert code == 0, result
    [port] = client.list_ports(container_id="tls-1")
    assert result["interfaces"][0]["mac"] == port.mac_address
    assert cni("DEL", conf, container="tls-1") == (0, None)
    assert list(client.list_ports(container_id="tls-1")) == []


def test_without_the_right_tls_nothing_is_made(
    secured: tuple[InProcessCluster, Client, dict[str, Any]], tmp_path: Path
) -> None:
    _, client, conf = secured
    other = make_ca(tmp_path, "other")
    for tls, code in (
        (None, 11),  # plaintext to a TLS listener: no controller answers
        ({"ca": str(other[0])}, 11),  # the controller's certificate is not trusted
        ({"ca": str(tmp_path / "missing.pem")}, 5),
        ({"ca": conf["tls"]["ca"], "cert": conf["tls"]["cert"]}, 7),  # a certificate without its key
    ):
        rc, err = cni("ADD", {**conf, "tls": tls}, container="tls-2")
        assert (rc, err["code"]) == (1, code), (tls, err)
    assert list(client.list_ports(container_id="tls-2")) == []
