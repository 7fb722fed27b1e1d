"""Real system accounts for the demo's students, and the Hub spawner that starts their servers
as those accounts in homes it makes at the first start, as a real single-machine Hub does.

Hubclass writes into a home only when the student's own account owns it, so the demo can show
a distribution arriving only with real accounts (which needs root). The accounts are named as
The Littlest JupyterHub names them (`jupyter-ada`), each marked with DEMO_MARK in its comment
field: the demo reuses an account only if it carries the mark, so it never takes over, nor
removes, an account of a real person on a developer's machine.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from pathlib import Path

from jupyterhub.spawner import LocalProcessSpawner, set_user_setuid
from traitlets import Unicode

from app.delivery.homes import account_name, home_path

DEMO_MARK = "Hubclass demo student"
# Hubclass's own preset: TLJH's account names and homes (/home/jupyter-<name>).
DEMO_HOME_TEMPLATE = "tljh"


def ours(account: str) -> bool:
    """The account exists and the demo made it."""
    try:
        return pwd.getpwnam(account).pw_gecos == DEMO_MARK
    except KeyError:
        return False


def ensure_accounts(usernames: list[str], template: str = DEMO_HOME_TEMPLATE) -> list[str]:
    """Make (or reuse) a marked account for each Hub user, with no home yet; return the names of
    the Hub users whose account name belongs to someone else (they get none)."""
    taken = []
    for username in usernames:
        account = account_name(username, template)
        if ours(account):
            continue
        try:
            pwd.getpwnam(account)
        except KeyError:
            home = str(home_path(username, template))
            options = [
                "--no-create-home",
                "--home-dir",
                home,
                "--user-group",
                "--shell",
                "/bin/bash",
            ]
            subprocess.run(["useradd", *options, "--comment", DEMO_MARK, account], check=True)
        else:
            taken.append(username)
    return taken


def remove_accounts(usernames: list[str], template: str = DEMO_HOME_TEMPLATE) -> list[str]:
    """Remove the demo's accounts and their homes (only marked ones); return those removed."""
    removed = []
    for username in usernames:
        account = account_name(username, template)
        if not ours(account):
            continue
        home = Path(pwd.getpwnam(account).pw_dir)
        subprocess.run(["userdel", account], check=True)
        shutil.rmtree(home, ignore_errors=True)
        removed.append(account)
    return removed


class StudentAccountSpawner(LocalProcessSpawner):
    """Start each Hub user's server as their system account, in their home, making the home
    (owned by the account, 0750) at the first start: what useradd -m or TLJH does."""

    home_template = Unicode(
        DEMO_HOME_TEMPLATE, config=True, help="as HUBCLASS_HOME_TEMPLATE: where homes are"
    )
    required_mark = Unicode(
        "", config=True, help="start only accounts whose comment field is this (the demo's)"
    )

    def _account(self) -> pwd.struct_passwd:
        name = account_name(self.user.name, self.home_template)
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            raise RuntimeError(f"{self.user.name!r} has no system account {name!r}.") from None
        if self.required_mark and entry.pw_gecos != self.required_mark:
            raise RuntimeError(f"The account {name!r} is not one the demo made: not started.")
        return entry

    def _home(self) -> Path:
        return home_path(self.user.name, self.home_template)

    def make_preexec_fn(self, name):
        entry, home = self._account(), str(self._home())
        become = set_user_setuid(entry.pw_name, chdir=False)

        def preexec() -> None:
            become()
            os.chdir(home)

        return preexec

    def user_env(self, env):
        entry = self._account()
        env.update(USER=entry.pw_name, HOME=str(self._home()), SHELL=entry.pw_shell)
        return env

    async def start(self):
        entry, home = self._account(), self._home()
        if not home.exists():
            home.mkdir(mode=0o750)
            os.chown(home, entry.pw_uid, entry.pw_gid)
        return await super().start()
