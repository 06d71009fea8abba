"""Typed command errors: what a refused command says, and how that maps onto gRPC.

The state machine raises `CommandError` (carrying an `alcor.internal.Error`) anywhere it refuses
input; `apply` turns it into the command's Result. API servicers turn a Result's Error into a
gRPC status with `grpc_code` / `to_status` (DESIGN.md section 5: INVALID_ARGUMENT with
google.rpc.BadRequest field violations, google.rpc.ErrorInfo with the reason and metadata).
"""

from __future__ import annotations

from collections.abc import Mapping

import grpc
from google.rpc import error_details_pb2, status_pb2

from alcor.internal import command_pb2 as cmd

ERROR_DOMAIN = "alcor.dev"

Code = cmd.ErrorCode
INVALID_ARGUMENT = cmd.ERROR_CODE_INVALID_ARGUMENT
NOT_FOUND = cmd.ERROR_CODE_NOT_FOUND
ALREADY_EXISTS = cmd.ERROR_CODE_ALREADY_EXISTS
PERMISSION_DENIED = cmd.ERROR_CODE_PERMISSION_DENIED
RESOURCE_EXHAUSTED = cmd.ERROR_CODE_RESOURCE_EXHAUSTED
FAILED_PRECONDITION = cmd.ERROR_CODE_FAILED_PRECONDITION
OUT_OF_RANGE = cmd.ERROR_CODE_OUT_OF_RANGE

_GRPC_CODES: dict[int, grpc.StatusCode] = {
    cmd.ERROR_CODE_OK: grpc.StatusCode.OK,
    INVALID_ARGUMENT: grpc.StatusCode.INVALID_ARGUMENT,
    NOT_FOUND: grpc.StatusCode.NOT_FOUND,
    ALREADY_EXISTS: grpc.StatusCode.ALREADY_EXISTS,
    PERMISSION_DENIED: grpc.StatusCode.PERMISSION_DENIED,
    RESOURCE_EXHAUSTED: grpc.StatusCode.RESOURCE_EXHAUSTED,
    FAILED_PRECONDITION: grpc.StatusCode.FAILED_PRECONDITION,
    OUT_OF_RANGE: grpc.StatusCode.OUT_OF_RANGE,
}


class CommandError(Exception):
    """A command refused with a typed error; `error` is the wire form."""

    def __init__(
        self,
        code: int,
        message: str,
        *,
        reason: str,
        field: str = "",
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.error = cmd.Error(code=code, message=message, reason=reason)  # type: ignore[arg-type]
        if field:
            self.error.field_violations.add(field=field, description=message)
        if metadata:
            self.error.metadata.update(metadata)

    @property
    def code(self) -> int:
        return self.error.code

    @property
    def reason(self) -> str:
        return self.error.reason

    def __repr__(self) -> str:
        return f"CommandError({Code.Name(self.error.code)}, {self.error.reason}, {self.error.message!r})"


def invalid(message: str, field: str = "", reason: str = "INVALID_ARGUMENT") -> CommandError:
    return CommandError(INVALID_ARGUMENT, message, reason=reason, field=field)


def not_found(kind: str, id_: str, field: str = "") -> CommandError:
    # The same answer whether the id does not exist or belongs to another project: a project
    # caller must not learn that another project's resource exists.
    return CommandError(
        NOT_FOUND,
        f"{kind} {id_!r} not found",
        reason=f"{kind.upper().replace(' ', '_')}_NOT_FOUND",
        field=field,
        metadata={"kind": kind, "id": id_},
    )


def already_exists(message: str, reason: str, field: str = "") -> CommandError:
    return CommandError(ALREADY_EXISTS, message, reason=reason, field=field)


def failed_precondition(message: str, reason: str, field: str = "") -> CommandError:
    return CommandError(FAILED_PRECONDITION, message, reason=reason, field=field)


def exhausted(message: str, reason: str, field: str = "") -> CommandError:
    return CommandError(RESOURCE_EXHAUSTED, message, reason=reason, field=field)


def permission_denied(message: str, reason: str = "PERMISSION_DENIED", field: str = "") -> CommandError:
    return CommandError(PERMISSION_DENIED, message, reason=reason, field=field)


def compacted(requested: int, oldest: int) -> CommandError:
    """A change-log read that starts before the oldest retained revision (watch.proto)."""
    return CommandError(
        OUT_OF_RANGE,
        f"revision {requested} has been compacted; the oldest available revision is {oldest}",
        reason="REVISION_COMPACTED",
        metadata={"oldest_revision": str(oldest), "requested_revision": str(requested)},
    )


def grpc_code(error: cmd.Error) -> grpc.StatusCode:
    """The gRPC status code of an Error (its code values are grpc.StatusCode numbers)."""
    return _GRPC_CODES.get(error.code, grpc.StatusCode.UNKNOWN)


def to_status(error: cmd.Error) -> status_pb2.Status:
    """The google.rpc.Status of an Error: ErrorInfo always, BadRequest when fields are named.

    A servicer aborts with it through `grpc_status.rpc_status.to_status(...)`.
    """
    info = error_details_pb2.ErrorInfo(reason=error.reason, domain=ERROR_DOMAIN)
    info.metadata.update(error.metadata)
    details = [info]
    if error.field_violations:
        details.append(
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
                    for v in error.field_violations
                ]
            )
        )
    status = status_pb2.Status(code=int(error.code), message=error.message)
    for d in details:
        status.details.add().Pack(d)
    return status
