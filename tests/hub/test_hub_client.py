"""HubClient against the real Hub, with the service's own token and scopes."""

from __future__ import annotations

import secrets
import time

import pytest

from app.config import REQUIRED_SCOPES
from app.hub import HubClient, HubError
from tests.conftest import HUB_VERSION
from tests.faultyhub import FaultyHub
from tests.hubusers import ensure_users, hub_has, remove_users, user_token

pytestmark = pytest.mark.hub

NO_SLEEP = lambda seconds: None  # noqa: E731 - retries without waiting in tests


def service_client(hub, **kwargs) -> HubClient:
    return HubClient(hub.api_url, hub.service_token, sleep=NO_SLEEP, **kwargs)


def test_version_and_the_service_token_has_its_scopes(hub):
    client = service_client(hub)
    assert client.check_version() == HUB_VERSION
    me = client.whoami()
    assert me.kind == "service"
    assert me.name == "hubclass"
    assert set(REQUIRED_SCOPES) <= set(me.scopes)


def test_listing_returns_all_450_users_across_pages(hub, hub_users_made):
    names = [f"pager{i:03d}" for i in range(450)]
    hub_users_made.extend(names)
    ensure_users(hub, names)
    client = service_client(hub)
    before = client.requests_sent
    listed = [u.name for u in client.list_users(name_filter="pager")]
    assert sorted(listed) == names
    assert client.requests_sent - before == 3  # 200 + 200 + 50: pages, not one truncated list


def test_create_users_in_chunks_returns_only_the_new_ones(hub, hub_users_made):
    client = service_client(hub)
    names = [f"chunk{i:02d}" for i in range(25)]
    hub_users_made.extend(names)
    created = client.create_users(names[:10], chunk=4)
    assert sorted(u.name for u in created) == names[:10]
    created = client.create_users(names, chunk=4)
    assert sorted(u.name for u in created) == names[10:]
    assert client.create_users(names, chunk=4) == []  # all exist: 409s, no error


def test_one_invalid_name_fails_the_chunk_with_the_hubs_reason(hub):
    client = service_client(hub)
    with pytest.raises(HubError) as caught:
        client.create_users(["good-one", "bad/name"])
    assert caught.value.code == "rejected"
    assert "Invalid username: bad/name" in caught.value.message
    assert client.get_user("good-one") is None  # nothing of that batch was created


def test_groups_members_and_deletion(hub):
    client = service_client(hub)
    client.create_users(["grp-a", "grp-b"])
    assert client.ensure_group("course-client-test") is True
    assert client.ensure_group("course-client-test") is False
    client.add_group_members("course-client-test", ["grp-a", "grp-b"])
    client.add_group_members("course-client-test", ["grp-a"])  # already in: no error
    assert sorted(client.get_group("course-client-test").users) == ["grp-a", "grp-b"]
    client.remove_group_members("course-client-test", ["grp-b"])
    assert client.get_group("course-client-test").users == ("grp-a",)
    assert client.get_user("grp-b") is not None  # left the group, still a Hub user
    assert client.delete_user("grp-b") is True
    assert client.delete_user("grp-b") is False
    assert client.get_group("no-such-group") is None


def test_start_and_stop_a_server(hub):
    client = service_client(hub)
    client.create_users(["runner1"])
    client.start_server("runner1")
    client.start_server("runner1")  # already running: not an error
    running = client.get_user("runner1")
    assert running.server_url == running.servers[""].url == "/user/runner1/"
    assert (running.server_state, running.server_ready) == ("running", True)
    assert running.server_started is not None
    client.stop_server("runner1")
    assert client.get_user("runner1").server_url is None


def test_a_missing_scope_is_named_in_the_error(hub):
    ensure_users(hub, ["plainuser"])
    client = HubClient(hub.api_url, user_token(hub, "plainuser"), sleep=NO_SLEEP)
    with pytest.raises(HubError) as caught:
        client.create_users(["should-not-exist"])
    assert caught.value.code == "forbidden"
    assert "admin:users" in caught.value.message
    assert "service's role" in caught.value.message


def test_unreachable_hub_says_what_to_check():
    client = HubClient("http://127.0.0.1:9/hub/api", "x", sleep=NO_SLEEP, retries=1)
    with pytest.raises(HubError) as caught:
        client.version()
    assert caught.value.code == "unreachable"
    assert "JUPYTERHUB_API_URL" in caught.value.message


def test_429_is_retried_after_the_time_the_hub_asks(hub):
    waits = []

    def rule(n, method, path):
        if n == 1:
            return 429, {"Retry-After": "3"}, b'{"message": "slow down"}'
        return None

    with FaultyHub(hub.api_url, rule) as faulty:
        client = HubClient(faulty.url, hub.service_token, sleep=waits.append)
        assert client.version() == HUB_VERSION
    assert waits == [3.0]
    assert len(faulty.calls) == 2


