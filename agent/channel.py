"""How an agent reaches a controller: gRPC channel options, TLS files and the bearer token.

Shared by the agent's stream client and the load generator (perf/loadgen), so both present
themselves to a controller the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc

# a 100,000-port VPC's snapshot is tens of MB: the default 4 MB receive limit would refuse it
MAX_MESSAGE_BYTES = 256 << 20
# Keepalive notices a controller that vanished without closing TCP (a partition, a dead host);
# the controller must accept pings this often (grpc.http2.min_recv_ping_interval_without_data_ms
# <= keepalive_time_ms, or grpc.http2.max_ping_strikes = 0), or it disconnects agents.
KEEPALIVE_MS = 20_000
KEEPALIVE_TIMEOUT_MS = 10_000


def channel_options(
    keepalive_ms: int = KEEPALIVE_MS, *, own_connection: bool = False
) -> list[tuple[str, int]]:
    """Options for an agent channel; `own_connection` keeps gRPC from sharing one TCP connection
    between channels to the same address (the load generator wants several)."""
    options = [
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ("grpc.keepalive_time_ms", keepalive_ms),
        ("grpc.keepalive_timeout_ms", min(KEEPALIVE_TIMEOUT_MS, keepalive_ms)),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.max_pings_without_data", 0),
        # the agent runs its own jittered backoff; gRPC's (up to 2 minutes) must not add to it
        ("grpc.initial_reconnect_backoff_ms", 100),
        ("grpc.max_reconnect_backoff_ms", 1_000),
    ]
    if own_connection:
        options.append(("grpc.use_local_subchannel_pool", 1))
    return options


@dataclass(frozen=True)
class TlsFiles:
    """PEM files: the CA that signs the controllers' certificates, and optionally this agent's
    client certificate and key (a controller may accept a certificate naming the host instead of
    a token)."""

    ca: Path
    cert: Path | None = None
    key: Path | None = None

    def __post_init__(self) -> None:
        if (self.cert is None) != (self.key is None):
            raise ValueError("a TLS client certificate needs its key, and a key its certificate")
        for what, path in (("CA", self.ca), ("certificate", self.cert), ("key", self.key)):
            if path is not None and not Path(path).is_file():
                raise ValueError(f"TLS {what} file {path} does not exist")

    def credentials(self) -> grpc.ChannelCredentials:
        key = Path(self.key).read_bytes() if self.key else None
        cert = Path(self.cert).read_bytes() if self.cert else None
        return grpc.ssl_channel_credentials(Path(self.ca).read_bytes(), key, cert)


def open_channel(
    endpoint: str, tls: TlsFiles | None, options: list[tuple[str, int]] | None = None
) -> grpc.aio.Channel:
    options = channel_options() if options is None else options
    if tls is not None:
        return grpc.aio.secure_channel(endpoint, tls.credentials(), options=options)
    return grpc.aio.insecure_channel(endpoint, options=options)


def auth_metadata(token: str | None) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),) if token else ()


def parse_endpoints(text: str | Sequence[str]) -> list[str]:
    """`host:port[,host:port...]` (or a list) as a list; a clear error for anything else."""
    items = text.split(",") if isinstance(text, str) else list(text)
    endpoints = [e.strip() for e in items if e.strip()]
    if not endpoints:
        raise ValueError("no controller endpoints given (host:port[,host:port...])")
    for e in endpoints:
        host, sep, port = e.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"bad controller endpoint {e!r}: expected host:port")
    return endpoints
