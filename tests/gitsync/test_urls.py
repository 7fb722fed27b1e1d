"""Repository URLs: injection and SSRF tables refused before any git process starts."""

from __future__ import annotations

import time

import pytest

from app.gitsync import GitSyncError, ensure_mirror, sync, validate_repo_url
from app.gitsync.runner import Git, GitCommandFailed

ALLOWED = ["https://github.com/", "https://gitlab.example.edu/courses/"]

INJECTION = [
    "ext::sh -c touch% {marker}",
    "ext::sh -c 'touch {marker}'",
    "ext://sh%20-c%20touch%20{marker}",
    "fd::17",
    "fd::3,4/x",
    "transport::https://github.com/org/repo",
    "::https://github.com/org/repo",
    "--upload-pack=touch {marker}",
    "-utouch {marker}",
    "--config=protocol.ext.allow=always",
    "--template=/tmp/evil",
    "-c",
    "https://github.com/$HOME/repo",
    "https://github.com/${{IFS}}/repo",
    "https://github.com/`touch {marker}`/repo",
    "https://github.com/org/repo;touch {marker}",
    "https://github.com/org/repo|touch",
    "https://github.com/org/repo\ntouch",
    "https://github.com/org/repo\x00",
    " https://github.com/org/repo",
    "https://github.com/org/repo ",
    "",
    "https://github.com/org/\\repo",
    "https://github.com/org/repo?upload-pack=x",
    "https://github.com/org/repo#x",
    "https://\uff47ithub.com/org/repo",  # a fullwidth g
    "https://user:secret@github.com/org/repo",
    "https://github.com@evil.example/org/repo",
    "https://github.com/org/../../other/repo",
    "https://github.com/org/%2e%2e/%2e%2e/other",
    "https://github.com/org%2frepo",
    "https://github.com/org/repo%",
    "https://github.com:notaport/org/repo",
    "git@github.com:org/repo.git",
    "ssh://git@github.com/org/repo",
    "file://host/etc",
    "/home/other/repo",
    "../other/repo",
    "~other/repo",
]

SSRF = [
    "file:///home/other/.ssh",
    "file:///etc",
    "http://127.0.0.1:8081/hub/api",
    "http://169.254.169.254/latest/meta-data/",
    "https://169.254.169.254/latest/meta-data/",
    "https://localhost/org/repo",
    "https://[::1]/org/repo",
    "git://127.0.0.1/repo",
    "https://github.com.evil.example/org/repo",
    "https://evil.example/https://github.com/org/repo",
    "http://github.com/org/repo",
    "https://gitlab.example.edu/courses-evil/repo",
    "https://gitlab.example.edu/coursesx/repo",
    "https://gitlab.example.edu/other/repo",
]

GOOD = [
    "https://github.com/org/repo",
    "https://github.com/org/repo.git",
    "https://GitHub.com/org/repo",
    "https://github.com:443/org/repo",
    "https://gitlab.example.edu/courses/cs101/notes.git",
    "https://gitlab.example.edu/courses/cs101/my%20notes.git",
]


@pytest.mark.parametrize("url", INJECTION)
def test_injection_urls_are_refused_as_invalid(url, tmp_path):
    with pytest.raises(GitSyncError) as info:
        validate_repo_url(url.format(marker=tmp_path / "marker"), ALLOWED)
    assert info.value.code == "url_invalid"
    assert "\n" not in info.value.message and "\x00" not in info.value.message


@pytest.mark.parametrize("url", SSRF)
def test_ssrf_urls_outside_the_allowed_prefixes_are_refused(url):
    with pytest.raises(GitSyncError) as info:
        validate_repo_url(url, ALLOWED)
    assert info.value.code == "url_not_allowed"
    assert "github.com" in info.value.message  # tells the instructor what is allowed


@pytest.mark.parametrize("url", GOOD)
def test_urls_under_an_allowed_prefix_pass_unchanged(url):
    assert validate_repo_url(url, ALLOWED) == url


def test_no_prefixes_configured_allows_nothing():
    with pytest.raises(GitSyncError) as info:
        validate_repo_url("https://github.com/org/repo", [])
    assert info.value.code == "url_not_allowed"


def test_a_prefix_without_a_port_allows_that_host_on_any_port():
    prefixes = ["file://", "git://127.0.0.1"]
    assert validate_repo_url("git://127.0.0.1:9418/course.git", prefixes)
    assert validate_repo_url("file:///srv/course.git", prefixes)
    with pytest.raises(GitSyncError):
        validate_repo_url("git://127.0.0.1.evil.example/course.git", prefixes)
    with pytest.raises(GitSyncError):
        validate_repo_url("git://127.0.0.1:9418/x", ["git://127.0.0.1:9419/"])


@pytest.mark.parametrize("url", INJECTION[:12])
def test_sync_and_mirror_refuse_injection_before_git_runs(url, tmp_path, home):
    marker = tmp_path / "marker"
    url = url.format(marker=marker)
    # Even a careless allow-list that names the helpers does not let them through.
    permissive = ["ext::", "fd::", "transport::", "-", "https://", "file://"]

    report = sync(url, home / "course", allowed_prefixes=permissive, timeout=10)
    with pytest.raises(GitSyncError):
        ensure_mirror(url, "main", tmp_path / "mirrors", timeout=10)

    assert report.outcome == "failed"
    assert report.error_code == "url_invalid"
    assert not marker.exists()
    assert list(home.iterdir()) == []
    assert not (tmp_path / "mirrors").exists()


def test_past_validation_git_itself_refuses_ext_and_option_urls(tmp_path):
    """Defense in depth: the git layer alone (protocol allow-list, '--') stops the same URLs."""
    marker = tmp_path / "marker"
    git = Git(time.monotonic() + 10)
    for url in (f"ext::sh -c touch% {marker}", f"--upload-pack=touch {marker}"):
        with pytest.raises(GitCommandFailed):
            git.run("ls-remote", "--", url, cwd=tmp_path, allow_protocol="https:file")
    assert not marker.exists()
