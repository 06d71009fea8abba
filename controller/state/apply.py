"""The state machine entry point: `apply(schema, txn, command, index) -> Result`.

Owns the command envelope (version, caller, request id), dispatch to the resource modules,
idempotency, the revision bump and the applied index. `apply` is deterministic: it reads only
the transaction and the command (no clock, randomness or I/O), so the same log yields the same
database contents on every replica.

Per command:
1. The applied index is written in the caller's transaction whatever happens, so a Raft replay
   after a crash resumes exactly after the last applied entry.
2. Envelope checks: a version other than ENVELOPE_VERSION_1, a payload this code does not know,
   or a missing request_id on a client command yields an error that is not recorded.
3. Idempotency: with a request_id, the first Result is stored under (caller, request_id) with a
   digest of the payload; a replay with the same payload returns the stored Result and changes
   nothing else; a replay with another payload is refused (REQUEST_ID_REUSED). The three internal
   commands (port statuses, node registration, compaction) may omit request_id.
4. The handler writes through an undo journal (journal.py). A CommandError rolls it back, so a
   refused command leaves the state untouched; its Result is still recorded so that replays
   see the same error. (An LMDB nested transaction would give the same guarantee but costs
   about 8% of a port create: LMDB copies every page a child transaction touches.)
5. If the handler changed anything the global revision is bumped once (every change of the
   command carries that revision), otherwise it stays.

Any other exception is a bug: the command's writes are rolled back and the exception propagates,
so the caller (Store.apply_batch) aborts its whole transaction rather than commit a half apply.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any, TypeAlias

from alcor.controller.schema import META_APPLIED_INDEX, META_REVISION, Schema, u64
from alcor.controller.state import changelog, node, port, security_group, subnet, validate, vpc
from alcor.controller.state.context import Ctx
from alcor.controller.state.errors import CommandError, invalid, permission_denied
from alcor.controller.state.journal import Journal
from alcor.internal import command_pb2 as cmd
from alcor.v1 import resources_pb2 as res

Outcome: TypeAlias = res.Resource | list[res.Resource] | res.SecurityGroupRule | None
Handler: TypeAlias = Callable[[Ctx, Any], Outcome]

# oneof field -> (handler, internal); internal commands may omit request_id and need admin.
HANDLERS: dict[str, tuple[Handler, bool]] = {
    "create_vpc": (vpc.create, False),
    "update_vpc": (vpc.update, False),
    "delete_vpc": (vpc.delete, False),
    "create_subnet": (subnet.create, False),
    "update_subnet": (subnet.update, False),
    "delete_subnet": (subnet.delete, False),
    "create_port": (port.create, False),
    "create_ports": (port.create_many, False),
    "update_port": (port.update, False),
    "delete_port": (port.delete, False),
    "create_security_group": (security_group.create, False),
    "update_security_group": (security_group.update, False),
    "delete_security_group": (security_group.delete, False),
    "create_security_group_rule": (security_group.create_rule, False),
    "delete_security_group_rule": (security_group.delete_rule, False),
    "create_node": (node.create, False),
    "update_node": (node.update, False),
    "delete_node": (node.delete, False),
    "update_port_statuses": (port.update_statuses, True),
    "register_node": (node.register, True),
    "compact": (changelog.compact, True),
}


def apply(s: Schema, txn: Any, command: cmd.Command | bytes, index: int) -> cmd.Result:
    """Apply one committed log entry at Raft `index` inside the write transaction `txn`.

    `command` may be serialized (as stored in the Raft log); an entry that does not parse is
    refused with an error Result, not raised.
    """
    result = execute(s, txn, command)
    txn.put(META_APPLIED_INDEX, u64(index), db=s.meta)
    return result


def execute(s: Schema, txn: Any, command: cmd.Command | bytes) -> cmd.Result:
    """`apply` without writing the applied index, for a caller that writes it in the same
    transaction after a batch (Store.apply_batch)."""
    if isinstance(command, bytes):
        try:
            command = cmd.Command.FromString(command)
        except Exception:  # protobuf's DecodeError; anything unparseable is the same bad input
            return _failure(
                changelog.current_revision(s, txn), invalid("the command does not parse", "", "MALFORMED")
            )
    revision = changelog.current_revision(s, txn)
    if command.version != cmd.ENVELOPE_VERSION_1:
        return _failure(
            revision,
            invalid(f"unsupported envelope version {command.version}", "version", "UNSUPPORTED_VERSION"),
        )
    which = command.WhichOneof("command")
    if which is None:
        return _failure(
            revision, invalid("the command is empty or unknown to this version", "", "UNKNOWN_COMMAND")
        )
    handler, internal = HANDLERS[which]
    payload = getattr(command, which)
    key = digest = b""
    if command.request_id:
        try:
            validate.request_id(command.request_id)
        except CommandError as e:
            return _failure(revision, e)
        key = _request_key(command.caller, command.request_id)
        digest = hashlib.sha256(which.encode() + payload.SerializeToString(deterministic=True)).digest()
        stored = txn.get(key, db=s.requests)
        if stored is not None:
            if stored[8:40] != digest:
                return _failure(
                    revision,
                    invalid(
                        "request_id was already used for a different command",
                        "request_id",
                        "REQUEST_ID_REUSED",
                    ),
                )
            return cmd.Result.FromString(stored[40:])
    elif not internal:
        return _failure(revision, invalid("request_id is required", "request_id", "FIELD_REQUIRED"))
    result = _run(s, txn, command.caller, handler, payload, revision)
    if key:
        record_revision = u64(result.revision)
        txn.put(key, record_revision + digest + result.SerializeToString(deterministic=True), db=s.requests)
        txn.put(record_revision + key, b"", db=s.requests_by_revision)
    return result


def _run(
    s: Schema, txn: Any, caller: cmd.Caller, handler: Handler, payload: Any, revision: int
) -> cmd.Result:
    journal = Journal(txn)
    ctx = Ctx(s, journal, caller, revision + 1)
    try:
        if not caller.admin:
            _check_project_caller(caller)
        outcome = handler(ctx, payload)
        ctx.flush()
    except CommandError as e:
        journal.rollback()
        return _failure(revision, e)
    except BaseException:
        journal.rollback()
        raise
    if ctx.changed:
        revision += 1
        txn.put(META_REVISION, u64(revision), db=s.meta)
    result = cmd.Result(revision=revision)
    if outcome is None:
        result.done = True
    elif isinstance(outcome, res.Resource):
        result.resource.CopyFrom(outcome)
    elif isinstance(outcome, res.SecurityGroupRule):
        result.rule.CopyFrom(outcome)
    else:
        result.resources.items.extend(outcome)
    return result


def _check_project_caller(caller: cmd.Caller) -> None:
    try:
        validate.project_id(caller.project_id, "caller.project_id")
    except CommandError:
        raise permission_denied("a project caller needs a valid project id", "NO_PROJECT") from None


def _request_key(caller: cmd.Caller, request_id: str) -> bytes:
    # Scoped by caller so that one project can never read another's result by guessing ids.
    scope = b"a" if caller.admin else b"p"
    return scope + caller.project_id.encode()[: validate.MAX_ID_BYTES] + b"\x00" + request_id.encode()


def _failure(revision: int, error: CommandError) -> cmd.Result:
    return cmd.Result(revision=revision, error=error.error)
