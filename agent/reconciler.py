"""The level-triggered reconciler: desired (from the goal state) vs installed -> plan -> driver.

Every pass starts from what the driver says is programmed, never from what the agent remembers
having done, so a pass after a failure, a restart or someone else's change repairs whatever
differs. A pass yields the failures by goal-state resource: items the driver could not execute
(`Report.resources`) and resources the goal state itself cannot realise (`State.problems`, e.g.
a neighbor whose host has no underlay IP yet).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from alcor.agent.dataplane.driver import Driver, Report
from alcor.agent.dataplane.model import KIND_PORT, Config, GoalState, desired, owners
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


class Reconciler:
    def __init__(
        self, driver: Driver, config: Config | None = None, timer: Callable[[], float] = time.perf_counter
    ) -> None:
        self.driver = driver
        self.config = config or Config()
        self.timer = timer
        self.last: Outcome | None = None

    def reconcile(self, goal: GoalState) -> Outcome:
        """Bring the data plane to `goal`; blocking (the agent runs it off the event loop)."""
        start = self.timer()
        want = desired(goal, self.config)
        todo = Plan()
        try:
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
        if not report.ok:
            for key, reason in report.resources(owners(goal, want)).items():
                failures[key] = f"{failures[key]}; {reason}" if key in failures else reason
        outcome = Outcome(goal.revision, todo, report, failures, self.timer() - start)
        self.last = outcome
        return outcome
