"""Students' homes on this machine: where each one is, and whether Hubclass may write into it.

A home is used only when it is a real folder (not a symlink) owned by the uid of the student's
own system account: a link from one home to another, or a home that belongs to someone else,
must never make Hubclass write as another person. The check opens the home itself with
O_NOFOLLOW and looks at what it opened (fstat), and the engine then runs as exactly that uid
(`sync(owner=...)` refuses a home whose owner changed in between), so a swap after the check
gains nothing.

Some accounts get nothing even in a home of their own: a system account (by the roster's rule),
and an account in a privileged group, since whatever a course repository holds could then run
with power over the machine. A home others can write into is refused too: another account could
plant a .git there whose filters or merge drivers would run as the student during the sync.
"""

from __future__ import annotations

import errno
import grp
import hashlib
import os
import pwd
import stat
from dataclasses import dataclass
from pathlib import Path

from app.config import TLJH_PRESET
from app.roster.accounts import account_reason

TLJH_HOMES = Path("/home")
TLJH_PREFIX = "jupyter-"
# TLJH (tljh/normalize.py) keeps a system name shorter than this as it is; a longer one is cut
# to this many characters and gets "-" and 5 hex digits of its sha256, so it stays under 32.
TLJH_NAME_LIMIT = 26
WAITING_FOR_LOGIN = "waiting for first login"
# Groups whose members can become root, or do as much: read or write what root does. A delivery
# into such an account's home lets course content run with that power.
PRIVILEGED_GROUPS = frozenset(
    {
        "root",  # gid 0: group-writable system files
        "sudo",  # Debian and Ubuntu's sudoers
        "wheel",  # RHEL and Fedora's sudoers
        "admin",  # old Ubuntu's sudoers
        "jupyterhub-admins",  # TLJH's Hub admins: passwordless sudo
        "adm",  # reads every log (tokens and passwords end up there); Ubuntu's first user
        "systemd-journal",  # reads the whole journal, like adm
        "docker",  # `docker run -v /:/host` is root
        "lxd",  # likewise with a privileged container
        "incus-admin",  # LXD's successor
        "libvirt",  # a VM given the host's disks
        "disk",  # writes the raw disks
        "kmem",  # reads kernel memory
        "shadow",  # reads the password hashes
        # Debian's staff writes /usr/local, which comes before /usr on root's PATH.
        "staff",
    }
)


def can_become_students() -> bool:
    """Only root can become each student, and write into their home as them."""
    return os.geteuid() == 0


def tljh_account(username: str) -> str:
    """The system account TLJH makes for a Hub user at their first login."""
    name = TLJH_PREFIX + username
    if len(name) < TLJH_NAME_LIMIT:
        return name
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()
    return f"{name[:TLJH_NAME_LIMIT]}-{digest[:5]}"


def account_name(username: str, template: str) -> str:
    """The system account a Hub user's server runs as (and whose home it is)."""
    return tljh_account(username) if template == TLJH_PRESET else username


def home_path(username: str, template: str) -> Path:
    """Where the Hub user's home is, by the template (`HUBCLASS_HOME_TEMPLATE`)."""
    if template == TLJH_PRESET:
        return TLJH_HOMES / tljh_account(username)
    return Path(template.format(username=username))


@dataclass(frozen=True)
class Home:
    """A home checked fit for a delivery: a folder owned by the student's account."""

    path: Path
    account: str
    uid: int


@dataclass(frozen=True)
class NoHome:
    """Why a home cannot be written into (yet)."""

    code: str
    message: str

    @property
    def waiting(self) -> bool:
        """The home will come by itself (at the student's first login): wait for it."""
        return self.code in ("no_account", "no_home")


def _plain(name: str) -> bool:
    return bool(name) and "/" not in name and "\0" not in name and not name.startswith(".")


def open_home(username: str, template: str) -> Home | NoHome:
    """Check the student's home: their account exists and owns the real folder at its path."""
    account = account_name(username, template)
    if not _plain(username) or not _plain(account):
        return NoHome("name_invalid", f"{username!r} cannot name a home folder.")
    try:
        entry = pwd.getpwnam(account)
    except KeyError:
        # TLJH and many hubs create the account at the first login: it is not there yet.
        return NoHome("no_account", WAITING_FOR_LOGIN)
    uid = entry.pw_uid
    if uid == 0:
        return NoHome(
            "root_account", f"The account {account!r} is root's: nobody writes as root in a home."
        )
    refused = _privileged(account, uid, entry.pw_gid)
    if refused:
        return refused
    path = home_path(username, template)
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return NoHome("no_home", WAITING_FOR_LOGIN)  # the Hub makes homes at the first spawn
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR) and os.path.islink(path):
            return NoHome(
                "home_symlink",
                f"The home {str(path)!r} is a symbolic link: Hubclass writes only into a real "
                "folder.",
            )
        if exc.errno == errno.ENOTDIR:
            return NoHome("home_not_folder", f"The home {str(path)!r} is not a folder.")
        return NoHome(
            "home_unreadable", f"The home {str(path)!r} cannot be opened ({exc.strerror})."
        )
    try:
        info = os.fstat(fd)
    finally:
        os.close(fd)
    if not stat.S_ISDIR(info.st_mode):
        return NoHome("home_not_folder", f"The home {str(path)!r} is not a folder.")
    if info.st_uid != uid:
        return NoHome(
            "home_wrong_owner",
            f"The home {str(path)!r} belongs to uid {info.st_uid}, not to {account!r} (uid "
            f"{uid}): Hubclass writes into a home only as its own student.",
        )
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o022:
        return NoHome(
            "home_writable",
            f"The home {str(path)!r} can be written into by other accounts (mode {mode:04o}): "
            "one could plant a .git there whose filters would run as the student during the "
            f"delivery. Its owner or the administrator fixes it with: chmod go-w {path}",
        )
    return Home(path=path, account=account, uid=uid)


def _privileged(account: str, uid: int, gid: int) -> NoHome | None:
    """Refuse a system account (by the roster's rule) or one in a privileged group."""
    reason = account_reason(account, uid)
    if reason:
        return NoHome(
            "system_account",
            f"The account {account!r} gets no deliveries: {reason}. Hubclass writes only "
            "into students' own accounts.",
        )
    for member_of in os.getgrouplist(account, gid):
        try:
            group = "root" if member_of == 0 else grp.getgrgid(member_of).gr_name
        except KeyError:  # a gid with no name cannot be one of the named groups
            continue
        if group in PRIVILEGED_GROUPS:
            return NoHome(
                "privileged_group",
                f"The account {account!r} gets no deliveries: {account!r} is in the group "
                f"{group!r}, a privileged group (it can become root, or read or write what only "
                "root should), so what a course delivers could run with that power. Deliver "
                "only to student accounts outside such groups.",
            )
    return None
