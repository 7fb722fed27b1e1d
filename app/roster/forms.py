"""The roster pages' forms: the upload with its column mapping, and the typed confirmation."""

from flask_wtf.file import FileField, FileRequired
from wtforms import SelectChoice, SelectField, StringField
from wtforms.validators import Length, Optional, ValidationError

from app.roster.plan import RemoveMode
from app.roster.usernames import DEFAULT_RULE
from app.web.forms import PageForm


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
            SelectChoice("email-local", "the email before the @ (ada@school.edu -> ada)"),
            SelectChoice("email", "the whole email (ada@school.edu)"),
            SelectChoice("column", "a column of the file, as it is"),
        ],
        default=DEFAULT_RULE,
    )
    # No Optional() here: it would stop the check below when the field is empty.
    username_column = StringField("Column for usernames", validators=[Length(max=200)])
    remove = SelectField(
        "Students enrolled but not in this file",
        choices=[
            SelectChoice(RemoveMode.NONE, "keep them (nothing is removed)"),
            SelectChoice(
                RemoveMode.GROUP,
                "remove them from the course group (their Hub account and files stay)",
            ),
            SelectChoice(RemoveMode.DELETE, "delete their Hub accounts (their files stay on disk)"),
        ],
        default=RemoveMode.NONE,
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
