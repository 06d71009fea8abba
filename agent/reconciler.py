"""The level-triggered reconciler: desired (from the goal state) vs installed -> plan -> driver.

A full pass starts from what the driver says is programmed, never from what the agent remembers
having done, so a pass after a failure, a restart or someone else's change repairs whatever
differs. A pass yields the failures by goal-state resource: items the driver could not execute
(`Report.resources`) and resources the goal state itself cannot realise (`State.problems`, e.g.
a neighbor whose host has no underlay IP yet).

Deltas that leave the host's own ports alone (a port created elsewhere in a large VPC, a group's
members) are planned from the last pass instead (`incremental.Incremental`): O(change), not
O(neighbors). That holds only while every pass applies in full; any failure, snapshot or gap
goes back to a full pass, and the runner's periodic resync is always one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from alcor.agent.dataplane.columns import Update
from alcor.agent.dataplane.driver import Driver, Report
from alcor.agent.dataplane.incremental import Incremental, Step
from alcor.agent.dataplane.model import KIND_PORT, Config, GoalState, State, desired, owners
from alcor.agent.dataplane.plan import Plan, plan

log = logging.getLogger(__name__)
Key = tuple[int, str]  # (GoalStateKind, id)


@dataclass(frozen=True)
class Outcome:
    revision: int
    plan: Plan
    report: Report
    failures: Mapping[Key, str] = field(default_factory=dict)
    seconds: float = 0.0
    incremental: bool = False  # planned from the last pass, not against `installed()`


class Reconciler:
    def __init__(
        self, driver: Driver, config: Config | None = None, timer: Callable[[], float] = time.perf_counter
    ) -> None:
        self.driver = driver
        self.config = config or Config()
        self.timer = timer
        self.last: Outcome | None = None
        self._applied: Incremental | None = None  # the last pass, if it applied in full

    def reconcile(self, goal: GoalState, updates: Sequence[Update] = ()) -> Outcome:
        """Bring the data plane to `goal`; blocking (the agent runs it off the event loop).
        `updates` are the deltas that led from the goal of the last pass to `goal`, if known:
        they allow an incremental pass. Without them the pass is a full one."""
        start = self.timer()
        applied, self._applied = self._applied, None
        step = applied.advance(goal, updates) if applied is not None and updates else None
        want = step.state if step is not None else desired(goal, self.config)
        todo = Plan()
        try:
            if step is not None:
                assert applied is not None
                todo = plan(want, applied.state, remote=step.remote)
            else:
                todo = plan(want, self.driver.installed())
            report = self.driver.execute(todo) if todo.items else Report(todo)
        except Exception as e:
            # a driver that cannot work at all (not one item failing): nothing is known applied
            log.exception("data-plane driver failed at revision %d", goal.revision)
            reason = f"data-plane driver error: {type(e).__name__}: {e}"
            broken: dict[Key, str] = {(KIND_PORT, pid): reason for pid in goal.ports}
            broken[(0, "dataplane")] = reason
            outcome = Outcome(goal.revision, todo, Report(Plan()), broken, self.timer() - start)
            self.last = outcome
            return outcome
        failures: dict[Key, str] = dict(want.problems)
        if report.ok:
            self._applied = self._carry(applied, step, goal, want)
        else:
            for key, reason in report.resources(owners(goal, want)).items():
                failures[key] = f"{failures[key]}; {reason}" if key in failures else reason
        outcome = Outcome(goal.revision, todo, report, failures, self.timer() - start, step is not None)
        self.last = outcome
        return outcome

    @staticmethod
    def _carry(applied: Incremental | None, step: Step | None, goal: GoalState, want: State) -> Incremental:
        if step is not None:
            assert applied is not None
            applied.commit(step)
            return applied
        return Incremental(goal, want)
