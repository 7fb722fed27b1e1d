"""The delivery pages' forms: resetting one student's files to the course's version."""

from __future__ import annotations

from wtforms import BooleanField, SelectMultipleField
from wtforms.widgets import CheckboxInput, ListWidget

from app.web.forms import PageForm


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
