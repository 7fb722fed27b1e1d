"""The instructor's course pages: the course list, a new course, the course's teaching staff."""

from flask import Blueprint, flash, redirect, render_template, url_for

from app.auth import current_instructor
from app.extensions import db
from app.hub import hub_client

from . import service as courses
from .current import managed_course
from .forms import CourseStaffForm, NewCourseForm

bp = Blueprint("courses", __name__, template_folder="templates")


def _course_list(form: NewCourseForm, status: int = 200):
    me = current_instructor()
    return render_template(
        "courses/courses.html",
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
    return redirect(url_for("activity.course_detail", slug=course.slug))


@bp.post("/courses/<slug>/staff")
def course_staff(slug: str):
    course = managed_course(slug)
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
    return redirect(url_for("activity.course_detail", slug=slug))


def _missing_hub_users(names: list[str]) -> list[str]:
    client = hub_client()
    return [name for name in names if client.get_user(name) is None]
