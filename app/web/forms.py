"""Forms posted by our pages: CSRF tokens through Flask-WTF, JSON bodies refused."""

from flask import request
from flask_wtf import FlaskForm


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
