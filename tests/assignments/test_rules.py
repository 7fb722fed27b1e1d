"""The assignment rules on their own (no app): what each setting may be, and the pull link."""

from __future__ import annotations

import pytest

from app.assignments import rules
from app.assignments.rules import AssignmentError

DATA = "/srv/hubclass/data"


def refusal(check, *args) -> AssignmentError:
    with pytest.raises(AssignmentError) as caught:
        check(*args)
    return caught.value


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("", "it is empty"),
        ("   ", "it is empty"),
        ("../../etc", "it is a path"),
        ("/home/other", "it is a path"),
        ("week1/notes", "it is a path"),
        ("a\\b", "it is a path"),
        ("..", "'..' is not a folder of its own"),
        (".", "'.' is not a folder of its own"),
        (".ssh", "it starts with '.'"),
        (".jupyter", "it starts with '.'"),
        ("~", "'~' means a home folder"),
        ("~root", "'~' means a home folder"),
        ("-rf", "it starts with '-'"),
        ("nul\x00byte", "it contains a NUL character"),
        ("x" * 101, "longer than 100 characters"),
        ("week 1", "letters, digits, '.', '_' and '-' only"),
        ("<b>x</b>", "it is a path"),
        ("wéek", "letters, digits, '.', '_' and '-' only"),
    ],
)
def test_a_target_folder_that_is_not_one_plain_folder_name_is_refused_with_its_reason(
    target, reason
):
    error = refusal(rules.check_target, target)

    assert error.code == "invalid_target"
    assert reason in error.message
    assert error.http_status == 400


@pytest.mark.parametrize(
    ("target", "says"),
    [
        ("bin", "~/bin is on the PATH of login shells"),
        ("BIN", "~/bin is on the PATH of login shells"),
        ("Bin", "case-insensitive"),
        ("sbin", "~/sbin"),
        ("lib", "~/lib"),
        ("lib64", "~/lib64"),
        ("libexec", "~/libexec"),
        ("snap", "~/snap"),
        ("Desktop", "~/Desktop"),
        ("desktop", "~/Desktop"),
        ("Library", "~/Library"),
        ("Applications", "~/Applications"),
        ("node_modules", "Node.js"),
        ("public_html", "on the web"),
        ("go", "~/go/bin"),
    ],
)
def test_a_folder_that_programs_give_a_meaning_in_a_home_is_refused_whatever_its_case(target, says):
    error = refusal(rules.check_target, target)

    assert error.code == "invalid_target"
    assert says in error.message
    assert error.message.startswith(f"{target!r} cannot be the target folder: ")
    assert refusal(rules.default_target, f"https://github.com/org/{target}.git").code == (
        "invalid_target"
    )


@pytest.mark.parametrize("target", ["binder", "bin2", "my-bin", "lib-notes", "desktop-lab", "Go1"])
def test_a_name_that_only_contains_a_refused_one_is_a_target_folder(target):
    assert rules.check_target(target) == target


@pytest.mark.parametrize("target", ["week1", "Lab_2", "notes.v2", "a" * 100, "2024-fall"])
def test_a_plain_folder_name_is_a_target_folder(target):
    assert rules.check_target(f" {target} ") == target


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("https://github.com/org/week1", "week1"),
        ("https://github.com/org/week1.git", "week1"),
        ("https://github.com/org/week1/", "week1"),
        ("git://127.0.0.1/course/lab%2Dtwo.git", "lab-two"),
        ("file:///srv/repos/notes.git/", "notes"),
    ],
)
def test_the_default_target_folder_is_the_repositorys_name_without_dot_git(url, name):
    assert rules.default_target(url) == name


def test_a_repository_name_that_is_no_safe_folder_asks_for_a_target_folder():
    error = refusal(rules.default_target, "https://github.com/org/.dotfiles")

    assert error.code == "invalid_target"
    assert "The repository's name '.dotfiles' cannot be the target folder" in error.message
    assert "type a target folder name" in error.message


@pytest.mark.parametrize(
    ("typed", "depth"),
    [("", 1), (None, 1), ("1", 1), (" 25 ", 25), (3, 3), ("full", None), ("FULL", None)],
)
def test_depth_is_a_number_of_commits_or_full_and_one_by_default(typed, depth):
    assert rules.parse_depth(typed) == depth


@pytest.mark.parametrize(
    "typed", ["0", 0, "-1", -1, "1.5", 1.5, True, "9" * 20, 10**20, "all", "\u0661", [1], {}]
)
def test_a_depth_that_is_not_a_positive_number_or_full_is_refused(typed):
    error = refusal(rules.parse_depth, typed)

    assert error.code == "invalid_depth"
    assert "or 'full' for the whole history" in error.message


@pytest.mark.parametrize(
    "branch", ["-x", "a..b", "a b", ".hidden", "x.lock", "a//b", "x/", "a@{1}", "é", "x" * 201]
)
def test_a_branch_name_git_could_misread_is_refused(branch):
    error = refusal(rules.check_branch, branch)

    assert error.code == "invalid_branch"
    assert "Leave it empty for the repository's default branch" in error.message


