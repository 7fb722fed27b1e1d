"""The course pages' forms: a new course, its teaching staff."""

from wtforms import StringField
from wtforms.validators import DataRequired, Length

from app.web.forms import PageForm

from .names import GROUP_PREFIX


class NewCourseForm(PageForm):
    slug = StringField(
        "Short name (slug)",
        validators=[DataRequired(), Length(max=40)],
        description="Lowercase letters, digits and hyphens, e.g. data100-fall. Students join "
        f"the Hub group {GROUP_PREFIX}<slug>.",
    )
    title = StringField("Title", validators=[Length(max=200)])


class CourseStaffForm(PageForm):
    staff_users = StringField(
        "Teaching assistants and co-instructors (Hub usernames)",
        validators=[Length(max=5000)],
        description="Comma-separated, e.g. ta1, ta2. They manage this course only.",
    )
    instructor_groups = StringField(
        "Hub groups whose members also manage this course",
        validators=[Length(max=1000)],
        description="Comma-separated, e.g. data100-tas: groups you are in yourself (a Hub "
        "admin can name any group). On a Hub that lets only instructors reach Hubclass, your "
        "Hub admin also gives these people the hubclass-instructors role.",
    )
