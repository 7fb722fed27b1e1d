"""Backups that restore: `flask --app wsgi backup DEST` while the service runs, and
`flask --app wsgi restore SRC` into a fresh data dir and database (service.py)."""
