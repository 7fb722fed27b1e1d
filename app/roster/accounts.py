"""System accounts, which no student may be named after, and reading them from this machine.

On a single-machine Hub (LocalProcessSpawner, SystemdSpawner, TLJH) a student's server runs as
the system user of the same name: a roster row `games@school.edu` would give a student a server
running as uid 5 with its files, `root@school.edu` one running as uid 0. So a name is refused
when it is a system account of this machine (read by `this_machine()`, the one function here
that does I/O) or on the built-in list, which covers hubs whose homes live on another machine
than Hubclass (an external service, a container).

Everything but `this_machine()` is pure: tests pass their own passwd and login.defs text.
"""

from __future__ import annotations

import pwd
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

LOGIN_DEFS = Path("/etc/login.defs")
# shadow's own defaults when /etc/login.defs or the key is missing.
DEFAULT_UID_MIN = 1000
DEFAULT_UID_MAX = 60000
# Above this, uids belong to directory services (AD/LDAP through sssd or winbind give real
# people uids such as 1,234,567): only the 16-bit range above UID_MAX is the system's own
# (nobody 65534, systemd's dynamic users 61184-65519).
LEGACY_UID_LIMIT = 65535
# (uid_t)-2 and -1: nfsnobody on old systems, and "no uid".
OVERFLOW_UIDS = frozenset({2**32 - 2, 2**32 - 1})

_SYSTEM = (
    "a system account of Debian, Ubuntu or RHEL: on a single-machine Hub a student's server "
    "would run as it"
)
_CLOUD = (
    "the sudo-capable default account of cloud images: on a single-machine Hub a student's "
    "server would run as it"
)
_GROUP = "a privileged system group: an account of that name would be taken for its members"

# Refused even when this machine has no such account. The base systems of Debian/Ubuntu
# (base-passwd, then the packages of a server install) and of RHEL/Fedora (setup, then the same),
# and services a Hub machine often runs:
_SYSTEM_NAMES = (
    "root", "daemon", "bin", "sys", "sync", "games", "man", "lp", "mail", "news", "uucp", "proxy",
    "www-data", "backup", "list", "irc", "gnats", "nobody", "_apt", "messagebus", "polkitd",
    "sshd", "syslog", "uuidd", "tcpdump", "tss", "landscape", "pollinate", "usbmux", "lxd",
    "dnsmasq", "fwupd-refresh", "_rpc", "statd", "_chrony", "avahi", "colord", "rtkit", "saned",
    "pulse", "gdm", "whoopsie", "kernoops", "geoclue", "dhcpcd", "ntp", "adm", "shutdown", "halt",
    "operator", "ftp", "dbus", "nfsnobody", "chrony", "rpc", "rpcuser", "unbound", "sssd",
    "libstoragemgmt", "setroubleshoot", "cockpit-ws", "cockpit-wsinstance", "clevis", "rngd",
    "pipewire", "apache", "postgres", "mysql", "redis", "nginx", "docker",
)  # fmt: skip
# The default users of cloud images: uid 1000, so the uid rule cannot see them, and they sudo.
_CLOUD_NAMES = (
    "ubuntu", "debian", "admin", "ec2-user", "centos", "fedora", "cloud-user", "rocky",
    "almalinux", "opc", "azureuser",
)  # fmt: skip
_GROUP_NAMES = ("wheel", "sudo", "shadow", "staff", "nogroup")
BUILTIN: Mapping[str, str] = {
    **dict.fromkeys(_SYSTEM_NAMES, _SYSTEM),
    **dict.fromkeys(_CLOUD_NAMES, _CLOUD),
    **dict.fromkeys(_GROUP_NAMES, _GROUP),
}
# systemd-network, systemd-resolve, systemd-timesync, systemd-coredump, systemd-oom, ...
BUILTIN_PREFIXES = ("systemd-",)


@dataclass(frozen=True)
class SystemAccounts:
    """The system accounts of one machine (name -> uid) on top of the built-in list."""

    uids: Mapping[str, int] = field(default_factory=dict)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (
            name in self.uids or name in BUILTIN or name.startswith(BUILTIN_PREFIXES)
        )

    def reason(self, name: str) -> str | None:
        """Say why `name` cannot be a student's username, or None when it can."""
        uid = self.uids.get(name)
        if uid is not None:
            return (
                f"{name!r} is a system account of this machine (uid {uid}): a student's server "
                "would run as it"
            )
        why = BUILTIN.get(name)
        if why is None and name.startswith(BUILTIN_PREFIXES):
            why = _SYSTEM
        return f"{name!r} is {why}" if why else None


# The built-in list alone: what pure code uses when the caller gives no machine.
BUILTIN_ONLY = SystemAccounts()

_KEY = re.compile(r"^\s*(UID_MIN|UID_MAX)\s+(\S+)", re.MULTILINE)


def _number(text: str) -> int | None:
    """Read a login.defs number as shadow does (strtoul base 0: 0x.. hex, 0.. octal)."""
    try:
        if text.lower().startswith("0x"):
            return int(text[2:], 16)
        if len(text) > 1 and text.startswith("0"):
            return int(text[1:], 8)
        return int(text, 10)
    except ValueError:
        return None


def uid_range(login_defs: str | None) -> tuple[int, int]:
    """Return (UID_MIN, UID_MAX) of a login.defs text; a missing file or key gets the default."""
    found = {key: _number(value) for key, value in _KEY.findall(login_defs or "")}
    uid_min = found.get("UID_MIN")
    uid_max = found.get("UID_MAX")
    return (
        DEFAULT_UID_MIN if uid_min is None else uid_min,
        DEFAULT_UID_MAX if uid_max is None else uid_max,
    )


def is_system_uid(uid: int, uid_min: int, uid_max: int) -> bool:
    """Tell whether useradd would never give this uid to a person: below UID_MIN, in the
    16-bit range above UID_MAX (nobody), or an overflow uid. Directory uids stay people."""
    return uid < uid_min or uid_max < uid <= LEGACY_UID_LIMIT or uid in OVERFLOW_UIDS


def parse_passwd(text: str) -> list[tuple[str, int]]:
    """Return (name, uid) of each entry of an /etc/passwd text, skipping malformed lines."""
    entries = []
    for line in text.splitlines():
        fields = line.split(":")
        if len(fields) >= 3 and fields[0] and fields[2].isdigit():
            entries.append((fields[0], int(fields[2])))
    return entries


def system_accounts(passwd: Iterable[tuple[str, int]], login_defs: str | None) -> SystemAccounts:
    """Pick the system accounts out of (name, uid) entries, with the boundary of login.defs."""
    uid_min, uid_max = uid_range(login_defs)
    return SystemAccounts(
        {name: uid for name, uid in passwd if is_system_uid(uid, uid_min, uid_max)}
    )


def _read_login_defs(login_defs: Path) -> str | None:
    try:
        return login_defs.read_text(errors="replace")
    except OSError:
        return None


def this_machine(login_defs: Path = LOGIN_DEFS) -> SystemAccounts:
    """Read this machine's accounts (NSS, so also LDAP ones if it enumerates) and login.defs."""
    passwd = ((p.pw_name, p.pw_uid) for p in pwd.getpwall())
    return system_accounts(passwd, _read_login_defs(login_defs))


def account_reason(name: str, uid: int, login_defs: Path = LOGIN_DEFS) -> str | None:
    """Why the one account `name` (uid `uid`) is a system account by the same rule, or None.

    For a delivery, which knows the account: no enumeration of every account (a directory
    service may hold thousands).
    """
    return system_accounts([(name, uid)], _read_login_defs(login_defs)).reason(name)
