"""`make demo`: a real JupyterHub on http://127.0.0.1:8000 with Hubclass as its managed service.

State lives in demo-state/ (git-ignored) and is kept between runs; delete it to start over.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from demo.launch import REPO, VENV_BIN, start_hub
from demo.sample_course import make_course_repo, write_sample_roster

STATE = REPO / "demo-state"
PORT = int(os.environ.get("HUBCLASS_DEMO_PORT", "8000"))
PASSWORD = os.environ.get("HUBCLASS_DEMO_PASSWORD", "hubclass-demo")


def flask_cli(hub, *args: str) -> subprocess.CompletedProcess:
    """Run a Hubclass CLI command with the service's own environment."""
    env = {
        **os.environ,
        "JUPYTERHUB_API_URL": hub.api_url,
        "JUPYTERHUB_API_TOKEN": hub.service_token,
        "HUBCLASS_DATA_DIR": str(hub.service_data_dir),
    }
    return subprocess.run(
        [str(VENV_BIN / "flask"), "--app", "wsgi", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def main() -> int:
    repos = STATE / "repos"
    course_repo = make_course_repo(repos / "intro-python.git")
    roster = write_sample_roster(STATE / "sample-roster.csv")
    print("Starting JupyterHub with Hubclass (first start takes a few seconds)...", flush=True)
    try:
        hub = start_hub(
            STATE / "hub",
            port=PORT,
            password=PASSWORD,
            extra_env={
                "HUBCLASS_ALLOWED_REPO_URLS": f"file://{repos}/,https://github.com/,https://gitlab.com/",
                # A demo should show a sign-in within seconds (production: every 60 s).
                "HUBCLASS_POLL_SECONDS": "10",
            },
        )
    except RuntimeError as e:
        print(f"Could not start the demo: {e}", file=sys.stderr)
        print(f"Is port {PORT} free? Set HUBCLASS_DEMO_PORT to use another.", file=sys.stderr)
        return 1
    created = flask_cli(
        hub,
        "course", "create", "intro-python", "--title", "Intro to Python",
        "--instructor-groups", "instructors",
    )  # fmt: skip
    if created.returncode == 0:
        # First run: enrol the sample roster, as an instructor would with the Apply button.
        imported = flask_cli(hub, "roster", "import", "intro-python", str(roster), "--apply")
        if imported.returncode != 0:
            print(imported.stdout + imported.stderr, file=sys.stderr)
    elif "exists already" not in created.stderr + created.stdout:
        print(created.stdout + created.stderr, file=sys.stderr)

    print(
        f"""
Hubclass demo is running.

  Hubclass:   {hub.service_url}
  JupyterHub: {hub.url}/hub/

  Sign in as  instructor  (an instructor: sees Hubclass)
         or   hubadmin    (a Hub admin: sees Hubclass too)
         or   ada, grace, alan, emmy  (students of the sample course: Hubclass refuses
              them; each one who signs in shows up as logged in on the dashboard)
  Password:   {PASSWORD}

  Sample roster (Canvas export): {roster}
  Sample course repository:      file://{course_repo}
                                 (for flask --app wsgi gitsync; see the README)
  Hub log:                       {hub.log_path}

Press Ctrl-C to stop.""",
        flush=True,
    )
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        while hub.process.poll() is None:
            time.sleep(0.5)
        print(f"JupyterHub stopped by itself; see {hub.log_path}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nStopping JupyterHub and Hubclass...", flush=True)
    finally:
        hub.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
