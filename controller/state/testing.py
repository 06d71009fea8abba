"""A test harness for the state machine: build envelopes, apply them in log order, assert.

For tests of this package and of everything built on it (servicers, watch, goal state): a
`Harness` wraps a `Store`, numbers log entries and request ids itself, and has one-line
creators for each resource that fail loudly when the command is refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from alcor.controller.state.store import Store
from alcor.internal import command_pb2 as cmd
from alcor.v1 import network_pb2 as net
from alcor.v1 import resources_pb2 as res

ADMIN = cmd.Caller(admin=True)


def project(project_id: str) -> cmd.Caller:
    return cmd.Caller(project_id=project_id)


class CommandFailed(AssertionError):
    def __init__(self, error: cmd.Error) -> None:
        super().__init__(f"{cmd.ErrorCode.Name(error.code)} {error.reason}: {error.message}")
        self.error = error


class Harness:
    def __init__(self, store: Store, caller: cmd.Caller | None = None) -> None:
        self.store = store
        self.caller = caller or project("p1")
        self.index = store.applied_index
        self._request = 0

    def command(
        self, *, caller: cmd.Caller | None = None, request_id: str | None = None, **payload: Any
    ) -> cmd.Command:
        """An envelope (version 1) around one payload given as `oneof_field=message`."""
        if request_id is None:
            self._request += 1
            request_id = f"req-{self._request}"
        return cmd.Command(
            version=cmd.ENVELOPE_VERSION_1, request_id=request_id, caller=caller or self.caller, **payload
        )

    def apply(self, command: cmd.Command) -> cmd.Result:
        self.index += 1
        return self.store.apply(self.index, command)

    def run(
        self, *, caller: cmd.Caller | None = None, request_id: str | None = None, **payload: Any
    ) -> cmd.Result:
        return self.apply(self.command(caller=caller, request_id=request_id, **payload))

    def ok(self, **kw: Any) -> cmd.Result:
        result = self.run(**kw)
        if result.HasField("error"):
            raise CommandFailed(result.error)
        return result

    def batch(self, commands: Iterable[cmd.Command]) -> list[cmd.Result]:
        entries = []
        for c in commands:
            self.index += 1
            entries.append((self.index, c))
        return [r for _, r in self.store.apply_batch(entries)]

    # ---- one-line creators (raise CommandFailed when refused) ----

    def vpc(self, cidr: str = "10.0.0.0/16", caller: cmd.Caller | None = None, **kw: Any) -> res.Vpc:
        return self.ok(caller=caller, create_vpc=net.CreateVpcRequest(cidr=cidr, **kw)).resource.vpc

    def subnet(
        self, vpc_id: str, cidr: str = "10.0.1.0/24", caller: cmd.Caller | None = None, **kw: Any
    ) -> res.Subnet:
        return self.ok(
            caller=caller, create_subnet=net.CreateSubnetRequest(vpc_id=vpc_id, cidr=cidr, **kw)
        ).resource.subnet

    def port(self, subnet_id: str, caller: cmd.Caller | None = None, **kw: Any) -> res.Port:
        return self.ok(
            caller=caller, create_port=net.CreatePortRequest(subnet_id=subnet_id, **kw)
        ).resource.port

    def security_group(
        self,
        name: str = "web",
        rules: Iterable[res.SecurityGroupRule] = (),
        caller: cmd.Caller | None = None,
        **kw: Any,
    ) -> res.SecurityGroup:
        request = net.CreateSecurityGroupRequest(name=name, rules=list(rules), **kw)
        return self.ok(caller=caller, create_security_group=request).resource.security_group

    def network(
        self, cidr: str = "10.0.0.0/16", subnet_cidr: str = "10.0.1.0/24"
    ) -> tuple[res.Vpc, res.Subnet]:
        vpc = self.vpc(cidr)
        return vpc, self.subnet(vpc.id, subnet_cidr)
