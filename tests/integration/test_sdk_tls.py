"""The SDK and CLI over TLS to a controller with certificates: trusting its CA works (with or
without a client certificate); plaintext or an untrusted CA gets a clear UNAVAILABLE."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.certs import issue, make_ca
from support.controller import InProcessCluster

from alcor.cmd.main import cli
from alcor.sdk import Client, Unavailable, tls_credentials


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[InProcessCluster, Path, Path, Path]]:
    root = tmp_path_factory.mktemp("tls")
    ca = make_ca(root)
    cert, key = issue(root, ca, "c1")
    client_cert, client_key = issue(root, ca, "client")
    with InProcessCluster(root, size=1, tls_cert=str(cert), tls_key=str(key), tls_ca=str(ca[0])) as c:
        yield c, ca[0], client_cert, client_key


def test_sdk_trusts_the_ca_with_or_without_a_client_certificate(
    secured: tuple[InProcessCluster, Path, Path, Path],
) -> None:
    c, ca, cert, key = secured
    with Client(c.endpoints, tls=tls_credentials(str(ca))) as client:
        vpc = client.create_vpc(name="tls", cidr="10.0.0.0/16")
    with Client(c.endpoints, tls=tls_credentials(str(ca), str(cert), str(key))) as client:
        assert client.get_vpc(vpc.id) == vpc


def test_plaintext_or_an_untrusted_ca_is_refused(
    secured: tuple[InProcessCluster, Path, Path, Path], tmp_path: Path
) -> None:
    c, *_ = secured
    other = make_ca(tmp_path, "other")
    for tls in (None, tls_credentials(str(other[0]))):
        with Client(c.endpoints, tls=tls, timeout=1.0) as client, pytest.raises(Unavailable):
            client.list_vpcs_page()


def test_cli_connects_with_ca_cert_and_key(secured: tuple[InProcessCluster, Path, Path, Path]) -> None:
    c, ca, cert, key = secured
    env = {"ALCOR_ENDPOINTS": c.endpoints[0], "ALCOR_CA": str(ca)}
    out = CliRunner().invoke(cli, ["vpc", "create", "--cidr", "10.1.0.0/16", "-o", "json"], env=env)
    assert out.exit_code == 0, out.output
    out = CliRunner().invoke(cli, ["vpc", "list", "--cert", str(cert), "--key", str(key)], env=env)
    assert out.exit_code == 0 and "10.1.0.0/16" in out.stdout
    half = CliRunner().invoke(cli, ["vpc", "list", "--cert", str(cert)], env=env)
    assert half.exit_code == 1
    assert half.stderr == "Error: a client certificate needs its key (and a key its certificate)\n"
