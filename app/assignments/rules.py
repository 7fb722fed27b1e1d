"""What an assignment's settings may be: each rule, its refusal, and the nbgitpuller link.

No request, no session and no query, so the pages, the API, the command line and the delivery
side check with the same functions, and the unit tests need no app. The repository URL's syntax and
allow-list are the git layer's (app.gitsync.validate_repo_url); this module adds what only
Hubclass knows: its own data dir, where the git mirrors live, is never a course repository.
"""

from __future__ import annotations

import os
import re
from typing import ClassVar
from urllib.parse import quote, unquote, urlencode, urlsplit

from app.courses.service import SLUG_PATTERN
from app.errors import HubclassError
from app.gitsync import GitSyncError, validate_repo_url
from app.gitsync.engine import valid_subpath
from app.gitsync.refs import valid_branch

# What a delivery does with a folder it cannot merge into safely (a merge under way, a detached
# HEAD...): leave it for the student ("needs_attention"), or move it aside and clone afresh.
POLICIES = ("needs_attention", "backup")
DEFAULT_POLICY = "needs_attention"
# Shallow by default: students need the files, not the history. "full" clones every commit
# (for courses that teach git); 0 is refused rather than guessed at.
DEFAULT_DEPTH = 1
FULL_DEPTH = "full"
MAX_DEPTH = 1_000_000
MAX_TITLE = 200
# The model's column, and room beside a backup's "_backup_<timestamp>" suffix in 255 bytes.
MAX_TARGET = 100
MAX_SUBPATH = 1000
# Letters, digits, '.', '_' and '-': a folder name no shell, URL or sparse pattern reads as
# anything else, which is also what nbgitpuller's urlpath needs to stay unencoded.
_TARGET_CHARS = re.compile(r"[A-Za-z0-9._-]+")

# Folders that programs give a meaning to in a home: a delivery writes there whatever the course
# repository holds, so an assistant choosing one of these as the target could make the student's
# own account run it (and a Hub admin's is root on TLJH). Refused in any case, since a home on a
# case-insensitive disk (macOS, a Windows or some NFS shares) makes 'Bin' that same folder.
# Dot-folders (.local/bin, .config/autostart, .bashrc...) are refused as hidden already.
_RESERVED_TARGETS = {
    "bin": "~/bin is on the PATH of login shells: Ubuntu's and Debian's ~/.profile put it first, "
    "so a program in it would run in place of a system command in every terminal",
    "sbin": "~/sbin is read as a folder of commands beside ~/bin by shell profiles and tools",
    "lib": "~/lib is where profiles and tools (LD_LIBRARY_PATH, PERL5LIB, R, Lua) look for a "
    "user's own libraries, which load in place of the system's",
    "lib64": "~/lib64 is read like ~/lib, a folder of libraries that load in place of the system's",
    "libexec": "~/libexec holds helper programs that other programs run",
    "snap": "~/snap holds the data and settings of the student's snap applications, which they "
    "run with",
    "Desktop": "~/Desktop is the desktop of a graphical session: a launcher file in it runs its "
    "command when opened",
    "Library": "~/Library holds the settings, launch agents and start-up items of macOS programs",
    "Applications": "~/Applications holds programs the desktop offers to run (macOS and some "
    "Linux desktops)",
    # Equally dangerous, by the same measure: code in them runs without being asked for.
    "node_modules": "Node.js looks for modules in ~/node_modules from every folder of the home, "
    "so a module in it would load into any script the student runs",
    "public_html": "~/public_html is published on the web by Apache's userdir module: its files "
    "would be served, and its scripts run, for anyone",
    "go": "~/go/bin is where `go install` puts commands, and Go's setup puts it on the PATH",
}
_RESERVED_BY_CASE = {name.lower(): name for name in _RESERVED_TARGETS}


class AssignmentError(HubclassError):
    """An assignment could not be added, found or changed; the message says what to fix."""

    title = "Assignment"
    statuses: ClassVar[dict[str, int]] = {
        "not_found": 404,
        "exists": 409,
        "target_taken": 409,
        "not_allowed": 403,
    }


