"""The course dashboard: who logged in, who is active now, whose server runs; the lab view for
the projector and the CSV export."""

from collections.abc import Sequence

from flask import Blueprint, Response, render_template, request
from markupsafe import Markup

from app import courses
from app.auth import current_instructor
from app.courses.current import managed_course
from app.courses.forms import CourseStaffForm
from app.timeutil import utcnow
from app.web.pages import page_of

from . import not_theirs, poller
from . import students as dashboard
from .columns import Cell, Column

bp = Blueprint("activity", __name__, template_folder="templates")


@bp.get("/courses/<slug>", strict_slashes=False)
def course_detail(slug: str):
    """The course dashboard: who logged in, who is active, whose server runs."""
    course = managed_course(slug)
    now = utcnow()
    everyone = dashboard.students(course, now)
    args = request.args
    show = dashboard.shown(args.get("show"))
    # "Behind or failed" filters by the assignment cells: every row needs them first.
    # Otherwise only the page's rows are shown with theirs.
    if show == dashboard.Show.BEHIND:
        columns = dashboard.with_assignments(course, everyone)
    rows = dashboard.select_rows(
        everyone,
        show=show,
        section=args.get("section", ""),
        search=args.get("q", "").strip(),
        sort=args.get("sort", "name"),
        descending=args.get("desc") == "1",
    )
    page = page_of(rows, args.get("page"))
    if show != dashboard.Show.BEHIND:
        columns = dashboard.with_assignments(course, page.rows)
    return render_template(
        "activity/course.html",
        course=course,
        rows=page.rows,
        page=page,
        columns=columns,
        cells=assignment_cells(page.rows, columns),
        counts=dashboard.counts(everyone),
        sections=dashboard.sections(everyone),
        never_emails=[r.email for r in everyone if not r.logged_in and r.email],
        never_without_email=[r.username for r in everyone if not r.logged_in and not r.email],
        chart=dashboard.activity_chart(course, args.get("range", "today"), now),
        last_poll=poller.latest_poll(),
        activity_note=not_theirs.NOTE if not_theirs.accounted() else None,
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


CELL = Markup('<td data-assignment="{}"><span class="badge standing-{}"{}>{}</span></td>')
NO_CELL = Markup('<td data-assignment="{}"></td>')


def assignment_cells(
    rows: list[dashboard.StudentRow], columns: Sequence[Column]
) -> dict[str, Markup]:
    """Each row's assignment cells, as HTML: 2000 students and 10 assignments are 20000 cells,
    too many for the template, but few differ (a slug, a state, a commit): each is made once."""
    made: dict[tuple[str, str | None, str | None], Markup] = {}
    found = {}
    for r in rows:
        parts = []
        for column in columns:
            cell = r.assignments.get(column.slug)
            key = (column.slug, cell.state, cell.commit) if cell else (column.slug, None, None)
            html = made.get(key)
            if html is None:
                html = made[key] = _cell(column.slug, cell)
            parts.append(html)
        found[r.username] = Markup("").join(parts)
    return found


def _cell(slug: str, cell: Cell | None) -> Markup:
    if cell is None:
        return NO_CELL.format(slug)
    title = Markup(' title="commit {}"').format(cell.commit[:12]) if cell.commit else ""
    return CELL.format(slug, cell.state.replace(" ", "-"), title, cell.state)


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
    rows = dashboard.students(course)
    body = dashboard.export_csv(rows, dashboard.with_assignments(course, rows))
    return Response(
        body,
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{course.slug}-students.csv"',
        },
    )
