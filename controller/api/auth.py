"""Who is calling: bearer tokens from a token file, each scoped to a project, to admin, or to
one agent's host (DESIGN.md section 8).

Token file: one token per line, `TOKEN SCOPE` where SCOPE is `admin`, `project:ID` or
`host:HOST_ID` (an agent token); blank lines and `#` comments are ignored. Without a token file
the server runs open: every caller is admin, in project `default` unless a request names
another (the server says so at start). With TLS client
certificates, an agent may instead authenticate by a client certificate (signed by the
configured CA) whose common name is its host id (`HOST_ID` or `host:HOST_ID`).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from pathlib import Path

import grpc

from alcor.internal import command_pb2 as cmd


@dataclass(frozen=True, slots=True)
class Identity:
    admin: bool = False
    project_id: str = ""
    host_id: str = ""  # set for agent identities

    @property
    def caller(self) -> cmd.Caller:
        return cmd.Caller(admin=self.admin, project_id=self.project_id)

    def describe(self) -> str:
        if self.admin:
            return "admin"
        return f"host {self.host_id}" if self.host_id else f"project {self.project_id}"


# Without a token file every caller is admin, and acts in project "default" unless it names one.
OPEN = Identity(admin=True, project_id="default")


class Unauthenticated(Exception):
    """No valid credential; the message says what is wrong (never echoes the token)."""


def parse_scope(scope: str) -> Identity:
    if scope == "admin":
        return Identity(admin=True)
    kind, _, value = scope.partition(":")
    if kind == "project" and value:
        return Identity(project_id=value)
    if kind == "host" and value:
        return Identity(host_id=value)
    raise ValueError(f"unknown token scope {scope!r} (admin, project:ID or host:HOST_ID)")


def load_tokens(path: str | Path) -> dict[str, Identity]:
    tokens: dict[str, Identity] = {}
    for number, line in enumerate(Path(path).read_text().splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) != 2:
            raise ValueError(f"{path}:{number}: expected 'TOKEN SCOPE'")
        try:
            tokens[parts[0]] = parse_scope(parts[1])
        except ValueError as e:
            raise ValueError(f"{path}:{number}: {e}") from None
    return tokens


class Authenticator:
    """Maps a call's credentials to an Identity; `open` when no tokens are configured."""

    def __init__(self, tokens: dict[str, Identity] | None = None) -> None:
        self.tokens = tokens
        self.open = tokens is None

    @classmethod
    def from_file(cls, path: str | Path | None) -> Authenticator:
        return cls(load_tokens(path) if path else None)

    def identify(self, context: grpc.aio.ServicerContext) -> Identity:
        cert_host = _certificate_host(context)
        token = ""
        for key, value in context.invocation_metadata() or ():
            if key == "authorization":
                scheme, _, token = str(value).partition(" ")
                if scheme.lower() != "bearer" or not token:
                    raise Unauthenticated("the authorization header must be 'Bearer <token>'")
                break
        if token:
            if self.tokens is None:
                return OPEN
            for known, identity in self.tokens.items():
                if hmac.compare_digest(known.encode(), token.encode()):
                    return identity
            raise Unauthenticated("unknown token")
        if cert_host:
            return Identity(host_id=cert_host)
        if self.open:
            return OPEN
        raise Unauthenticated("a bearer token is required (authorization: Bearer <token>)")


def _certificate_host(context: grpc.aio.ServicerContext) -> str:
    auth = context.auth_context() or {}
    for name in auth.get("x509_common_name", ()):
        text = name.decode() if isinstance(name, bytes) else str(name)
        return text.removeprefix("host:")
    return ""