def check_slug(slug: str) -> str:
    """Return the slug if it is one like a course's (it is part of the assignment's URLs)."""
    slug = (slug or "").strip()
    if not SLUG_PATTERN.fullmatch(slug) or "--" in slug:
        raise AssignmentError(
            "invalid_slug",
            f"{slug[:80]!r} cannot be an assignment's short name: use 1-40 lowercase letters, "
            "digits and single hyphens, starting and ending with a letter or digit "
            "(e.g. 'week1' or 'lab-2').",
        )
    return slug


def check_title(title: str, slug: str) -> str:
    title = (title or "").strip() or slug
    if len(title) > MAX_TITLE:
        raise AssignmentError(
            "invalid_title", f"The title is longer than {MAX_TITLE} characters ({len(title)})."
        )
    return title


def check_branch(branch: str | None) -> str | None:
    """Return the branch, or None (empty) for the remote's default branch."""
    branch = (branch or "").strip()
    if not branch:
        return None
    if not valid_branch(branch):
        raise AssignmentError(
            "invalid_branch",
            f"{branch[:80]!r} is not a branch name Hubclass accepts: letters, digits, '.', '_', "
            "'-' and '/' between parts, not starting with '-' or '.', no '..' (e.g. 'main' or "
            "'release/fall'). Leave it empty for the repository's default branch.",
        )
    return branch


def check_subpath(subpath: str | None) -> str | None:
    """Return the sub-folder of the repository to deliver alone, or None for all of it."""
    subpath = (subpath or "").strip().rstrip("/")
    if not subpath:
        return None
    if len(subpath) > MAX_SUBPATH or not valid_subpath(subpath):
        raise AssignmentError(
            "invalid_subpath",
            f"{subpath[:80]!r} is not a sub-folder Hubclass accepts: folder names of letters, "
            "digits, '.', '_' and '-' separated by '/', none starting with '.', no leading '/' "
            "(e.g. 'week1' or 'labs/lab2'). Leave it empty to deliver the whole repository.",
        )
    return subpath


def target_problem(name: str) -> str | None:
    """Why `name` cannot be the folder an assignment lands in, or None when it can.

    One path component of the student's home: never a path, a dot-file (.ssh, .jupyter hold
    the student's keys and settings), '~' or '..' (SECURITY.md, bad input 6).
    """
    if not name:
        return "it is empty"
    if "\x00" in name:
        return "it contains a NUL character"
    if "/" in name or "\\" in name:
        return "it is a path; give one folder name, without '/'"
    if name in (".", ".."):
        return f"{name!r} is not a folder of its own"
    if name.startswith("."):
        return "it starts with '.': such hidden folders hold the students' settings and keys"
    if name.startswith("~"):
        return "'~' means a home folder"
    if name.startswith("-"):
        return "it starts with '-', which commands read as an option"
    if len(name) > MAX_TARGET:
        return f"it is longer than {MAX_TARGET} characters"
    if not _TARGET_CHARS.fullmatch(name):
        return "use letters, digits, '.', '_' and '-' only"
    canonical = _RESERVED_BY_CASE.get(name.lower())
    if canonical:
        reserved = _RESERVED_TARGETS[canonical]
        if name != canonical:
            reserved += (
                f" ({name!r} is that folder on a case-insensitive disk, such as macOS's or a "
                "Windows share)"
            )
        return f"{reserved}; choose another name"
    return None


def check_target(target: str) -> str:
    target = (target or "").strip()
    problem = target_problem(target)
    if problem:
        raise AssignmentError(
            "invalid_target",
            f"{target[:80]!r} cannot be the target folder: {problem} (e.g. 'week1').",
        )
    return target


def repository_name(url: str) -> str:
    """The URL's last path part without '.git': the folder git clone and nbgitpuller make."""
    path = unquote(urlsplit(url).path).rstrip("/")
    return path.rsplit("/", 1)[-1].removesuffix(".git")


def default_target(url: str) -> str:
    """The target folder when none is given: the repository's name, if it is a safe one."""
    name = repository_name(url)
    problem = target_problem(name)
    if problem:
        raise AssignmentError(
            "invalid_target",
            f"The repository's name {name[:80]!r} cannot be the target folder ({problem}): "
            "type a target folder name, e.g. 'week1'.",
        )
    return name


