"""Deterministic simulation runs (see sim.py for what is checked) and pysyncobj's B1 scenario.

Default run: SIM_SEEDS_3 three-node seeds and SIM_SEEDS_5 five-node seeds. The slow sweep
(`-m slow`) runs thousands more; ALCOR_SIM_SEEDS=N makes the sweep N seeds per cluster size,
and ALCOR_SIM_SEED=S runs just seed S (what a failure message tells you to run).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from alcor.raft import Message, RaftCore
from alcor.raft import core as core_module

from .sim import SimParams, Simulation, SimulationFailure

SIM_SEEDS_3 = 300
SIM_SEEDS_5 = 100
SWEEP = int(os.environ.get("ALCOR_SIM_SEEDS", "1000"))
CHUNK = 100


def run(seed: int, nodes: int) -> Simulation:
    try:
        return Simulation(seed, SimParams(nodes=nodes)).run()
    except SimulationFailure as e:
        pytest.fail(f"{e}\nreproduce: ALCOR_SIM_SEED={seed} ALCOR_SIM_NODES={nodes} pytest {__file__} -k single_seed")


@pytest.mark.parametrize("seed", range(SIM_SEEDS_3))
def test_simulation_3_nodes(seed: int) -> None:
    run(seed, 3)


@pytest.mark.parametrize("seed", range(SIM_SEEDS_5))
def test_simulation_5_nodes(seed: int) -> None:
    run(seed, 5)


@pytest.mark.slow
@pytest.mark.parametrize("nodes", [3, 5])
@pytest.mark.parametrize("chunk", range((SWEEP + CHUNK - 1) // CHUNK))
def test_simulation_sweep(chunk: int, nodes: int) -> None:
    start = (SIM_SEEDS_3 if nodes == 3 else SIM_SEEDS_5) + chunk * CHUNK
    for seed in range(start, start + min(CHUNK, SWEEP - chunk * CHUNK)):
        run(seed, nodes)


@pytest.mark.skipif("ALCOR_SIM_SEED" not in os.environ, reason="set ALCOR_SIM_SEED to rerun one seed")
def test_simulation_single_seed() -> None:
    sim = run(int(os.environ["ALCOR_SIM_SEED"]), int(os.environ.get("ALCOR_SIM_NODES", "3")))
    print("\n".join(sim.trace), dict(sim.stats), sep="\n")


def fingerprint(seed: int) -> str:
    sim = Simulation(seed, SimParams(nodes=5, steps=400)).run()
    digests = sorted((n.id, n.sm.applied, n.sm.digest.hex()) for n in sim.nodes.values() if n.alive)
    return repr((sim.step_no, sorted(sim.acked.items()), sorted(sim.stats.items()), digests, list(sim.trace)))


def test_a_seed_replays_exactly_even_with_another_hash_seed() -> None:
    here = fingerprint(11)
    assert fingerprint(11) == here
    code = "from tests.raft.test_simulation import fingerprint; print(fingerprint(11))"
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    repo = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=repo / "tests" / "..", env={**env, "PYTHONPATH": str(repo)},
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    assert out == here


def test_the_sweep_covers_thousands_of_seeds_in_total() -> None:
    assert SIM_SEEDS_3 + SIM_SEEDS_5 + 2 * SWEEP >= 1000


# -- pysyncobj's B1, as its own scenario ------------------------------------------------------


@pytest.mark.parametrize("compact", [True, False], ids=["compacted", "log"])
@pytest.mark.parametrize("preload", [0, 200])
@pytest.mark.parametrize("seed", range(3))
def test_partitioned_leader_rejoining_behind_compaction_acknowledges_nothing(
    seed: int, preload: int, compact: bool
) -> None:
    """Partition leader L; 20 proposals on L; the majority elects N, writes 600 entries and
    compacts; heal. None of L's proposals may be acknowledged, and no index may be applied
    with different data on different nodes (the Checker asserts that on every apply)."""
    sim = Simulation(
        seed,
        SimParams(nodes=3, p_client=0, p_nemesis=0, p_crash_in_ready=0, compact_every=10**9, membership=False),
    )
    sim.run_until(lambda: sim.leader() is not None)
    old = sim.leader()
    assert old is not None
    for k in range(preload):
        sim.propose_on(old.id, b"preload-%d" % k)
        if k % 20 == 0:
            sim.step()
    sim.run_until(lambda: all(n.sm.applied == old.raft.log.last_index() for n in sim.nodes.values()))

    sim.isolate(old.id)  # message-level: L keeps running and accepting proposals
    lost = {sim.propose_on(old.id, b"L-%d" % k): b"L-%d" % k for k in range(20)}

    def new_leader() -> bool:
        leader = sim.leader()
        return leader is not None and leader.id != old.id

    sim.run_until(new_leader)
    new = sim.leader()
    assert new is not None
    for k in range(600):
        if new.raft.role.name != "LEADER":
            sim.run_until(new_leader)
            new = sim.leader()
            assert new is not None
        sim.propose_on(new.id, b"N-%d" % k)
        if k % 25 == 0:
            sim.step()
    majority = [n for n in sim.nodes.values() if n.id != old.id]
    sim.run_until(lambda: all(n.sm.applied == new.raft.log.last_index() for n in majority))
    if compact:
        for n in majority:
            assert n.snapshot_and_compact(keep=0)
        assert new.storage.first_index() > max(lost)  # L's next entry is gone from N's log
    snapshots_before = sim.stats["snapshot installed"]

    sim.settle()  # heal, let it converge
    sim.final_check()  # every acked proposal applied everywhere, identical states

    assert not set(lost.values()) & set(sim.acked.values()), "an old leader's proposal was acknowledged"
    for index, data in lost.items():
        assert sim.checker.applied[index].data != data  # the index holds the majority's entry
    assert old.sm.applied == new.raft.log.last_index() and old.sm.digest == new.sm.digest
    if compact:
        assert sim.stats["snapshot installed"] > snapshots_before  # L caught up by snapshot


# -- the checks have teeth: known bugs, injected, are caught -----------------------------------


def first_failure(seeds: range, params: SimParams) -> str | None:
    for seed in seeds:
        try:
            Simulation(seed, params).run()
        except AssertionError as e:  # SimulationFailure, or one of the core's own assertions
            return str(e)
    return None


def test_injected_pysyncobj_b1_is_caught_by_the_b1_scenario(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: set[tuple[str, int]] = set()

    def handle_snapshot_like_pysyncobj(self: RaftCore, m: Message) -> None:
        assert m.snapshot is not None
        md, log = m.snapshot.metadata, self.log
        if md.index <= log.committed:
            self._reply(m, log.committed)
        elif (self.id, md.index) not in seen:  # the first chunk falls through to the commit update
            seen.add((self.id, md.index))
            log.commit_to(min(md.index, log.last_index()))
        else:
            log.restore(m.snapshot)
            self.tracker.restore(md.conf_state, log.last_index() + 1)
            self._reply(m, md.index)

    monkeypatch.setattr(RaftCore, "_handle_snapshot", handle_snapshot_like_pysyncobj)
    with pytest.raises(AssertionError):
        test_partitioned_leader_rejoining_behind_compaction_acknowledges_nothing(0, 0, True)


def test_injected_stale_reads_are_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    # ReadIndex without confirming leadership: a deposed leader answers from its old state.
    def read_at_once(self: RaftCore, context: bytes, from_id: str) -> None:
        self._release_read(self.log.committed, context, from_id)

    monkeypatch.setattr(RaftCore, "_leader_read_index", read_at_once)
    failure = first_failure(range(100), SimParams())
    assert failure is not None and "stale read" in failure


def test_injected_acks_before_persisting_are_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(core_module, "_AFTER_PERSIST", frozenset())
    assert first_failure(range(100), SimParams(p_crash_in_ready=0.02)) is not None
