"""Forms with CSRF tokens (Flask-WTF)."""

from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length


class NewCourseForm(FlaskForm):
    slug = StringField(
        "Short name (slug)",
        validators=[DataRequired(), Length(max=40)],
        description="Lowercase letters, digits and hyphens, e.g. data100-fall. Students join "
        "the Hub group course-<slug>.",
    )
    title = StringField("Title", validators=[Length(max=200)])
