"""The network state machine (DESIGN.md section 3): a pure `apply` over the LMDB schema.

Modules:
- apply: the entry point `apply(schema, txn, command, index) -> Result` (envelope,
  idempotency, revision, applied index)
- vpc, subnet, port, security_group, node: the commands of each resource kind
- ipam, rangeset: IP / MAC / VNI allocation in O(log n)
- validate, errors: input checks and the typed errors they raise (with the gRPC mapping)
- changelog: change events since a revision, compaction
- records, context, journal: resource kinds and scoped loading, the per-command context, the
  undo journal that rolls back a refused command
- reads: get / list / pagination for API servicers
- store: `Store`, the LMDB environment with batch apply and content hashes
- check: a from-scratch consistency check of every index and allocator
- testing: a harness that builds envelopes and applies them (for tests built on this package)
"""

from alcor.controller.state.apply import apply, execute
from alcor.controller.state.changelog import events_since
from alcor.controller.state.errors import CommandError, grpc_code, to_status
from alcor.controller.state.store import Store, StoreClosed, StoreConfig

__all__ = [
    "CommandError",
    "Store",
    "StoreClosed",
    "StoreConfig",
    "apply",
    "events_since",
    "execute",
    "grpc_code",
    "to_status",
]
