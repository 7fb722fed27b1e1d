"""Hostile course repositories, seen at mirror time: a branch whose checkout would fill every
student's home is refused before any delivery; and a folder that holds another repository (two
assignments given one target folder) is never merged into."""

from __future__ import annotations

import pytest

from app.gitsync import GitSyncError, ensure_mirror, mirror_commit, sync
from app.gitsync.mirror import mirror_name
from tests.gitsync.conftest import Upstream, git, repo_git, tree_bytes


def _tree(bare, entries: list[tuple[str, str, str]]) -> str:
    """Write a tree of (mode, name, object) straight into the bare repository."""
    listing = "".join(
        f"{mode} {'tree' if mode == '040000' else 'blob'} {oid}\t{name}\n"
        for mode, name, oid in entries
    )
    return git("--git-dir", bare, "mktree", input=listing).strip()


def push_tree(upstream: Upstream, tree: str) -> str:
    """Make ``tree`` the branch's next commit, as a push of it would."""
    parent = git("--git-dir", upstream.bare, "rev-parse", upstream.branch).strip()
    commit = git(
        "--git-dir", upstream.bare, "commit-tree", tree, "-p", parent, "-m", "hostile"
    ).strip()
    git("--git-dir", upstream.bare, "update-ref", f"refs/heads/{upstream.branch}", commit)
    return commit


def tree_bomb(upstream: Upstream, *, blob: str, width: int, levels: int) -> str:
    """A branch of a few objects whose checkout has ``width ** levels`` copies of ``blob``."""
    oid = git("--git-dir", upstream.bare, "hash-object", "-w", "--stdin", input=blob)
    entry = ("100644", oid.strip())
    for level in range(levels):
        oid = _tree(
            upstream.bare, [(entry[0], f"n{level}-{i:04d}", entry[1]) for i in range(width)]
        )
        entry = ("040000", oid)
    return push_tree(upstream, entry[1])


@pytest.mark.parametrize(
    ("bomb", "code"),
    [
        ({"blob": "x" * (1 << 20), "width": 64, "levels": 2}, "repo_too_large"),  # 4 GiB
        ({"blob": "", "width": 400, "levels": 2}, "too_many_entries"),  # 160,400 entries
    ],
    ids=["size", "entries"],
)
def test_a_branch_over_the_default_limits_is_refused_and_the_mirror_keeps_its_commit(
    home, upstream, mirrors, do_sync, bomb, code
):
    dest = home / "course"
    do_sync(dest)
    good = repo_git(dest, "rev-parse", "HEAD").strip()
    tree_bomb(upstream, **bomb)

    with pytest.raises(GitSyncError) as refused:
        ensure_mirror(upstream.url, None, mirrors, timeout=60)

    assert refused.value.code == code
    assert "'main'" in refused.value.message and "the limit" in refused.value.message
    # The mirror is back at the commit it had: a delivery still running from it brings that.
    mirror = mirrors / mirror_name(upstream.url, "main")
    assert mirror_commit(mirror, "main") == good
    before = tree_bytes(dest)
    report = sync(upstream.url, dest, mirror=mirror, allowed_prefixes=["file:///"], timeout=60)
    assert report.outcome == "unchanged", report
    assert tree_bytes(dest) == before


def test_the_limits_are_the_callers_and_a_branch_within_them_is_mirrored(upstream, mirrors):
    # The course repository of the fixture: 4 files in 2 folders, 6 entries, 56 bytes.
    path = ensure_mirror(upstream.url, None, mirrors, max_tree_entries=6, max_tree_bytes=56)
    assert mirror_commit(path, "main")
    for limits, code in (
        ({"max_tree_entries": 5}, "too_many_entries"),
        ({"max_tree_bytes": 55}, "repo_too_large"),
    ):
        with pytest.raises(GitSyncError) as refused:
            ensure_mirror(upstream.url, None, mirrors, **limits)
        assert refused.value.code == code


def test_a_folder_that_holds_another_repository_is_never_merged_into(
    home, scratch, upstream, do_sync, student
):
    dest = home / "shared"
    do_sync(dest)
    other = Upstream(scratch / "other-course")
    other.commit({"README.md": "# Another course\n", "hw.py": "print('other')\n"})
    before = tree_bytes(dest)

    for policy in ("needs_attention", "backup"):
        report = do_sync(dest, url=other.url, policy=policy)

        assert (report.outcome, report.error_code) == ("needs_attention", "other_repository")
        assert upstream.url in report.error_message and other.url in report.error_message
        assert "another target folder" in report.error_message
    assert tree_bytes(dest) == before
    assert sorted(p.name for p in home.iterdir()) == [".shared.hubclass.lock", "shared"]

    # The same repository written another way (".git", "/") is the same course.
    assert do_sync(dest, url=upstream.url + "/").outcome == "unchanged"
    # A remote the student set, with a token in it, is named without the token.
    student.git(dest, "remote", "set-url", "origin", "https://me:s3cret@example.org/mine.git")
    report = do_sync(dest)
    assert report.error_code == "other_repository"
    assert "https://example.org/mine.git" in report.error_message
    assert "s3cret" not in report.error_message and "me:" not in report.error_message
