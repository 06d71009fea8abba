"""Token files and the compaction window: the pure parts of the controller's edges."""

from __future__ import annotations

from pathlib import Path

import pytest

from alcor.controller.api.auth import Identity, load_tokens, parse_scope
from alcor.controller.compactor import compaction_target


def test_token_file_scopes(tmp_path: Path) -> None:
    path = tmp_path / "tokens"
    path.write_text("# operators\nroot-t admin\n\nteam-t project:team-a  # a project\nagent-t host:h1\n")
    assert load_tokens(path) == {
        "root-t": Identity(admin=True),
        "team-t": Identity(project_id="team-a"),
        "agent-t": Identity(host_id="h1"),
    }


@pytest.mark.parametrize(("line", "message"), [
    ("lonely-token", "expected 'TOKEN SCOPE'"),
    ("t project:", "unknown token scope 'project:'"),
    ("t superuser", "unknown token scope 'superuser'"),
])
def test_a_bad_token_line_names_its_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "tokens"
    path.write_text(f"ok admin\n{line}\n")
    with pytest.raises(ValueError, match=f"tokens:2: {message}"):
        load_tokens(path)


def test_identity_callers() -> None:
    assert parse_scope("project:p").caller.project_id == "p" and not parse_scope("project:p").caller.admin
    assert parse_scope("admin").caller.admin


def test_compaction_keeps_history_and_waits_for_slack() -> None:
    # nothing until history + slack revisions are retained, then compact to keep `history`
    assert compaction_target(revision=109, compacted=0, history=100, slack=10) == 0
    assert compaction_target(revision=111, compacted=0, history=100, slack=10) == 11
    assert compaction_target(revision=120, compacted=11, history=100, slack=10) == 0
    assert compaction_target(revision=121, compacted=11, history=100, slack=10) == 21
