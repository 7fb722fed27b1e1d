"""HubUser, Server, HubGroup and Identity read from the JSON models JupyterHub 5 and 6 send."""

from __future__ import annotations

from datetime import datetime

from app.hub import HubGroup, HubUser, Identity, Server, parse_time, roles_by_group

CREATED = "2026-11-26T09:00:00.123456Z"


def user_model(**fields: object) -> dict:
    """A user model as Hub 6 sends it to a token with read:users and read:servers."""
    return {
        "kind": "user",
        "name": "ann",
        "admin": False,
        "roles": ["user"],
        "groups": ["course-cs101"],
        "server": None,
        "pending": None,
        "created": CREATED,
        "last_activity": "2026-11-26T10:00:00.000000Z",
        "auth_state": None,
        "servers": {},
        **fields,
    }


def server_model(name: str = "", **fields: object) -> dict:
    """A server model as Hub 6 sends it inside a user's `servers`."""
    return {
        "name": name,
        "display_name": name,
        "full_name": f"ann/{name}",
        "last_activity": "2026-11-26T10:05:00.000000Z",
        "started": "2026-11-26T10:04:55.500000Z",
        "pending": None,
        "ready": True,
        "stopped": False,
        "url": f"/user/ann/{name}",
        "user_options": {},
        "progress_url": f"/hub/api/users/ann/servers/{name}/progress",
        "full_url": None,
        "full_progress_url": None,
        **fields,
    }


def test_a_user_made_through_the_api_has_no_servers_and_no_activity_yet():
    user = HubUser.from_model(user_model(last_activity=None))

    assert user == HubUser(
        name="ann",
        admin=False,
        groups=("course-cs101",),
        roles=("user",),
        created=CREATED,
        last_activity=None,
        server_url=None,
        pending=None,
        servers={},
    )
    assert (user.server_state, user.server_ready, user.server_started) == ("stopped", False, None)
    assert user.default_server is None


def test_times_become_naive_utc_datetimes_and_created_keeps_the_hubs_exact_text():
    user = HubUser.from_model(user_model(created="2026-11-26T11:00:00+02:00"))

    assert user.last_activity == datetime(2026, 11, 26, 10, 0, 0)
    assert user.created == "2026-11-26T11:00:00+02:00"  # compared as stored, never rewritten
    assert user.created_at == datetime(2026, 11, 26, 9, 0, 0)


def test_a_running_default_server_is_running_and_ready_with_its_url_and_start_time():
    model = user_model(server="/user/ann/", servers={"": server_model()})

    user = HubUser.from_model(model)

    assert user.default_server == Server(
        name="",
        url="/user/ann/",
        ready=True,
        pending=None,
        started=datetime(2026, 11, 26, 10, 4, 55, 500000),
        last_activity=datetime(2026, 11, 26, 10, 5, 0),
    )
    assert (user.server_state, user.server_ready) == ("running", True)
    assert user.server_started == datetime(2026, 11, 26, 10, 4, 55, 500000)


def test_a_named_server_is_listed_by_name_and_leaves_the_default_server_stopped():
    model = user_model(servers={"gpu": server_model("gpu")})

    user = HubUser.from_model(model)

    assert list(user.servers) == ["gpu"]
    assert user.servers["gpu"].name == "gpu"
    assert user.servers["gpu"].url == "/user/ann/gpu"
    assert user.servers["gpu"].state == "running"
    assert (user.server_state, user.server_ready, user.server_started) == ("stopped", False, None)


def test_a_spawn_in_progress_is_pending_and_not_ready():
    spawning = server_model(ready=False, pending="spawn", last_activity=None)
    model = user_model(pending="spawn", servers={"": spawning})

    user = HubUser.from_model(model)

    assert user.pending == "spawn"
    assert user.default_server is not None
    assert user.default_server.pending == "spawn"
    assert user.default_server.last_activity is None
    assert (user.server_state, user.server_ready) == ("pending", False)
    assert user.server_started == datetime(2026, 11, 26, 10, 4, 55, 500000)


def test_a_server_the_hub_is_stopping_is_pending_until_it_is_gone():
    stopping = server_model(ready=False, pending="stop")

    assert HubUser.from_model(user_model(servers={"": stopping})).server_state == "pending"
    assert HubUser.from_model(user_model(pending="stop")).server_state == "pending"


def test_a_server_url_without_the_servers_scope_counts_as_running():
    model = user_model(server="/user/ann/")
    del model["servers"]  # a token without read:servers gets no `servers`

    user = HubUser.from_model(model)

    assert user.servers == {}
    assert (user.server_state, user.server_ready, user.server_started) == ("running", True, None)


def test_missing_roles_groups_and_times_read_as_empty_or_unknown():
    user = HubUser.from_model({"kind": "user", "name": "bob", "admin": None, "groups": None})

    assert (user.roles, user.groups, user.admin) == ((), (), False)
    assert (user.created, user.created_at, user.last_activity) == (None, None, None)
    assert user.server_state == "stopped"


def test_a_time_that_is_not_iso_8601_is_unknown_instead_of_failing_the_listing():
    user = HubUser.from_model(user_model(last_activity="yesterday", created="long ago"))

    assert user.last_activity is None
    assert user.created == "long ago"
    assert user.created_at is None


def test_hub_timestamps_with_z_or_an_offset_become_naive_utc():
    assert parse_time("2026-11-26T10:00:00.123Z") == datetime(2026, 11, 26, 10, 0, 0, 123000)
    assert parse_time("2026-11-26T12:00:00+02:00") == datetime(2026, 11, 26, 10, 0, 0)
    assert parse_time(None) is None
    assert parse_time("") is None


def test_a_group_model_gives_its_members_and_the_roles_it_grants():
    groups = [
        HubGroup.from_model({"kind": "group", "name": "tas", "users": ["ann"], "roles": ["ta"]}),
        HubGroup.from_model({"kind": "group", "name": "course-cs101", "users": None}),
    ]

    assert groups[0] == HubGroup(name="tas", users=("ann",), roles=("ta",))
    assert groups[1] == HubGroup(name="course-cs101", users=(), roles=())
    assert roles_by_group(groups) == {"tas": ("ta",), "course-cs101": ()}


def test_the_owner_of_a_token_is_a_user_or_a_service_with_the_tokens_scopes():
    service = Identity.from_model(
        {"kind": "service", "name": "hubclass", "admin": False, "roles": [], "scopes": ["a", "b"]}
    )
    user = Identity.from_model({"name": "ann", "groups": ["instructors"], "session_id": "x"})

    assert service == Identity("hubclass", "service", False, (), ("a", "b"))
    assert user == Identity("ann", "user", False, ("instructors",), ())
