"""Entry point for WSGI servers and the flask CLI: `gunicorn wsgi:app`, `flask --app wsgi ...`."""

from app import create_app

app = create_app()
