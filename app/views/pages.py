"""The instructor's pages: courses and the service status."""

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for

from .. import activity, courses, dashboard, status
from ..auth import current_instructor
from ..extensions import db
from ..forms import CourseStaffForm, NewCourseForm
from ..hubclient import hub_client
from ..timeutil import utcnow

bp = Blueprint("pages", __name__)


@bp.get("/")
def course_list():
    return render_template(
        "courses.html", courses=courses.list_courses(who=current_instructor()), form=NewCourseForm()
    )


@bp.post("/courses")
def course_create():
    form = NewCourseForm()
    if not form.validate_on_submit():
        for name, field_errors in form.errors.items():
            for message in field_errors:
                flash(f"{form[name].label.text}: {message}", "error")
        return render_template(
            "courses.html", courses=courses.list_courses(who=current_instructor()), form=form
        ), 400
    try:
        course = courses.create_course(
            form.slug.data, form.title.data, actor=current_instructor().name
        )
    except courses.CourseError as e:
        flash(e.message, "error")
        return render_template(
            "courses.html", courses=courses.list_courses(who=current_instructor()), form=form
        ), 400
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
        staff_form=CourseStaffForm(instructor_groups=", ".join(course.instructor_groups or ())),
    )


@bp.post("/courses/<slug>/staff")
def course_staff(slug: str):
    course = courses.get_course(slug, who=current_instructor())
    form = CourseStaffForm()
    if form.validate_on_submit():
        try:
            courses.set_instructor_groups(
                course, form.instructor_groups.data, actor=current_instructor().name
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
    return render_template("status.html", status=status.collect())
