"""Leadership transfer and ReadIndex (linearizable reads)."""

from __future__ import annotations

import pytest

from alcor.raft import ConfChangeType, MessageType, NotLeader, ProposalDropped, Role

from .harness import Cluster, NodeOptions

ABC = ["a", "b", "c"]


# -- transfer ---------------------------------------------------------------------------------


def test_transfer_to_an_up_to_date_follower() -> None:
    c = Cluster(ABC)
    c.elect("a")
    term = c["a"].term
    c["a"].transfer_leader("b")
    c.settle()
    assert c["b"].role == Role.LEADER and c["b"].term == term + 1
    assert c["a"].role == Role.FOLLOWER and c["a"].lead == "b"


def test_transfer_to_a_lagging_follower_waits_until_it_caught_up() -> None:
    c = Cluster(ABC)
    c.elect("a")
    c.isolate("c")
    for k in range(5):
        c.propose("a", b"%d" % k)
    c.heal()
    c.delivered.clear()
    c["a"].transfer_leader("c")
    with pytest.raises(ProposalDropped):
        c["a"].propose(b"during transfer")  # keeps the target caught up
    c.settle()
    kinds = [m.type for m in c.delivered if m.to_id == "c"]
    assert kinds.index(MessageType.APPEND) < kinds.index(MessageType.TIMEOUT_NOW)
    assert c["c"].role == Role.LEADER
    assert c.applied("c")[-5:] == [b"%d" % k for k in range(5)]


def test_a_transfer_that_cannot_finish_is_abandoned_after_an_election_timeout() -> None:
    c = Cluster(ABC)
    c.elect("a")
    c.isolate("c")
    c.propose("a", b"x")
    c["a"].transfer_leader("c")
    assert c["a"].lead_transferee == "c"
    c.tick_all(c.options.election_tick)
    assert c["a"].lead_transferee == "" and c["a"].role == Role.LEADER
    c.propose("a", b"y")  # proposals flow again


def test_transfer_is_refused_for_learners_and_on_followers() -> None:
    c = Cluster(ABC)
    c.elect("a")
    c.add_node("d")
    c.change("a", ConfChangeType.ADD_LEARNER, "d")
    with pytest.raises(ValueError):
        c["a"].transfer_leader("d")
    with pytest.raises(NotLeader):
        c["b"].transfer_leader("c")


def test_timeout_now_skips_the_lease_of_the_other_voters() -> None:
    # With CheckQuorum, b and c would ignore a vote from a node they know to be a follower,
    # unless the vote says it comes from a transfer.
    c = Cluster(ABC, NodeOptions(check_quorum=True, pre_vote=True))
    c.elect("a")
    c["a"].transfer_leader("c")
    c.settle()
    assert c["c"].role == Role.LEADER


# -- ReadIndex --------------------------------------------------------------------------------


def reads(c: Cluster, node: str) -> dict[bytes, int]:
    return {rs.context: rs.index for rs in c.nodes[node].read_states}


def test_read_on_the_leader_is_released_after_a_heartbeat_quorum() -> None:
    c = Cluster(ABC)
    c.elect("a")
    index = c.propose("a", b"x")
    c.only_links()
    c["a"].read_index(b"r1")
    c.settle()
    assert reads(c, "a") == {}  # no quorum has confirmed the leadership yet
    c.heal()
    c.tick("a", 1)
    assert reads(c, "a") == {b"r1": index}


def test_read_on_a_follower_is_forwarded_to_the_leader() -> None:
    c = Cluster(ABC)
    c.elect("a")
    index = c.propose("a", b"x")
    c["b"].read_index(b"r")
    c.settle()
    assert reads(c, "b") == {b"r": index}


def test_concurrent_reads_share_one_heartbeat_round() -> None:
    c = Cluster(ABC)
    c.elect("a")
    c.delivered.clear()
    for k in range(10):
        c["a"].read_index(b"r%d" % k)
    c.settle()
    assert len(reads(c, "a")) == 10
    assert sum(m.type == MessageType.HEARTBEAT for m in c.delivered) == 2


def test_a_new_leader_serves_reads_only_after_committing_in_its_term() -> None:
    c = Cluster(ABC)
    c.elect("a")
    c.propose("a", b"x")
    c.isolate("a")
    c.drop = lambda m: m.type == MessageType.APPEND_RESP  # the new leader's no-op cannot commit
    c.tick_all(4 * c.options.election_tick)
    new = c.leader()
    assert new in ("b", "c")
    core = c[new]
    noop = core.log.last_index()
    assert core.committed < noop
    core.read_index(b"r")
    c.tick(new, 3)  # heartbeats are answered, yet the read waits: the commit index may be stale
    assert reads(c, new) == {}
    c.drop = None
    c.tick(new, 2)
    assert core.committed == noop
    assert reads(c, new) == {b"r": noop}


def test_read_on_a_single_node_is_immediate() -> None:
    c = Cluster(["a"])
    c.elect("a")
    index = c.propose("a", b"x")
    c["a"].read_index(b"r")
    c.settle()
    assert reads(c, "a") == {b"r": index}


def test_a_deposed_leader_never_releases_a_read() -> None:
    c = Cluster(ABC)
    c.elect("a")
    c.propose("a", b"old")
    c.isolate("a")
    c["a"].read_index(b"stale?")
    c.settle()
    c.tick_all(4 * c.options.election_tick)  # b or c takes over and writes
    new = c.leader()
    assert new in ("b", "c")
    c.propose(new, b"new")
    c.heal()
    c.tick_all(5)
    assert c["a"].role == Role.FOLLOWER
    assert all(b"stale?" not in reads(c, n) for n in ABC)


def test_a_read_with_the_leader_partitioned_does_not_return_until_confirmed() -> None:
    c = Cluster(ABC)
    c.elect("a")
    c.cut("a", "b")
    c.cut("a", "c")
    c["b"].read_index(b"r")  # forwarded over a cut link: lost; the client will retry
    c["a"].read_index(b"r2")
    c.tick_all(2)
    assert reads(c, "b") == {} and reads(c, "a") == {}


def test_read_index_needs_a_known_leader() -> None:
    c = Cluster(ABC)
    with pytest.raises(NotLeader):
        c["b"].read_index(b"r")
    c.elect("a")
    with pytest.raises(ValueError):
        c["a"].read_index(b"")


def test_a_read_needs_a_quorum_of_the_current_membership() -> None:
    c = Cluster(ABC)
    c.elect("a")
    c.change("a", ConfChangeType.REMOVE, "c")
    c.crash("b")
    c["a"].read_index(b"r")  # quorum of {a, b} needs b
    c.tick_all(2)
    assert reads(c, "a") == {}
    c.restart("b")
    c.tick_all(2)
    assert b"r" in reads(c, "a")