def test_a_hub_still_answering_429_after_the_retries_is_busy_not_a_refusal(hub):
    """Said "rate_limited", which deliveries take for a Hub to wait for, never for a refusal
    to fix in the roles (tests/delivery/test_faults_hub.py, 429 on the token)."""
    busy = lambda n, m, p: (429, {"Retry-After": "1"}, b'{"message": "slow down"}')  # noqa: E731
    with FaultyHub(hub.api_url, busy) as faulty:
        client = HubClient(faulty.url, hub.service_token, sleep=NO_SLEEP, retries=2)
        with pytest.raises(HubError) as caught:
            client.create_token(
                "hubclass-delivery", ["access:servers!user=x"], expires_in=60, note="x"
            )
    assert (caught.value.code, caught.value.status) == ("rate_limited", 429)
    assert "asked Hubclass to wait (429)" in caught.value.message
    assert len(faulty.calls) == 3  # a 429 says the Hub did not act: a create is asked again


@pytest.mark.parametrize("status", [502, 503, 504])
def test_idempotent_calls_are_retried_on_gateway_errors(hub, status):
    def rule(n, method, path):
        return (status, {}, b"{}") if n <= 2 else None

    with FaultyHub(hub.api_url, rule) as faulty:
        client = HubClient(faulty.url, hub.service_token, sleep=NO_SLEEP)
        assert client.get_user("instructor").name == "instructor"
    assert len(faulty.calls) == 3


def test_a_create_is_not_repeated_after_an_ambiguous_502(hub):
    def rule(n, method, path):
        return (502, {}, b"{}") if method == "POST" else None

    with FaultyHub(hub.api_url, rule) as faulty:
        client = HubClient(faulty.url, hub.service_token, sleep=NO_SLEEP)
        with pytest.raises(HubError) as caught:
            client.create_users(["ambiguous1"])
    assert caught.value.code == "hub_error"
    assert [m for m, _ in faulty.calls] == ["POST"]  # one attempt only


def test_a_hub_slower_than_the_timeout_is_asked_again_for_a_read_never_for_a_create(hub):
    """SECURITY.md fault 1, a slow Hub: each call gives up after the client's timeout. A read
    is asked again; a create is not, since the slow one may still reach the Hub (it does)."""
    name = f"slow{secrets.token_hex(3)}"
    slowed = set()

    def rule(n, method, path):
        if method not in slowed:  # the first GET and the first POST: answered too late
            slowed.add(method)
            time.sleep(1.5)
        return None

    try:
        with FaultyHub(hub.api_url, rule) as faulty:
            client = HubClient(faulty.url, hub.service_token, sleep=NO_SLEEP, timeout=0.5)
            started = time.monotonic()
            assert client.get_user("instructor").name == "instructor"
            with pytest.raises(HubError) as caught:
                client.create_users([name])
            assert time.monotonic() - started < 3
        assert caught.value.code == "timeout"
        assert "did not answer POST /users in 0.5 s" in caught.value.message
        assert [m for m, _ in faulty.calls] == ["GET", "GET", "POST"]
        deadline = time.monotonic() + 10
        while not hub_has(hub, name):  # the late create arrives: asking again would repeat it
            assert time.monotonic() < deadline, "the slowed create never reached the Hub"
            time.sleep(0.1)
    finally:
        remove_users(hub, [name])


def test_a_reset_connection_on_a_read_is_retried(hub):
    def rule(n, method, path):
        return "reset" if n == 1 else None

    with FaultyHub(hub.api_url, rule) as faulty:
        client = HubClient(faulty.url, hub.service_token, sleep=NO_SLEEP)
        assert [u.name for u in client.list_users(name_filter="instructor")] == ["instructor"]
    assert len(faulty.calls) == 2


def test_retries_are_bounded(hub):
    with FaultyHub(hub.api_url, lambda n, m, p: (503, {}, b"{}")) as faulty:
        client = HubClient(faulty.url, hub.service_token, sleep=NO_SLEEP, retries=3)
        with pytest.raises(HubError) as caught:
            client.version()
    assert caught.value.status == 503
    assert len(faulty.calls) == 4


def test_a_listing_without_pagination_is_refused_not_truncated(hub):
    def rule(n, method, path):
        return 200, {"Content-Type": "application/json"}, b'[{"name": "a"}]'

    with FaultyHub(hub.api_url, rule) as faulty:
        client = HubClient(faulty.url, hub.service_token, sleep=NO_SLEEP)
        with pytest.raises(HubError) as caught:
            list(client.list_users())
    assert caught.value.code == "no_pagination"


def _page(items: list, total: int, following: dict | None) -> tuple[int, dict, bytes]:
    body = {"items": items, "_pagination": {"offset": 0, "limit": 200, "total": total,
                                            "next": following}}  # fmt: skip
    import json

    return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()


def test_a_listing_that_stops_short_of_its_total_is_refused(hub):
    with FaultyHub(hub.api_url, lambda n, m, p: _page([{"name": "a"}], 450, None)) as faulty:
        client = HubClient(faulty.url, hub.service_token, sleep=NO_SLEEP)
        with pytest.raises(HubError) as caught:
            list(client.list_users())
    assert caught.value.code == "incomplete_listing"
    assert "1 of 450" in caught.value.message


def test_a_listing_whose_pages_do_not_advance_is_refused(hub):
    stuck = {"offset": 0, "limit": 200, "url": "x"}
    with FaultyHub(hub.api_url, lambda n, m, p: _page([{"name": "a"}], 450, stuck)) as faulty:
        client = HubClient(faulty.url, hub.service_token, sleep=NO_SLEEP)
        with pytest.raises(HubError) as caught:
            list(client.list_users())
    assert caught.value.code == "bad_pagination"