def test_an_empty_branch_is_the_remotes_default_branch():
    assert rules.check_branch("  ") is None
    assert rules.check_branch("release/fall") == "release/fall"


@pytest.mark.parametrize("subpath", ["/etc", "../x", "a/../b", ".git", "a/.hidden", "a b", "*"])
def test_a_sub_folder_outside_the_repository_or_a_pattern_is_refused(subpath):
    error = refusal(rules.check_subpath, subpath)

    assert error.code == "invalid_subpath"
    assert "Leave it empty to deliver the whole repository" in error.message


def test_a_sub_folder_keeps_its_parts_and_loses_a_trailing_slash():
    assert rules.check_subpath("labs/lab2/") == "labs/lab2"
    assert rules.check_subpath("") is None


@pytest.mark.parametrize("slug", ["", "Week1", "week 1", "-week", "week-", "we--ek", "a" * 41])
def test_an_assignment_slug_follows_the_course_slug_rule(slug):
    assert refusal(rules.check_slug, slug).code == "invalid_slug"


def test_the_policy_is_needs_attention_by_default_or_backup():
    assert rules.check_policy("") == "needs_attention"
    assert rules.check_policy("backup") == "backup"
    assert refusal(rules.check_policy, "delete").code == "invalid_policy"


@pytest.mark.parametrize(
    "url",
    [
        f"file://{DATA}",
        f"file://{DATA}/",
        f"file://{DATA}/mirrors/abc.git",
        f"file://{DATA}//mirrors//abc.git/",
        f"file:///{DATA}/mirrors",  # file:////srv/...
        f"file://{DATA.upper()}/mirrors",
        "file:///srv/hubclass/d%61ta/mirrors",
        "file:///srv/hubclass/%44ATA",
    ],
)
def test_a_file_url_into_the_data_dir_is_seen_in_every_spelling(url):
    assert rules.points_into(url, DATA)


@pytest.mark.parametrize(
    "url",
    [
        "file:///srv/hubclass/data-other/repo.git",
        "file:///srv/hubclass",  # the folder above holds no mirror
        "file:///srv/repos/week1.git",
        "https://github.com/srv/hubclass/data",
    ],
)
def test_a_url_beside_the_data_dir_is_not_in_it(url):
    assert not rules.points_into(url, DATA)


def test_a_symlink_that_resolves_into_the_data_dir_is_seen(tmp_path):
    data = tmp_path / "data"
    (data / "mirrors").mkdir(parents=True)
    (tmp_path / "innocent").symlink_to(data)

    assert rules.points_into(f"file://{tmp_path}/innocent/mirrors", str(data))
    # And a data dir configured through a symlink is seen through it.
    assert rules.points_into(f"file://{data}/mirrors", str(tmp_path / "innocent"))


def test_a_url_into_the_data_dir_is_refused_even_when_the_allow_list_has_file_urls():
    error = refusal(rules.check_repo_url, f"file://{DATA}/mirrors/x.git", ["file://"], DATA)

    assert error.code == "url_data_dir"
    assert "points into Hubclass's own data folder (HUBCLASS_DATA_DIR)" in error.message
    assert rules.check_repo_url(" file:///srv/repos/w.git ", ["file://"], DATA) == (
        "file:///srv/repos/w.git"
    )


@pytest.mark.parametrize(
    ("url", "code", "says"),
    [
        ("https://evil.example/org/repo", "url_not_allowed", "not under an allowed prefix"),
        ("ext::sh -c touch% /tmp/x", "url_invalid", "refused"),
        ("--upload-pack=touch /tmp/x", "url_invalid", "refused"),
        (f"file://{DATA}/../data/mirrors", "url_invalid", "'..' path segments"),
        ("", "url_invalid", "empty"),
    ],
)
def test_the_git_layers_url_refusals_are_assignment_refusals(url, code, says):
    error = refusal(rules.check_repo_url, url, ["https://github.com/", "file://"], DATA)

    assert (error.code, error.http_status) == (code, 400)
    assert says in error.message


def test_the_nbgitpuller_link_encodes_every_value_and_names_the_target_folder_and_depth():
    link = rules.nbgitpuller_link(
        "https://hub.example.org/hub/",
        repo_url="https://github.com/org/week1.git",
        branch="release/fall",
        target="week1",
        subpath="labs/lab2",
        depth=1,
    )

    assert link == (
        "https://hub.example.org/hub/user-redirect/git-pull"
        "?repo=https%3A%2F%2Fgithub.com%2Forg%2Fweek1.git"
        "&branch=release%2Ffall"
        "&urlpath=tree%2Fweek1%2Flabs%2Flab2"
        "&targetpath=week1"
        "&depth=1"
    )


def test_the_nbgitpuller_link_leaves_out_a_default_branch_and_a_full_history():
    link = rules.nbgitpuller_link(
        "/hub/",
        repo_url="git://127.0.0.1/c/notes",
        branch=None,
        target="notes",
        subpath=None,
        depth=None,
    )

    assert link == (
        "/hub/user-redirect/git-pull?repo=git%3A%2F%2F127.0.0.1%2Fc%2Fnotes"
        "&urlpath=tree%2Fnotes%2F&targetpath=notes"
    )
