"""`make demo`: a real JupyterHub on http://127.0.0.1:8000 with Hubclass as its managed service.

State lives in demo-state/ (git-ignored) and is kept between runs; delete it to start over.
As root, the sample students get real system accounts (`jupyter-ada`, ..., as on The Littlest
JupyterHub), kept between runs; `python -m demo.run --remove-accounts` removes them and their
homes.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time

from demo.launch import REPO, VENV_BIN, start_hub
from demo.sample_course import (
    SAMPLE_ASSIGNMENT,
    SAMPLE_STUDENTS,
    make_course_repo,
    write_sample_roster,
)

STATE = REPO / "demo-state"
PORT = int(os.environ.get("HUBCLASS_DEMO_PORT", "8000"))
PASSWORD = os.environ.get("HUBCLASS_DEMO_PASSWORD", "hubclass-demo")


def flask_cli(hub, *args: str) -> subprocess.CompletedProcess:
    """Run a Hubclass CLI command with the service's own environment."""
    env = {
        **hub.env,  # the service's settings (allowed URLs, homes), as the Hub gave them
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


def student_accounts() -> tuple[dict[str, str], str]:
    """The Hub's settings for the students' servers, and what the banner says about homes.

    Only root can become each student, and Hubclass delivers into a home only as the account
    that owns it: as root the students get real accounts; otherwise the demo still runs, and
    says that distributions stay queued.
    """
    if os.geteuid() != 0:
        return {}, (
            "Deliveries need root: this demo runs as "
            f"{os.environ.get('USER') or os.geteuid()}, so an assignment you distribute stays "
            "queued (Hubclass writes into a home only as the student who owns it). Run "
            "`sudo make demo` to see it arrive."
        )
    from demo.accounts import DEMO_HOME_TEMPLATE, DEMO_MARK, ensure_accounts

    taken = ensure_accounts(SAMPLE_STUDENTS)
    note = (
        "Students have real accounts (jupyter-ada, ...; homes /home/jupyter-<name>, made when "
        "their server first starts). Remove them with: python -m demo.run --remove-accounts"
    )
    if taken:
        note += (
            f"\n  Not used (an account of that name exists and is not the demo's): "
            f"{', '.join(taken)}; these students get no server and no delivery."
        )
    env = {
        "HUBCLASS_HUB_SPAWNER": "accounts",
        "HUBCLASS_HOME_TEMPLATE": DEMO_HOME_TEMPLATE,
        "HUBCLASS_HUB_ACCOUNT_MARK": DEMO_MARK,
    }
    return env, note


def ensure_sample_assignment(hub, course_repo) -> None:
    """Add the sample homework to the course, once (later runs find it there)."""
    added = flask_cli(
        hub,
        "assignment", "add", "intro-python", SAMPLE_ASSIGNMENT["slug"],
        "--repo", f"file://{course_repo}", "--path", SAMPLE_ASSIGNMENT["path"],
        "--target", SAMPLE_ASSIGNMENT["slug"], "--title", SAMPLE_ASSIGNMENT["title"],
    )  # fmt: skip
    if added.returncode != 0 and "already" not in added.stderr + added.stdout:
        print(added.stdout + added.stderr, file=sys.stderr)


def distribute(hub) -> None:
    """Distribute the sample homework to the course, as the Distribute button does."""
    # --wait runs the deliveries in the command itself, which only root can (not root, it
    # would wait for a root worker that the demo does not have).
    wait = ["--wait"] if os.geteuid() == 0 else []
    done = flask_cli(hub, "distribute", "intro-python", SAMPLE_ASSIGNMENT["slug"], *wait)
    # Its log lines (each sync) stay out of the way, unless it failed.
    print(done.stdout + (done.stderr if done.returncode else ""), flush=True)


def main() -> int:
    if "--remove-accounts" in sys.argv[1:]:
        from demo.accounts import remove_accounts

        print("Removed:", ", ".join(remove_accounts(SAMPLE_STUDENTS)) or "none")
        return 0
    repos = STATE / "repos"
    course_repo = make_course_repo(repos / "intro-python.git")
    roster = write_sample_roster(STATE / "sample-roster.csv")
    accounts_env, homes_note = student_accounts()
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
                **accounts_env,
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
    ensure_sample_assignment(hub, course_repo)

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
                                 (the course's assignment hw1 is its assignments/hw1)
  Hub log:                       {hub.log_path}

  {homes_note}

Press Enter to distribute hw1 to the course (again: each student's state is printed; a
student with no home waits, and receives it by itself once they sign in and start a server).
Press Ctrl-C to stop.""",
        flush=True,
    )
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    listening = True  # until the end of input (none at all: /dev/null)
    try:
        while hub.process.poll() is None:
            if not listening:
                time.sleep(0.5)
            elif select.select([sys.stdin], [], [], 0.5)[0]:
                if sys.stdin.readline():
                    distribute(hub)
                else:  # end of input: stop listening, keep running
                    listening = False
        print(f"JupyterHub stopped by itself; see {hub.log_path}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nStopping JupyterHub and Hubclass...", flush=True)
    finally:
        hub.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
