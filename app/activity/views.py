"""The course dashboard: who logged in, who is active now, whose server runs; the lab view for
the projector and the CSV export."""

from flask import Blueprint, Response, render_template, request

from app import courses
from app.auth import current_instructor
from app.courses.current import managed_course
from app.courses.forms import CourseStaffForm
from app.timeutil import utcnow

from . import poller
from . import students as dashboard

bp = Blueprint("activity", __name__, template_folder="templates")


@bp.get("/courses/<slug>", strict_slashes=False)
def course_detail(slug: str):
    """The course dashboard: who logged in, who is active, whose server runs."""
    course = managed_course(slug)
    now = utcnow()
    everyone = dashboard.students(course, now)
    args = request.args
    show = dashboard.shown(args.get("show"))
    rows = dashboard.select_rows(
        everyone,
        show=show,
        section=args.get("section", ""),
        search=args.get("q", "").strip(),
        sort=args.get("sort", "name"),
        descending=args.get("desc") == "1",
    )
    return render_template(
        "activity/course.html",
        course=course,
        rows=rows,
        counts=dashboard.counts(everyone),
        sections=dashboard.sections(everyone),
        never_emails=[r.email for r in everyone if not r.logged_in and r.email],
        never_without_email=[r.username for r in everyone if not r.logged_in and not r.email],
        chart=dashboard.activity_chart(course, args.get("range", "today"), now),
        last_poll=poller.latest_poll(),
        now=now,
        ago=dashboard.ago,
        show=show,
        show_labels=dashboard.SHOW_LABELS,
        args=args,
        staff_form=CourseStaffForm(
            instructor_groups=", ".join(course.instructor_groups or ()),
            staff_users=", ".join(course.staff_users or ()),
        ),
        may_change_staff=courses.can_change_staff(course, current_instructor()),
    )


@bp.get("/courses/<slug>/lab")
def lab_view(slug: str):
    """A page for the projector during a class session; it reloads itself."""
    course = managed_course(slug)
    now = utcnow()
    everyone = dashboard.students(course, now)
    return render_template(
        "activity/lab.html",
        course=course,
        counts=dashboard.counts(everyone),
        active=[r for r in everyone if r.active_now],
        never=[r for r in everyone if not r.logged_in],
        now=now,
    )


@bp.get("/courses/<slug>/students.csv")
def students_csv(slug: str):
    course = managed_course(slug)
    body = dashboard.export_csv(dashboard.students(course))
    return Response(
        body,
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{course.slug}-students.csv"',
        },
    )
