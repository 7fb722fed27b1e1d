"""Which ways of delivery a process may use (HUBCLASS_DELIVERY): into students' homes on this
machine, through their running servers, or both, and why not when neither.

- `home`: only into homes; needs a process that can become each student (root).
- `server`: only through nbgitpuller in each student's running server (Kubernetes hubs, where
  Hubclass cannot see the homes); needs the proxy's address.
- `auto`: a root process uses the home when it is there and the running server when it is not;
  a process that is not root uses running servers only (it could write no home).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .homes import can_become_students

# How a delivery reached the student (Delivery.way).
HOME, SERVER = "home", "server"

NEEDS_ROOT = (
    "Deliveries need a `flask --app wsgi worker` running as root: this process is not root, "
    "so it cannot become each student to write into their home, and leaves the deliveries "
    "queued for that worker (see docs/deploy.md)."
)
NO_PROXY = (
    "Deliveries through students' servers need the Hub's proxy address: set HUBCLASS_PROXY_URL "
    "(e.g. http://proxy-public on Zero to JupyterHub) or JUPYTERHUB_PUBLIC_HUB_URL. This "
    "process leaves the deliveries queued."
)

HOMES_USED = (
    "This process is root: it becomes each student to write into their home on this machine "
    "({template})."
)
SERVERS_USED = (
    "Through nbgitpuller in each student's running server{when}, reached through the Hub's "
    "proxy at {proxy} with a token of {account} that reaches only that server (one was made "
    "and revoked just now to check). The students' image needs nbgitpuller: a server without "
    'it gets "nbgitpuller is not installed" on that student\'s row.'
)


@dataclass(frozen=True)
class Ways:
    homes: bool
    servers: bool

    @property
    def any(self) -> bool:
        return self.homes or self.servers


def ways_of(config: Mapping[str, Any]) -> Ways:
    """The ways this process may deliver, from its settings and whether it is root."""
    chosen = config.get("HUBCLASS_DELIVERY") or "auto"
    root = can_become_students()
    proxy = bool(config.get("HUBCLASS_PROXY_URL"))
    if chosen == "home":
        return Ways(homes=root, servers=False)
    if chosen == "server":
        return Ways(homes=False, servers=proxy)
    return Ways(homes=root, servers=proxy)


def why_none(config: Mapping[str, Any]) -> str:
    """Why a process with no way of delivery leaves the deliveries to others."""
    if config.get("HUBCLASS_DELIVERY") == "server":
        return NO_PROXY
    return NEEDS_ROOT


@dataclass(frozen=True)
class Way:
    """One way of delivery as the status page says it: whether this process uses it, why."""

    name: str  # "home" or "server"
    used: bool
    why: str


def described(config: Mapping[str, Any]) -> list[Way]:
    """Both ways for this process, each with the reason it is used or not. The way through
    servers is checked against the Hub (a delivery token made and revoked): call it from a
    request, not at import."""
    from .servers import token_problem  # it needs the Hub client; ways_of does not

    chosen = config.get("HUBCLASS_DELIVERY") or "auto"
    ways = ways_of(config)
    if chosen == "server":
        home = Way(HOME, False, "HUBCLASS_DELIVERY=server: never into homes.")
    elif ways.homes:
        home = Way(HOME, True, HOMES_USED.format(template=config.get("HUBCLASS_HOME_TEMPLATE")))
    else:
        home = Way(HOME, False, NEEDS_ROOT)
    if chosen == "home":
        server = Way(SERVER, False, "HUBCLASS_DELIVERY=home: never through students' servers.")
    elif not ways.servers:
        server = Way(SERVER, False, NO_PROXY)
    else:
        account = str(config.get("HUBCLASS_DELIVERY_ACCOUNT"))
        problem = token_problem(account)
        if problem:
            server = Way(SERVER, False, problem)
        else:
            proxy = config.get("HUBCLASS_PROXY_URL")
            when = " when the student's home is not on this machine" if ways.homes else ""
            server = Way(SERVER, True, SERVERS_USED.format(proxy=proxy, account=account, when=when))
    return [home, server]
