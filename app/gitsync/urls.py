"""Decide whether a repository URL may be fetched: syntax first, then the configured prefixes.

Both checks run before any git process starts. The syntax rules refuse everything git would treat
as an option, a remote helper (``ext::``, ``fd::``) or a local path, and every character a shell or
git's own parsers give meaning to; the prefixes (``HUBCLASS_ALLOWED_REPO_URLS``) then decide which
hosts and paths are reachable, which is what stops SSRF to the Hub API or a metadata service.
"""

from __future__ import annotations

import re
from urllib.parse import SplitResult, unquote, urlsplit

from git import Git
from git.exc import UnsafeProtocolError

from app.text import printable

from .errors import GitSyncError

# Only transports with a plain URL syntax; ssh needs keys the service does not hand out, and the
# remote helpers ("ext", "fd", "custom::") can run commands or read descriptors.
SCHEMES = ("https", "http", "git", "file")
MAX_URL_LENGTH = 2048
# Characters that mean something to a shell, to git's config syntax or to URL parsers that
# disagree with each other; none is needed in a repository URL.
_FORBIDDEN = set("$`\\\"'<>|^{}; ?#")
_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_ENCODED_SEPARATOR = re.compile(r"%(2[fF]|5[cC]|00)")


def _invalid(url: str, why: str) -> GitSyncError:
    shown = printable(url, 200)
    return GitSyncError("url_invalid", f"The repository URL {shown} is refused: {why}.")


def _parse(url: str) -> SplitResult:
    if not isinstance(url, str) or not url:
        raise GitSyncError("url_invalid", "The repository URL is empty.")
    if len(url) > MAX_URL_LENGTH:
        raise _invalid(url[:80], f"it is longer than {MAX_URL_LENGTH} characters")
    if not url.isascii() or any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in url):
        raise _invalid(url, "it contains spaces, control or non-ASCII characters")
    if url.startswith("-"):
        raise _invalid(url, "it starts with '-' and git would read it as an option")
    try:
        Git.check_unsafe_protocols(url)
    except UnsafeProtocolError:
        raise _invalid(url, "remote helpers such as ext:: and fd:: can run commands") from None
    if "::" in url.split("/", 1)[0]:
        raise _invalid(url, "remote helpers such as ext:: and fd:: can run commands")
    bad = sorted(_FORBIDDEN.intersection(url))
    if bad:
        raise _invalid(url, f"it contains {''.join(bad)!r}")
    if "://" not in url:
        raise _invalid(url, "only URLs of the form scheme://host/path are accepted, not paths")
    parts = urlsplit(url)
    if parts.scheme.lower() not in SCHEMES:
        raise _invalid(url, f"the scheme must be one of {', '.join(SCHEMES)}")
    if "@" in parts.netloc:
        raise _invalid(url, "user names and passwords do not belong in the URL")
    try:
        parts.port  # noqa: B018 -- parsing the port is the check (ValueError when malformed)
    except ValueError:
        raise _invalid(url, "the port is not a number") from None
    if parts.scheme.lower() == "file" and parts.netloc:
        raise _invalid(url, "file URLs must not name a host")
    if parts.scheme.lower() != "file" and not parts.hostname:
        raise _invalid(url, "the URL has no host")
    if _PERCENT.search(url) or _ENCODED_SEPARATOR.search(url):
        raise _invalid(url, "it contains a malformed or encoded separator '%'")
    decoded = unquote(parts.path)
    if any(segment in (".", "..") for segment in decoded.split("/")):
        raise _invalid(url, "'.' and '..' path segments are not accepted")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in decoded):
        raise _invalid(url, "it encodes control characters")
    return parts


def _path_under(path: str, prefix_path: str) -> bool:
    if not prefix_path or prefix_path.endswith("/"):
        return path.startswith(prefix_path) and (bool(prefix_path) or path[:1] in ("", "/"))
    return path == prefix_path or path.startswith(prefix_path + "/")


def _under_prefix(parts: SplitResult, prefix: str) -> bool:
    """Compare by components, so ``https://host.evil`` or ``/org-evil`` never match by accident."""
    try:
        allowed = urlsplit(prefix.strip())
        allowed_port = allowed.port
    except ValueError:
        return False
    if not allowed.scheme or allowed.scheme.lower() != parts.scheme.lower():
        return False
    if (allowed.hostname or "") != (parts.hostname or ""):
        return False
    # A prefix without a port allows the host on any port; with a port, only that port.
    if allowed_port is not None and allowed_port != parts.port:
        return False
    return _path_under(parts.path, allowed.path)


def check_url_syntax(url: str) -> str:
    """Refuse URLs that could inject options or commands; prefixes are not checked here."""
    _parse(url)
    return url


def validate_repo_url(url: str, allowed_prefixes: list[str]) -> str:
    """Return ``url`` if well-formed and under one of ``allowed_prefixes``; raise otherwise."""
    parts = _parse(url)
    prefixes = [prefix for prefix in allowed_prefixes if prefix and prefix.strip()]
    if not any(_under_prefix(parts, prefix) for prefix in prefixes):
        allowed = ", ".join(printable(prefix, 80) for prefix in prefixes) or "none configured"
        raise GitSyncError(
            "url_not_allowed",
            f"The repository URL {printable(url, 200)} is not under an allowed prefix ({allowed}).",
        )
    return url


def url_scheme(url: str) -> str:
    """Return the lower-case scheme, the one transport git is allowed to use for this URL."""
    return urlsplit(url).scheme.lower()


def _plain(url: str) -> str:
    url = url.strip().rstrip("/")
    return url.removesuffix(".git").rstrip("/")


def same_repository(one: str, other: str) -> bool:
    """True when two URLs name one repository: a trailing "/" or ".git" aside (nbgitpuller and
    people write either), and the host's case."""
    a, b = urlsplit(_plain(one)), urlsplit(_plain(other))
    return (a.scheme.lower(), a.netloc.lower(), a.path, a.query) == (
        b.scheme.lower(),
        b.netloc.lower(),
        b.path,
        b.query,
    )


def shown_url(url: str) -> str:
    """A URL safe to show and log: without a user name or password, invisible characters
    escaped (a student's own remote may carry a token)."""
    parts = urlsplit(url)
    if "@" in parts.netloc:
        parts = parts._replace(netloc=parts.netloc.rsplit("@", 1)[1])
    return printable(parts.geturl(), 200)
