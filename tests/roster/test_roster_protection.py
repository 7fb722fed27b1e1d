"""The protection rule judges the Hub's own user objects: the roles their groups grant, and
whether an account is still the one Hubclass created."""

from __future__ import annotations

from datetime import datetime

from app.hub import HubUser
from app.roster.apply import still_ours
from app.roster.protection import Safeguards, account_kept, never_removed, with_group_roles

GUARDS = Safeguards(own_groups=frozenset({"course-cs101"}), created_here=frozenset({"zed"}))


def test_a_role_granted_by_a_group_protects_the_user_like_their_own_role():
    user = HubUser(name="zed", groups=("course-cs101", "helpers"), roles=("user",))

    judged = with_group_roles(user, {"helpers": ["user-admins"], "course-cs101": []})

    assert judged.roles == ("user", "user-admins")
    assert user.roles == ("user",)  # the Hub's user object itself is left as the Hub said
    assert never_removed("zed", judged, GUARDS) == (
        "holds the Hub role 'user-admins' (a role may grant admin rights)"
    )


def test_a_hub_user_of_this_course_only_may_be_removed_and_deleted():
    user = with_group_roles(HubUser(name="zed", groups=("course-cs101",), roles=("user",)), {})

    assert never_removed("zed", user, GUARDS) is None
    assert account_kept("zed", user, GUARDS) is None


def test_an_account_is_ours_only_while_the_hubs_created_text_is_exactly_the_recorded_one():
    recorded = datetime(2026, 11, 26, 12, 0, 0)
    user = HubUser.from_model({"name": "zed", "created": "2026-11-26T09:00:00.123456Z"})

    assert still_ours(user, "2026-11-26T09:00:00.123456Z", recorded)
    assert not still_ours(user, "2026-11-26T09:00:00.123456+00:00", recorded)  # same time
    # Recorded from history, with no Hub time: ours when made no later than the record.
    assert still_ours(user, None, recorded)
    assert not still_ours(user, None, datetime(2026, 11, 26, 8, 0, 0))
    assert not still_ours(HubUser(name="zed", created=None), None, recorded)