def parse_depth(value: object) -> int | None:
    """Read a depth as typed or sent: a whole number of commits, or 'full' (None) for all.

    Empty (or not given) is the default, 1. JSON may send the number itself.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return DEFAULT_DEPTH
    text = value.strip().lower() if isinstance(value, str) else value
    if text == FULL_DEPTH:
        return None
    if isinstance(text, str) and text.isascii() and text.isdigit() and len(text) <= 10:
        text = int(text)
    if isinstance(text, int) and not isinstance(text, bool) and 1 <= text <= MAX_DEPTH:
        return text
    shown = repr(value[:40]) if isinstance(value, str) else repr(value)[:40]
    raise AssignmentError(
        "invalid_depth",
        f"The depth {shown} is refused: give the number of commits to clone, from 1 to "
        f"{MAX_DEPTH} (1, the default, is the latest only), or '{FULL_DEPTH}' for the whole "
        "history.",
    )


def check_switch(name: str, value: object) -> bool:
    """A yes/no setting: true or false itself (a form's box, a flag, a JSON boolean)."""
    if isinstance(value, bool):
        return value
    raise AssignmentError(
        f"invalid_{name}", f"{name} must be true or false, not {repr(value)[:40]}."
    )


def depth_json(depth: int | None) -> int | str:
    """The depth as the form, the command line and the API spell it: a number or 'full'."""
    return FULL_DEPTH if depth is None else depth


def check_policy(policy: str | None) -> str:
    policy = (policy or "").strip() or DEFAULT_POLICY
    if policy in POLICIES:
        return policy
    raise AssignmentError(
        "invalid_policy",
        f"{policy[:40]!r} is not a policy: 'needs_attention' leaves a folder Hubclass cannot "
        "merge into safely for the student to sort out, 'backup' moves it aside and clones "
        "afresh.",
    )


# -- the repository URL ---------------------------------------------------------------------


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def points_into(url: str, data_dir: str) -> bool:
    """Tell whether a file:// URL reaches into `data_dir` (the database, the git mirrors).

    Compared every way the file system could read it: as written and with symlinks resolved,
    percent-decoded as git decodes it, with repeated or trailing slashes collapsed, and without
    case (a case-insensitive mount would reach the same folder).
    """
    parts = urlsplit(url)
    if parts.scheme.lower() != "file":
        return False
    # "file:////srv" has the path "//srv", which POSIX may read as something else than "/srv".
    path = "/" + unquote(parts.path).lstrip("/")
    places = {os.path.normpath(path)}
    roots = {os.path.normpath(data_dir)}
    try:
        places.add(os.path.realpath(path))
        roots.add(os.path.realpath(data_dir))
    except (OSError, ValueError):
        pass  # an unreadable path: the lexical comparison above still stands
    return any(_under(place.casefold(), root.casefold()) for place in places for root in roots)


def check_repo_url(url: str, allowed_prefixes: list[str], data_dir: str) -> str:
    """Return the URL if the git layer accepts it and it is not Hubclass's own data dir."""
    url = (url or "").strip()
    try:
        validate_repo_url(url, allowed_prefixes)
    except GitSyncError as e:
        raise AssignmentError(e.code, e.message) from None
    if points_into(url, data_dir):
        raise AssignmentError(
            "url_data_dir",
            "The repository URL points into Hubclass's own data folder (HUBCLASS_DATA_DIR), "
            "where it keeps its database and git mirrors: give the course repository's own URL.",
        )
    return url


# -- the nbgitpuller link -------------------------------------------------------------------


def nbgitpuller_link(
    hub_url: str,
    *,
    repo_url: str,
    branch: str | None,
    target: str,
    subpath: str | None,
    depth: int | None,
) -> str:
    """The link a student clicks to pull the assignment with nbgitpuller, as in an LMS.

    `hub_url` is the Hub's pages' URL (ending in 'hub/'). Beyond nbgitpuller's usual repo,
    branch and urlpath, the link names `targetpath` (else nbgitpuller clones into the URL's
    last part, '.git' and all, not the folder Hubclass delivers to) and `depth` (nbgitpuller's
    own default is the whole history). Every value is percent-encoded, '/' and ':' included,
    as nbgitpuller's link generator does.
    """
    params = [("repo", repo_url)]
    if branch:
        params.append(("branch", branch))
    params.append(("urlpath", f"tree/{target}/{subpath or ''}"))
    params.append(("targetpath", target))
    if depth is not None:
        params.append(("depth", str(depth)))
    return f"{hub_url.rstrip('/')}/user-redirect/git-pull?{urlencode(params, quote_via=quote)}"
