"""Sign-in and access: who the caller is, and whether they may use Hubclass at all."""

from flask import Flask

from . import access, signin
from .access import (
    Instructor,
    NotAnInstructor,
    Unauthorized,
    current_instructor,
    is_api_request,
    public,
)

__all__ = [
    "Instructor",
    "NotAnInstructor",
    "Unauthorized",
    "current_instructor",
    "init_app",
    "is_api_request",
    "public",
    "register_error_handlers",
]


def init_app(app: Flask) -> None:
    signin.init_app(app)
    access.init_app(app)


register_error_handlers = access.register_error_handlers
