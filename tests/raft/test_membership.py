"""Membership: learners, one change at a time, taking effect on apply, removing the leader."""

from __future__ import annotations

import pytest

from alcor.raft import ConfChange, ConfChangeType, ProposalDropped, Role

from .harness import Cluster

ABC = ["a", "b", "c"]
ADD_LEARNER, ADD_VOTER = ConfChangeType.ADD_LEARNER, ConfChangeType.ADD_VOTER
PROMOTE, REMOVE = ConfChangeType.PROMOTE, ConfChangeType.REMOVE


def cluster_with_learner() -> Cluster:
    c = Cluster(ABC)
    c.elect("a")
    c.propose("a", b"before")
    c.add_node("d")  # started empty, then added
    c.change("a", ADD_LEARNER, "d")
    c.tick_all(3)
    return c


def test_a_learner_joins_empty_and_learns_log_and_membership_by_replication() -> None:
    c = cluster_with_learner()
    assert c.applied("d") == [b"before"]
    assert c["d"].conf_state.voters == ("a", "b", "c")
    assert c["d"].conf_state.learners == ("d",)


def test_learners_do_not_count_toward_commit() -> None:
    c = cluster_with_learner()
    c.isolate("b")
    c.cut("a", "c")
    index = c.propose("a", b"x")
    c.tick("a", 1)
    assert c["d"].log.last_index() >= index  # replicated to the learner...
    assert c["a"].committed < index  # ...which does not make a quorum with the leader


def test_learners_never_campaign_and_their_votes_do_not_count() -> None:
    c = cluster_with_learner()
    c.isolate("d")
    term = c["d"].term
    c.tick("d", 10 * c.options.election_tick)
    assert c["d"].role == Role.FOLLOWER and c["d"].term == term
    # b alone with the learner: the learner's vote would make two of four, but it is no voter
    c.heal()
    c.crash("a")
    c.cut("b", "c")
    c.tick_all(6 * c.options.election_tick)
    assert c.leader() is None


def test_a_promoted_learner_counts() -> None:
    c = cluster_with_learner()
    c.change("a", PROMOTE, "d")
    c.tick_all(2)
    assert c["a"].conf_state.voters == ("a", "b", "c", "d")
    c.crash("b")  # 3 of 4 voters left: still a quorum
    index = c.propose("a", b"x")
    assert c["a"].committed >= index


def test_one_membership_change_at_a_time() -> None:
    c = Cluster(ABC)
    c.elect("a")
    c.add_node("d")
    c.add_node("e")
    c.isolate("a")  # the first change cannot commit
    c["a"].propose_conf_change(ConfChange(ADD_LEARNER, "d"))
    with pytest.raises(ProposalDropped):
        c["a"].propose_conf_change(ConfChange(ADD_LEARNER, "e"))
    c.heal()
    c.tick_all(2)
    assert c["a"].conf_state.learners == ("d",)
    c.change("a", ADD_LEARNER, "e")  # applied: the next change is allowed
    assert c["a"].conf_state.learners == ("d", "e")


def test_a_new_leader_must_apply_its_log_before_changing_membership() -> None:
    c = Cluster(ABC)
    c.elect("a")
    c.isolate("a")
    c["a"].propose_conf_change(ConfChange(ADD_LEARNER, "d"))  # uncommitted, possibly forever
    c.settle()
    c.tick_all(4 * c.options.election_tick)
    new = c.leader()
    assert new in ("b", "c")
    core = c[new]
    assert core.pending_conf_index >= core.log.last_index() - 1
    c.add_node("e")
    c.change(new, ADD_LEARNER, "e")  # its no-op is applied, so it may
    assert c[new].conf_state.learners == ("e",)


def test_membership_takes_effect_when_applied_not_when_appended() -> None:
    c = Cluster(ABC)
    c.elect("a")
    c.add_node("d")
    c.only_links()  # nothing gets through
    c["a"].propose_conf_change(ConfChange(ADD_VOTER, "d"))
    c.settle()
    assert c["a"].conf_state.voters == ("a", "b", "c")  # appended, not applied
    c.heal()
    c.tick_all(3)
    assert all(c[n].conf_state.voters == ("a", "b", "c", "d") for n in "abcd")


def test_invalid_changes_are_refused_by_the_leader() -> None:
    c = Cluster(ABC)
    c.elect("a")
    for cc in [ConfChange(ADD_VOTER, "b"), ConfChange(PROMOTE, "b"), ConfChange(REMOVE, "z"), ConfChange(ADD_VOTER, "")]:
        with pytest.raises(ValueError):
            c["a"].propose_conf_change(cc)


def test_removed_leader_steps_down_and_the_rest_carry_on() -> None:
    c = Cluster(ABC)
    c.elect("a")
    c.change("a", REMOVE, "a")
    assert c["a"].role == Role.FOLLOWER
    assert c["b"].conf_state.voters == ("b", "c")  # it told them the commit before leaving
    c.crash("a")
    c.tick_all(4 * c.options.election_tick)
    new = c.leader()
    assert new in ("b", "c")
    c.propose(new, b"x")
    assert c.applied("b")[-1] == b"x" and c.applied("c")[-1] == b"x"


def test_removing_a_follower_shrinks_the_quorum() -> None:
    c = Cluster(ABC)
    c.elect("a")
    c.change("a", REMOVE, "c")
    c.tick_all(1)
    c.delivered.clear()
    c.crash("b")
    index = c.propose("a", b"alone")  # quorum of {a, b} is 2: cannot commit without b
    assert c["a"].committed < index
    c.restart("b")
    c.tick_all(3)
    assert c["a"].committed >= index
    assert not any(m.to_id == "c" for m in c.delivered)


def test_a_removed_follower_learns_its_removal_from_a_farewell_heartbeat() -> None:
    c = Cluster(ABC)
    c.elect("a")
    c.change("a", REMOVE, "c")
    # the leader's last word to c carries the commit index: c applies its own removal
    assert c["c"].conf_state.voters == ("a", "b")
    assert c["c"].committed == c["a"].committed
    term = c["c"].term
    c.tick_all(10 * c.options.election_tick)
    assert c["c"].term == term  # no longer a voter: it never campaigns
    assert c.leader() == "a"


def test_a_removed_follower_that_misses_the_farewell_keeps_its_old_configuration() -> None:
    c = Cluster(ABC)
    c.elect("a")
    c.cut("a", "c")  # the removal commits with b; the farewell to c is lost
    c.change("a", REMOVE, "c")
    c.heal()
    c.tick_all(3)
    assert c["a"].conf_state.voters == ("a", "b")
    assert "c" in c["c"].conf_state.voters  # best effort: such a member must be stopped by hand
    assert c["c"].committed < c["a"].committed
