"""The delivery pages' forms: distributing an assignment to its students, and resetting one
student's files to the course's version."""

from __future__ import annotations

import re
from typing import Any

from wtforms import BooleanField, RadioField, SelectField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length
from wtforms.widgets import CheckboxInput, ListWidget

from app.web.forms import PageForm

# Who a distribution goes to (`to`) and which of them (`only`): the service's scopes.
COURSE, SECTION, USERS = "course", "section", "users"
ALL, BEHIND, FAILED = "all", "behind", "failed"


class DistributeForm(PageForm):
    """Who gets the assignment: the whole course, a section or chosen students; all of them,
    only those without the latest commit, or only those whose delivery failed."""

    to = RadioField(
        "Send it to",
        choices=[
            SelectChoice(COURSE, "the whole course"),
            SelectChoice(SECTION, "one section"),
            SelectChoice(USERS, "chosen students"),
        ],
        default=COURSE,
    )
    # The course's sections are the choices, for the page; the service checks what is posted
    # (a section nobody is in any more gets its own words, not "Not a valid choice").
    section = SelectField("Section", choices=[], validate_choice=False)
    users = StringField(
        "Usernames",
        validators=[Length(max=20000)],
        description="Separated by commas or spaces, e.g. ada, alan.",
    )
    only = RadioField(
        "Which of them",
        choices=[
            SelectChoice(ALL, "all of them"),
            SelectChoice(BEHIND, "only students who do not have the latest commit"),
            SelectChoice(FAILED, "retry the failed ones: only students whose last delivery failed"),
        ],
        default=ALL,
    )

    @classmethod
    def with_sections(cls, sections: list[str], **kwargs: Any) -> DistributeForm:
        """The form with the course's sections to choose from."""
        form = cls(**kwargs)
        form.section.choices = [SelectChoice("", "choose a section")] + [
            SelectChoice(name, name) for name in sections
        ]
        return form

    def problem(self) -> str | None:
        """What is missing for the chosen scope, in the instructor's words, or None."""
        if self.to.data == SECTION and not self.section.data:
            return "Choose the section to send it to."
        if self.to.data == USERS and not self.usernames():
            return "Name at least one student."
        return None

    def usernames(self) -> list[str]:
        return [name for name in re.split(r"[\s,;]+", self.users.data or "") if name]

    def scope(self) -> dict[str, Any]:
        """The service's arguments for distribute()."""
        return {
            "section": self.section.data if self.to.data == SECTION else None,
            "users": self.usernames() if self.to.data == USERS else None,
            "only_behind": self.only.data == BEHIND,
            "retry_failed": self.only.data == FAILED,
        }


class Checkboxes(SelectMultipleField):
    """A list of checkboxes, one per choice."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class ResetForm(PageForm):
    """Which of a student's files to put back: some of the course's, or the whole folder."""

    # The choices are the course's files, for the page; the service and the engine check what
    # is posted (its shape, then that the course's version has it), whatever the page offered.
    paths = Checkboxes("Files and folders", choices=[], validate_choice=False)
    whole_folder = BooleanField("The whole folder")
