"""Goal state (DESIGN.md section 6): what each host needs, computed incrementally on every
controller member and streamed to the host's agent.

Modules:
- items: item keys and builders (what a port, neighbor, group-members item holds)
- index: the host relevance index over in-memory copies of the records
- engine: change events -> per-host deltas; full snapshots; per-host history for resume/wait
- loader: reading the store for the engine (start, new events)
- recompute: a host's goal state from scratch from the store (the reference for tests)
- session: a host's bounded, coalescing queue and stream session
- status: port status from acks, batched write-back through Raft
- proposals: the hub's own Raft proposals, retried with the same request id
- hub: the asyncio side: follow the replica, sessions, acks, wait_for_hosts, registration
"""

from alcor.controller.goalstate.engine import GoalStateEngine
from alcor.controller.goalstate.hub import GoalStateHub

__all__ = ["GoalStateEngine", "GoalStateHub"]
