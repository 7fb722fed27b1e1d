"""Forms with CSRF tokens (Flask-WTF)."""

from flask import request
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional, ValidationError


class PageForm(FlaskForm):
    """A form posted by one of our pages.

    Flask-WTF also reads a JSON body as form data, and a number, list or dict in a text field
    then fails inside WTForms (a 500). Pages post forms, so a JSON body counts as no form data:
    the form is invalid and says which fields are missing.
    """

    def __init__(self, *args, **kwargs) -> None:
        if request.is_json and "formdata" not in kwargs:
            kwargs["formdata"] = None
        super().__init__(*args, **kwargs)


class NewCourseForm(PageForm):
    slug = StringField(
        "Short name (slug)",
        validators=[DataRequired(), Length(max=40)],
        description="Lowercase letters, digits and hyphens, e.g. data100-fall. Students join "
        "the Hub group course-<slug>.",
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


class RosterUploadForm(PageForm):
    file = FileField(
        "Roster file",
        validators=[FileRequired("Choose the roster file exported from your LMS.")],
        description="CSV or text as exported from Canvas, Blackboard, D2L/Brightspace, Moodle, "
        "or a plain list with one email or username per line.",
    )
    username_from = SelectField(
        "Usernames come from",
        choices=[
            ("email-local", "the email before the @ (ada@school.edu -> ada)"),
            ("email", "the whole email (ada@school.edu)"),
            ("column", "a column of the file, as it is"),
        ],
        default="email-local",
    )
    # No Optional() here: it would stop the check below when the field is empty.
    username_column = StringField("Column for usernames", validators=[Length(max=200)])
    remove = SelectField(
        "Students enrolled but not in this file",
        choices=[
            ("none", "keep them (nothing is removed)"),
            ("group", "remove them from the course group (their Hub account and files stay)"),
            ("delete", "delete their Hub accounts (their files stay on disk)"),
        ],
        default="none",
    )
    login_column = StringField("Login column", validators=[Optional(), Length(max=200)])
    email_column = StringField("Email column", validators=[Optional(), Length(max=200)])
    name_column = StringField("Name column", validators=[Optional(), Length(max=200)])
    section_column = StringField("Section column", validators=[Optional(), Length(max=200)])

    def validate_username_column(self, field) -> None:
        if self.username_from.data == "column" and not (field.data or "").strip():
            raise ValidationError(
                "type the name of the column that holds the usernames, as in the file's header"
            )

    def rule(self) -> str:
        if self.username_from.data == "column":
            return f"column:{(self.username_column.data or '').strip()}"
        return self.username_from.data

    def mapping(self) -> dict | None:
        chosen = {
            "login": self.login_column.data,
            "email": self.email_column.data,
            "name": self.name_column.data,
            "section": self.section_column.data,
        }
        chosen = {k: v.strip() for k, v in chosen.items() if v and v.strip()}
        return chosen or None


class ApplyRosterForm(PageForm):
    confirm = StringField("Type the course name to confirm", validators=[Optional()])
