"""The instructor's pages: courses and the service status."""

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for

from .. import activity, courses, dashboard, status
from ..auth import current_instructor
from ..extensions import db
from ..forms import CourseStaffForm, NewCourseForm
from ..hubclient import hub_client
from ..timeutil import utcnow

bp = Blueprint("pages", __name__)


def _course_list(form: NewCourseForm, status: int = 200):
    me = current_instructor()
    return render_template(
        "courses.html",
        courses=courses.list_courses(who=me),
        form=form,
        may_create=courses.can_create_courses(me),
    ), status


@bp.get("/")
def course_list():
    return _course_list(NewCourseForm())


@bp.post("/courses")
def course_create():
    form = NewCourseForm()
    if not form.validate_on_submit():
        for name, field_errors in form.errors.items():
            for message in field_errors:
                flash(f"{form[name].label.text}: {message}", "error")
        return _course_list(form, 400)
    try:
        course = courses.create_course(
            form.slug.data,
            form.title.data,
            who=current_instructor(),
            group_members=hub_client().group_members,
        )
    except courses.CourseError as e:
        flash(e.message, "error")
        return _course_list(form, 403 if e.code == "not_allowed" else 400)
    db.session.commit()
    flash(f"Course {course.slug} created. Its students will join the Hub group {course.hub_group}.")
    return redirect(url_for("pages.course_detail", slug=course.slug))


@bp.get("/courses/<slug>", strict_slashes=False)
def course_detail(slug: str):
    """The course dashboard: who logged in, who is active, whose server runs."""
    course = courses.get_course(slug, who=current_instructor())
    now = utcnow()
    everyone = dashboard.students(course, now)
    args = request.args
    show = args.get("show", "all") if args.get("show") in dashboard.FILTERS else "all"
    rows = dashboard.select_rows(
        everyone,
        show=show,
        section=args.get("section", ""),
        search=args.get("q", "").strip(),
        sort=args.get("sort", "name"),
        descending=args.get("desc") == "1",
    )
    return render_template(
        "course.html",
        course=course,
        rows=rows,
        counts=dashboard.counts(everyone),
        sections=dashboard.sections(everyone),
        never_emails=[r.email for r in everyone if not r.logged_in and r.email],
        never_without_email=[r.username for r in everyone if not r.logged_in and not r.email],
        chart=dashboard.activity_chart(course, args.get("range", "today"), now),
        last_poll=activity.latest_poll(),
        now=now,
        ago=dashboard.ago,
        show=show,
        args=args,
        staff_form=CourseStaffForm(
            instructor_groups=", ".join(course.instructor_groups or ()),
            staff_users=", ".join(course.staff_users or ()),
        ),
        may_change_staff=courses.can_change_staff(course, current_instructor()),
    )


@bp.post("/courses/<slug>/staff")
def course_staff(slug: str):
    course = courses.get_course(slug, who=current_instructor())
    form = CourseStaffForm()
    if form.validate_on_submit():
        try:
            courses.set_staff(
                course,
                groups_text=form.instructor_groups.data,
                users_text=form.staff_users.data,
                who=current_instructor(),
                hub_users_exist=_missing_hub_users,
            )
        except courses.CourseError as e:
            flash(e.message, "error")
        else:
            db.session.commit()
            flash("Teaching staff saved.")
            missing = [g for g in course.instructor_groups if hub_client().get_group(g) is None]
            if missing:
                flash(
                    f"No Hub group is called {', '.join(missing)} yet: nobody gets access "
                    "through it until your Hub admin creates it.",
                    "error",
                )
    return redirect(url_for("pages.course_detail", slug=slug))


def _missing_hub_users(names: list[str]) -> list[str]:
    client = hub_client()
    return [name for name in names if client.get_user(name) is None]


@bp.get("/courses/<slug>/lab")
def lab_view(slug: str):
    """A page for the projector during a class session; it reloads itself."""
    course = courses.get_course(slug, who=current_instructor())
    now = utcnow()
    everyone = dashboard.students(course, now)
    return render_template(
        "lab.html",
        course=course,
        counts=dashboard.counts(everyone),
        active=[r for r in everyone if r.active_now],
        never=[r for r in everyone if not r.logged_in],
        now=now,
    )


@bp.get("/courses/<slug>/students.csv")
def students_csv(slug: str):
    course = courses.get_course(slug, who=current_instructor())
    body = dashboard.export_csv(dashboard.students(course))
    return Response(
        body,
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{course.slug}-students.csv"',
        },
    )


@bp.get("/status")
def status_page():
    courses.require_instructor(current_instructor())
    return render_template("status.html", status=status.collect())
