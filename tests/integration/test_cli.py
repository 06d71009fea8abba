"""Every resource command of the `alcor` CLI against a real 3-node controller cluster
(in-process nodes; click's CliRunner), plus the installed console script for the error path."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner, Result
from support.controller import InProcessCluster, write_tokens

from alcor.cmd.main import cli


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessCluster]:
    root = tmp_path_factory.mktemp("cli")
    tokens = write_tokens(root / "tokens", {"adm": "admin", "t1": "project:p1"})
    with InProcessCluster(root, size=3, token_file=str(tokens)) as c:
        yield c


class Alcor:
    def __init__(self, cluster: InProcessCluster, token: str) -> None:
        self.env = {"ALCOR_ENDPOINTS": ",".join(cluster.endpoints), "ALCOR_TOKEN": token}

    def __call__(self, *args: str) -> Result:
        return CliRunner().invoke(cli, list(args), env=self.env)

    def json(self, *args: str) -> Any:
        out = self(*args, "-o", "json")
        assert out.exit_code == 0, out.output
        return json.loads(out.stdout)

    def table(self, *args: str) -> list[list[str]]:
        out = self(*args)
        assert out.exit_code == 0, out.output
        return [line.split() for line in out.stdout.splitlines()]


@pytest.fixture
def p1(cluster: InProcessCluster) -> Alcor:
    return Alcor(cluster, "t1")


@pytest.fixture
def admin(cluster: InProcessCluster) -> Alcor:
    return Alcor(cluster, "adm")


def test_vpc_and_subnet_commands(p1: Alcor) -> None:
    vpc = p1.json("vpc", "create", "--name", "web", "--cidr", "10.1.0.0/16", "--description", "d")
    assert (vpc["project_id"], vpc["status"]) == ("p1", "VPC_STATUS_ACTIVE")
    rows = p1.table("vpc", "get", vpc["id"])
    assert rows[0] == ["ID", "NAME", "PROJECT_ID", "CIDR", "VNI", "STATUS", "REVISION"]
    assert rows[1] == [vpc["id"], "web", "p1", "10.1.0.0/16", str(vpc["vni"]), "active", str(vpc["revision"])]
    assert [v["id"] for v in p1.json("vpc", "list", "--name", "web")] == [vpc["id"]]
    assert p1.json("vpc", "update", vpc["id"], "--name", "web2")["name"] == "web2"

    sn = p1.json(
        "subnet",
        "create",
        "--vpc",
        vpc["id"],
        "--cidr",
        "10.1.1.0/24",
        "--name",
        "a",
        "--pool",
        "10.1.1.10-10.1.1.99",
        "--dns",
        "1.1.1.1,8.8.8.8",
        "--route",
        "10.9.0.0/16,10.1.1.1",
    )
    assert sn["dns_nameservers"] == ["1.1.1.1", "8.8.8.8"]
    assert sn["host_routes"] == [{"destination": "10.9.0.0/16", "nexthop": "10.1.1.1"}]
    assert p1.table("subnet", "list", "--vpc", vpc["id"])[1][:6] == [
        sn["id"],
        "a",
        vpc["id"],
        "10.1.1.0/24",
        "10.1.1.1",
        "10.1.1.10-10.1.1.99",
    ]
    cleared = p1.json("subnet", "update", sn["id"], "--clear-dns", "--name", "b")
    assert (cleared["dns_nameservers"], cleared["name"]) == ([], "b")
    assert p1.json("subnet", "get", sn["id"])["name"] == "b"
    # a stale read is served by whichever member answers, which may not have applied it yet
    deadline = time.monotonic() + 5
    while p1.json("subnet", "get", sn["id"], "--stale")["name"] != "b":
        assert time.monotonic() < deadline, "a stale read never caught up"
        time.sleep(0.02)

    busy = p1("vpc", "delete", vpc["id"])
    assert busy.exit_code == 1 and busy.stderr.startswith("Error: failed_precondition: ")
    assert p1("subnet", "delete", sn["id"]).stdout.startswith(f"deleted subnet {sn['id']} at revision ")
    assert p1.json("vpc", "delete", vpc["id"])["id"] == vpc["id"]
    gone = p1("vpc", "get", vpc["id"])
    assert (gone.exit_code, gone.stderr.count("\n")) == (1, 1) and gone.stderr.startswith(
        "Error: not_found: "
    )


def test_port_node_and_wait_commands(p1: Alcor, admin: Alcor) -> None:
    node = admin.json("node", "create", "--host-id", "cli-h1", "--underlay-ip", "192.168.7.1", "--name", "r1")
    assert node["host_id"] == "cli-h1"
    assert admin.table("node", "get", "cli-h1")[1][:3] == ["cli-h1", "r1", "192.168.7.1"]
    assert "cli-h1" in [n["host_id"] for n in admin.json("node", "list")]
    assert (
        admin.json("node", "update", "cli-h1", "--underlay-ip", "192.168.7.2")["underlay_ip"] == "192.168.7.2"
    )
    denied = p1("node", "create", "--host-id", "x", "--underlay-ip", "192.168.7.3")
    assert denied.exit_code == 1 and denied.stderr.startswith("Error: permission_denied: ")

    vpc = p1.json("vpc", "create", "--cidr", "10.2.0.0/16")
    sn = p1.json("subnet", "create", "--vpc", vpc["id"], "--cidr", "10.2.1.0/24")
    # an unbound port changes no host's goal state: --wait returns at once
    free = p1("port", "create", "--subnet", sn["id"], "--name", "free", "--ip", "10.2.1.50", "--wait")
    assert free.exit_code == 0, free.output
    assert free.stdout.splitlines()[1].split()[3] == "10.2.1.50"
    assert free.stdout.splitlines()[-1].startswith("revision ")
    # a port bound to a host with no agent connected: --wait reports it and fails
    bound = p1(
        "port",
        "create",
        "--subnet",
        sn["id"],
        "--host",
        "cli-h1",
        "--device",
        "vm-1",
        "--wait",
        "--wait-timeout",
        "0.5",
        "-o",
        "json",
    )
    assert bound.exit_code == 1
    assert bound.stderr.startswith("Error: not every host applied revision ")
    data = json.loads(bound.stdout)
    assert data["complete"] is False and [h["host_id"] for h in data["hosts"]] == ["cli-h1"]
    port = data["port"]
    assert [p["id"] for p in p1.json("port", "list", "--host", "cli-h1")] == [port["id"]]
    assert [p["id"] for p in p1.json("port", "list", "--device", "vm-1")] == [port["id"]]
    assert p1.json("port", "get", port["id"])["host_id"] == "cli-h1"
    assert p1.json("port", "update", port["id"], "--unbind", "--name", "n")["host_id"] == ""
    for p in p1.json("port", "list", "--subnet", sn["id"]):
        assert p1("port", "delete", p["id"]).exit_code == 0
    assert p1.json("port", "list", "--subnet", sn["id"]) == []
    p1("subnet", "delete", sn["id"])
    p1("vpc", "delete", vpc["id"])
    assert admin.json("node", "delete", "cli-h1")["id"] == "cli-h1"


def test_security_group_and_rule_commands(p1: Alcor) -> None:
    sg = p1.json("sg", "create", "--name", "web", "--rule", "direction=ingress,protocol=tcp,port=443")
    assert [(r["protocol"], r["port_range_min"]) for r in sg["rules"]] == [("PROTOCOL_TCP", 443)]
    rule = p1.json(
        "sg",
        "rule",
        "add",
        sg["id"],
        "--direction",
        "egress",
        "--protocol",
        "udp",
        "--port",
        "53",
        "--remote-ip",
        "10.0.0.0/8",
    )
    rows = p1.table("sg", "get", sg["id"])
    assert rows[1][:3] == [sg["id"], "web", "p1"]
    assert [r[:5] for r in rows[4:]] == [
        [sg["rules"][0]["id"], "ingress", "ipv4", "tcp", "443"],
        [rule["id"], "egress", "ipv4", "udp", "53"],
    ]
    assert sg["id"] in [g["id"] for g in p1.json("sg", "list")]
    assert p1.json("sg", "update", sg["id"], "--description", "x")["description"] == "x"
    assert p1("sg", "rule", "delete", sg["id"], rule["id"]).stdout.startswith(f"deleted rule {rule['id']}")
    bad = p1("sg", "rule", "add", sg["id"], "--protocol", "tcp", "--port", "90-80")
    assert bad.exit_code == 1 and bad.stderr.startswith("Error: invalid_argument: ")
    assert p1("sg", "delete", sg["id"]).exit_code == 0


def test_watch_command_prints_changes_in_order(p1: Alcor) -> None:
    vpc = p1.json("vpc", "create", "--name", "watched", "--cidr", "10.3.0.0/16")
    updated = p1.json("vpc", "update", vpc["id"], "--name", "watched2")
    deleted = p1.json("vpc", "delete", vpc["id"])
    rows = p1.table("watch", "--kind", "vpc", "--from-revision", str(vpc["revision"]), "--limit", "3")
    assert [r[:4] for r in rows[1:]] == [
        [str(vpc["revision"]), "created", "vpc", vpc["id"]],
        [str(updated["revision"]), "updated", "vpc", vpc["id"]],
        [str(deleted["revision"]), "deleted", "vpc", vpc["id"]],
    ]
    lines = p1(
        "watch", "--from-revision", str(vpc["revision"]), "--limit", "1", "-o", "json"
    ).stdout.splitlines()
    assert json.loads(lines[0])["resource"]["vpc"]["name"] == "watched"
    gone = p1("watch", "--project", "p2", "--limit", "1")
    assert gone.exit_code == 1 and gone.stderr.startswith("Error: permission_denied: ")


def test_installed_script_reports_bad_input_in_one_line(cluster: InProcessCluster) -> None:
    exe = shutil.which("alcor")
    assert exe
    out = subprocess.run(
        [exe, "vpc", "create", "--cidr", "10.0.0.0/33"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"ALCOR_ENDPOINTS": ",".join(cluster.endpoints), "ALCOR_TOKEN": "t1", "PATH": "/usr/bin:/bin"},
    )
    assert out.returncode == 1
    assert out.stderr == "Error: invalid_argument: cidr '10.0.0.0/33' is not a valid CIDR\n"
