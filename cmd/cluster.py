"""`alcor cluster status|join|leave|transfer-leader`: controller membership and leadership."""

from __future__ import annotations

from dataclasses import asdict

import click

from alcor.sdk import Client, ClusterStatus, Member

from .output import emit, endpoints_option, friendly_errors, output_option, table, token_option

MEMBER_COLUMNS = ["id", "role", "leader", "peer_address", "api_address", "match_index"]


def _rows(members: tuple[Member, ...] | list[Member]) -> list[dict[str, object]]:
    return [{**asdict(m), "leader": "*" if m.is_leader else ""} for m in members]


@click.group()
def cluster() -> None:
    """Controller cluster membership and leadership."""


@cluster.command()
@endpoints_option
@token_option
@output_option
@friendly_errors
def status(endpoints: str, token: str | None, output: str) -> None:
    """Show the leader, term, commit and applied index, and every member."""
    with Client(endpoints, token=token) as c:
        s = c.cluster_status()

    def render(_: object) -> str:
        head = (
            f"leader {s.leader_id or '(none)'}  term {s.term}  commit {s.commit_index}  "
            f"applied {s.applied_index}  (answered by {s.member_id})"
        )
        return head + "\n" + table(_rows(s.members), MEMBER_COLUMNS)

    emit(output, _status_dict(s), render)


def _status_dict(s: ClusterStatus) -> dict[str, object]:
    return {**asdict(s), "members": [asdict(m) for m in s.members]}


@cluster.command()
@click.option("--id", "member_id", required=True, help="The new member's id.")
@click.option("--peer-address", required=True, help="Its Raft peer address, host:port.")
@click.option("--api-address", default="", help="Its client API address, host:port.")
@click.option("--learner-only", is_flag=True, help="Leave it a learner (do not promote when caught up).")
@endpoints_option
@token_option
@output_option
@friendly_errors
def join(
    member_id: str,
    peer_address: str,
    api_address: str,
    learner_only: bool,
    endpoints: str,
    token: str | None,
    output: str,
) -> None:
    """Add a member: it joins as a learner, catches up, then becomes a voter.

    Start the new member's process first, pointed at the cluster, then run this.
    """
    with Client(endpoints, token=token) as c:
        members = c.add_member(member_id, peer_address, api_address, promote=not learner_only)
    emit(output, [asdict(m) for m in members], lambda _: table(_rows(members), MEMBER_COLUMNS))


@cluster.command()
@click.option("--id", "member_id", required=True, help="The member to remove.")
@endpoints_option
@token_option
@output_option
@friendly_errors
def leave(member_id: str, endpoints: str, token: str | None, output: str) -> None:
    """Remove a member; a leader hands its leadership over before it goes."""
    with Client(endpoints, token=token) as c:
        members = c.remove_member(member_id)
    emit(output, [asdict(m) for m in members], lambda _: table(_rows(members), MEMBER_COLUMNS))


@cluster.command("transfer-leader")
@click.option("--to", "target", default="", help="The new leader (default: the most up-to-date voter).")
@endpoints_option
@token_option
@output_option
@friendly_errors
def transfer_leader(target: str, endpoints: str, token: str | None, output: str) -> None:
    """Move leadership to another voter."""
    with Client(endpoints, token=token) as c:
        leader = c.transfer_leader(target)
    emit(output, {"leader_id": leader}, lambda d: f"leader is now {d['leader_id']}")
