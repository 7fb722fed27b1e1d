"""The instructor's pages: courses and the service status."""

from flask import Blueprint, flash, redirect, render_template, url_for

from .. import courses, status
from ..auth import current_instructor
from ..extensions import db
from ..forms import NewCourseForm

bp = Blueprint("pages", __name__)


@bp.get("/")
def course_list():
    return render_template("courses.html", courses=courses.list_courses(), form=NewCourseForm())


@bp.post("/courses")
def course_create():
    form = NewCourseForm()
    if not form.validate_on_submit():
        for field_errors in form.errors.values():
            for message in field_errors:
                flash(message, "error")
        return render_template("courses.html", courses=courses.list_courses(), form=form), 400
    try:
        course = courses.create_course(
            form.slug.data, form.title.data, actor=current_instructor().name
        )
    except courses.CourseError as e:
        flash(e.message, "error")
        return render_template("courses.html", courses=courses.list_courses(), form=form), 400
    db.session.commit()
    flash(f"Course {course.slug} created. Its students will join the Hub group {course.hub_group}.")
    return redirect(url_for("pages.course_detail", slug=course.slug))


@bp.get("/courses/<slug>")
def course_detail(slug: str):
    return render_template("course.html", course=courses.get_course(slug))


@bp.get("/status")
def status_page():
    return render_template("status.html", status=status.collect())
