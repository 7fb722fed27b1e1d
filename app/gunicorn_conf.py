"""gunicorn settings for the service: `gunicorn -c python:app.gunicorn_conf wsgi:app`."""

accesslog = "-"
# The path without its query string: sign-in callbacks carry an OAuth code and state, and a
# token sent in a URL by mistake must not land in the log either.
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'
workers = 2
threads = 4
# Students' uploads are small; a slow client must not hold a worker forever.
timeout = 60
