"""The typed exceptions the SDK raises: one class per gRPC status the contract uses.

Each carries the status code, the server's message, the google.rpc.ErrorInfo reason and
metadata, and any BadRequest field violations, so callers branch on types, not strings.
"""

from __future__ import annotations

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status


class AlcorError(Exception):
    code = grpc.StatusCode.UNKNOWN

    def __init__(
        self,
        message: str,
        reason: str = "",
        metadata: dict[str, str] | None = None,
        field_violations: list[tuple[str, str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason
        self.metadata = metadata or {}
        self.field_violations = field_violations or []

    def __str__(self) -> str:
        # servers often repeat a violation in the message: say each thing once
        fields = "; ".join(f"{f}: {d}" for f, d in self.field_violations if d not in self.message)
        return f"{self.message} ({fields})" if fields else self.message


class InvalidArgument(AlcorError):
    code = grpc.StatusCode.INVALID_ARGUMENT


class NotFound(AlcorError):
    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(AlcorError):
    code = grpc.StatusCode.ALREADY_EXISTS


class PermissionDenied(AlcorError):
    code = grpc.StatusCode.PERMISSION_DENIED


class Unauthenticated(AlcorError):
    code = grpc.StatusCode.UNAUTHENTICATED


class ResourceExhausted(AlcorError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class FailedPrecondition(AlcorError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class OutOfRange(AlcorError):
    """A watch asked for history that is gone (reason REVISION_COMPACTED): start again from
    `oldest_revision` or later (after re-reading the state)."""

    code = grpc.StatusCode.OUT_OF_RANGE

    @property
    def oldest_revision(self) -> int | None:
        value = self.metadata.get("oldest_revision", "")
        return int(value) if value.isdigit() else None


class Unavailable(AlcorError):
    """No member could serve the request (no leader, or none reachable) within the deadline."""

    code = grpc.StatusCode.UNAVAILABLE


class DeadlineExceeded(AlcorError):
    """The deadline passed; for a write, its outcome is unknown (retry with the same request id)."""

    code = grpc.StatusCode.DEADLINE_EXCEEDED


_BY_CODE = {cls.code: cls for cls in AlcorError.__subclasses__()}


def from_rpc_error(e: grpc.RpcError) -> AlcorError:
    code = e.code() if hasattr(e, "code") else grpc.StatusCode.UNKNOWN
    message = (e.details() if hasattr(e, "details") else "") or code.name
    reason, metadata, violations = "", {}, []
    status = rpc_status.from_call(e) if hasattr(e, "trailing_metadata") else None  # type: ignore[arg-type]
    if status is not None:
        for detail in status.details:
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                reason, metadata = info.reason, dict(info.metadata)
            elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad = error_details_pb2.BadRequest()
                detail.Unpack(bad)
                violations = [(v.field, v.description) for v in bad.field_violations]
    cls = _BY_CODE.get(code, AlcorError)
    err = cls(message, reason, metadata, violations)
    if cls is AlcorError:
        err.code = code  # type: ignore[misc]
    return err
