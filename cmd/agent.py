"""`alcor agent run`: the host agent process (goal-state stream, reconciler, data-plane driver)."""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
from pathlib import Path

import click

from alcor.agent.channel import TlsFiles, parse_endpoints
from alcor.agent.dataplane.driver import Driver
from alcor.agent.metrics import serve_metrics
from alcor.agent.runner import Agent, AgentConfig

from .output import friendly_errors

log = logging.getLogger("alcor.agent")


@click.group()
def agent() -> None:
    """The host agent."""


def _detect_underlay_ip(endpoint: str) -> str:
    """The local address the kernel would use to reach the first controller."""
    host, _, port = endpoint.rpartition(":")
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect((host.strip("[]"), int(port)))  # UDP: no packet is sent
            return str(s.getsockname()[0])
    except OSError as e:
        raise ValueError(
            f"cannot find the underlay ip towards {endpoint} ({e.strerror}): pass --underlay-ip"
        ) from None


def _parse_listen(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f"bad --metrics-listen {text!r}: expected HOST:PORT")
    return host or "0.0.0.0", int(port)


def _driver(kind: str, underlay_ip: str, pin_dir: str) -> Driver:
    if kind == "memory":
        from alcor.agent.dataplane.memory import MemoryDriver

        return MemoryDriver(underlay_ip)
    from alcor.agent.dataplane.ebpf.driver import EbpfConfig, EbpfDriver

    try:
        return EbpfDriver(EbpfConfig(pin_dir=pin_dir, underlay_ip=underlay_ip))
    except (OSError, RuntimeError) as e:  # BpfError is a RuntimeError/OSError of libbpf
        raise click.ClickException(f"cannot start the ebpf data plane: {e}") from None


@agent.command()
@click.option("--host-id", required=True, help="This host's id (ports bound to it come here).")
@click.option(
    "--controllers",
    required=True,
    envvar="ALCOR_CONTROLLERS",
    help="Controller endpoints host:port[,host:port...] (env ALCOR_CONTROLLERS).",
)
@click.option(
    "--dataplane",
    type=click.Choice(["memory", "ebpf"]),
    default="ebpf",
    show_default=True,
    help="The data-plane driver: the in-memory model or the kernel's eBPF data plane.",
)
@click.option(
    "--underlay-ip",
    default="",
    help="This host's VXLAN address [default: the source address towards the first controller].",
)
@click.option(
    "--token", envvar="ALCOR_AGENT_TOKEN", default=None, help="Agent token (env ALCOR_AGENT_TOKEN)."
)
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Where the goal state is kept so a restart resumes from it (none: a restart "
    "fetches a full snapshot).",
)
@click.option(
    "--tls-ca",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="CA certificate (PEM) of the controllers: enables TLS.",
)
@click.option(
    "--tls-cert",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Client certificate (PEM) naming this host.",
)
@click.option(
    "--tls-key", type=click.Path(exists=True, dir_okay=False), default=None, help="Key (PEM) of --tls-cert."
)
@click.option(
    "--resync-interval",
    type=float,
    default=30.0,
    show_default=True,
    help="Seconds between full reconciles against the installed data plane.",
)
@click.option(
    "--resync-budget",
    type=click.FloatRange(0, 1, min_open=True),
    default=0.02,
    show_default=True,
    help="Share of time full reconciles may take: a slower pass stretches the interval.",
)
@click.option(
    "--bpf-pin-dir",
    default="/sys/fs/bpf/alcor",
    show_default=True,
    help="Where the eBPF maps are pinned (--dataplane ebpf).",
)
@click.option("--metrics-listen", default=None, help="Serve Prometheus metrics on HOST:PORT at /metrics.")
@click.option(
    "--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default="info", show_default=True
)
@friendly_errors
def run(
    host_id: str,
    controllers: str,
    dataplane: str,
    underlay_ip: str,
    token: str | None,
    state_dir: str | None,
    tls_ca: str | None,
    tls_cert: str | None,
    tls_key: str | None,
    resync_interval: float,
    resync_budget: float,
    bpf_pin_dir: str,
    metrics_listen: str | None,
    log_level: str,
) -> None:
    """Run the agent of one host until SIGTERM or SIGINT.

    It streams this host's goal state from the controllers (moving to the next one when a stream
    fails, resuming from the last applied revision), programs the data plane and acks every
    update with what failed.
    """
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    endpoints = parse_endpoints(controllers)
    if (tls_cert or tls_key) and not tls_ca:
        raise ValueError("--tls-cert and --tls-key need --tls-ca")
    tls = (
        TlsFiles(Path(tls_ca), Path(tls_cert) if tls_cert else None, Path(tls_key) if tls_key else None)
        if tls_ca
        else None
    )
    listen = _parse_listen(metrics_listen) if metrics_listen else None
    config = AgentConfig(
        host_id=host_id,
        controllers=endpoints,
        underlay_ip=underlay_ip or _detect_underlay_ip(endpoints[0]),
        token=token,
        tls=tls,
        state_dir=Path(state_dir) if state_dir else None,
        resync_interval=resync_interval,
        resync_budget=resync_budget,
    )
    if state_dir is None:
        log.info("no --state-dir: a restart of this agent asks for a full snapshot")
    driver = _driver(dataplane, config.underlay_ip, bpf_pin_dir)
    try:
        import uvloop

        uvloop.run(_serve(Agent(config, driver), listen))
    finally:
        driver.close()


async def _serve(agent: Agent, listen: tuple[str, int] | None) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, agent.stop)
    server = None
    if listen is not None:
        try:
            server = await serve_metrics(agent.metrics, *listen, refresh=agent.refresh_counters)
        except OSError as e:
            raise click.ClickException(
                f"cannot listen for metrics on {listen[0]}:{listen[1]}: {e.strerror}"
            ) from None
        log.info("metrics on http://%s:%d/metrics", *listen)
    log.info(
        "agent %s (%s) starting: controllers %s",
        agent.config.host_id,
        agent.config.underlay_ip,
        ",".join(agent.config.controllers),
    )
    try:
        await agent.run()
    finally:
        if server is not None:
            server.close()
            await server.wait_closed()
    log.info("agent %s stopped at revision %d", agent.config.host_id, agent.revision)
