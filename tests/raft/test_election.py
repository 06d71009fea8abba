"""Elections: votes, PreVote, CheckQuorum and the leader lease, and durable self-votes."""

from __future__ import annotations

import random

from alcor.raft import Config, MemoryStorage, Message, MessageType, RaftCore, Role

from .harness import Cluster, NodeOptions

ABC = ["a", "b", "c"]


def test_single_node_elects_itself_and_commits_immediately() -> None:
    c = Cluster(["a"])
    c.elect("a")
    index = c.propose("a", b"x")
    assert c["a"].committed == index
    assert c.applied("a") == [b"x"]


def test_three_nodes_elect_one_leader_that_commits_a_noop() -> None:
    c = Cluster(ABC)
    c.elect("a")
    assert [c[n].role for n in ABC] == [Role.LEADER, Role.FOLLOWER, Role.FOLLOWER]
    assert {c[n].lead for n in ABC} == {"a"}
    # The no-op of the new term is committed everywhere (3 bootstrap entries + 1).
    assert {c[n].committed for n in ABC} == {4}
    c.propose("a", b"x")
    assert all(c.applied(n) == [b"x"] for n in ABC)


def test_a_node_votes_once_per_term_and_only_for_up_to_date_logs() -> None:
    c = Cluster(ABC, NodeOptions(pre_vote=False, check_quorum=False))
    c.elect("a")
    c.propose("a", b"x")
    b = c["b"]
    term = b.term
    vote = Message(MessageType.VOTE, "b", "c", term=term + 1, index=1, log_term=1)
    b.step(vote)  # c's log is behind: rejected, but the term moves on
    c.process("b")
    (resp,) = [m for m in c.outbox if m.to_id == "c"]
    assert resp.reject and b.term == term + 1 and b.vote == ""
    c.outbox.clear()
    up_to_date = Message(MessageType.VOTE, "b", "c", term=term + 1, index=b.log.last_index(), log_term=b.log.last_term())
    b.step(up_to_date)
    b.step(Message(MessageType.VOTE, "b", "a", term=term + 1, index=99, log_term=99))
    c.process("b")
    assert b.vote == "c"
    assert [(m.to_id, m.reject) for m in c.outbox] == [("c", False), ("a", True)]


def test_votes_are_sent_only_after_they_are_durable() -> None:
    storage = MemoryStorage.bootstrap(ABC)
    core = RaftCore(Config("b", pre_vote=False), storage, random.Random(1))
    rd = core.ready()
    storage.save(rd.hard_state, rd.entries, rd.snapshot)
    core.advance(rd)
    core.step(Message(MessageType.VOTE, "b", "c", term=5, index=3, log_term=1))
    rd = core.ready()
    assert rd.hard_state is not None and rd.hard_state.vote == "c" and rd.must_sync
    assert not rd.messages
    assert [m.type for m in rd.persisted_messages] == [MessageType.VOTE_RESP]


def test_a_candidate_counts_its_own_vote_only_once_durable() -> None:
    storage = MemoryStorage.bootstrap(["a"])
    core = RaftCore(Config("a", pre_vote=False), storage, random.Random(1))
    for _ in range(2):  # bootstrap apply
        if core.has_ready():
            rd = core.ready()
            storage.save(rd.hard_state, rd.entries, rd.snapshot)
            core.advance(rd)
    while core.role == Role.FOLLOWER:
        core.tick()
    assert core.role == Role.CANDIDATE  # a single voter, yet not leader: its vote is not on disk
    rd = core.ready()
    assert rd.hard_state is not None and rd.hard_state.vote == "a"
    storage.save(rd.hard_state, rd.entries, rd.snapshot)
    core.advance(rd)
    assert core.role == Role.LEADER


def test_prevote_keeps_a_rejoining_partitioned_node_from_disrupting() -> None:
    c = Cluster(ABC)
    c.elect("a")
    term = c["a"].term
    c.isolate("c")
    c.tick_all(100)  # c times out again and again
    assert c["c"].term == term
    assert c["c"].role in (Role.PRE_CANDIDATE, Role.FOLLOWER)
    c.heal()
    c.tick_all(3)
    assert c["a"].role == Role.LEADER and c["a"].term == term
    assert c["c"].lead == "a" and c["c"].role == Role.FOLLOWER


def test_without_prevote_the_rejoining_node_forces_a_new_term() -> None:
    # The contrast: what PreVote prevents.
    c = Cluster(ABC, NodeOptions(pre_vote=False))
    c.elect("a")
    term = c["a"].term
    c.isolate("c")
    c.tick_all(100)
    assert c["c"].term > term
    c.heal()
    c.tick_all(30)
    assert c[c.leader() or "a"].term > term


def test_checkquorum_leader_steps_down_without_a_quorum() -> None:
    c = Cluster(ABC)
    c.elect("a")
    c.isolate("a")
    c.tick("a", 2 * c.options.election_tick)
    assert c["a"].role == Role.FOLLOWER


def test_checkquorum_leader_stays_while_it_hears_from_a_quorum() -> None:
    c = Cluster(ABC)
    c.elect("a")
    c.crash("c")
    c.tick_all(10 * c.options.election_tick)
    assert c["a"].role == Role.LEADER


def test_followers_with_a_live_leader_ignore_votes() -> None:
    c = Cluster(ABC)
    c.elect("a")
    b = c["b"]
    term = b.term
    for kind in (MessageType.VOTE, MessageType.PREVOTE):
        b.step(Message(kind, "b", "c", term=term + 5, index=100, log_term=100))
        c.process("b")
        assert b.term == term and not c.outbox  # not even an answer
    assert c["a"].role == Role.LEADER


def test_a_partitioned_minority_leader_is_replaced_and_steps_down_on_heal() -> None:
    c = Cluster(ABC)
    c.elect("a")
    c.isolate("a")
    c.tick_all(4 * c.options.election_tick)  # b and c's leases run out; one of them wins
    new = c.leader()
    assert new in ("b", "c") and c[new].term > c["a"].term
    c.heal()
    c.tick_all(3)
    assert c["a"].role == Role.FOLLOWER and c["a"].lead == new


def test_election_timeouts_are_randomized_but_seeded() -> None:
    def timeouts(seed: int) -> list[int]:
        core = RaftCore(Config("a"), MemoryStorage.bootstrap(["a"]), random.Random(seed))
        out = []
        for _ in range(5):
            core._become_follower(core.term + 1, "")
            out.append(core.randomized_election_timeout)
        return out

    assert timeouts(7) == timeouts(7)
    assert all(10 <= t < 20 for t in timeouts(7))
    assert len({tuple(timeouts(s)) for s in range(5)}) > 1
