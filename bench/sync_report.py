"""Benchmark the report's analysis of notebooks both sides changed against the plain merge.

    sudo .venv/bin/python bench/sync_report.py [--students 200] [--users 10] [--workers N]
        [--profile]

Issue 12's goal: a re-distribution to N students where every student edited the notebook the
instructor fixed; the report's analysis (``app.gitsync.missed.examine`` and what the engine does
for it: the merge base, the amend when a notebook was mended) costs at most 1.5x the plain merge,
measured in the same run.

Everything is real: a course repository (a lab notebook written with nbformat: 30 cells with
ids, figures in some outputs, ~300 KB; a README, a data file and a helper module) served by
``git daemon`` on 127.0.0.1; --users test users (``hcbr<tag>...``, made with useradd and removed
at the end, also on failure) whose homes hold the N workspaces, first delivered by the engine
(``app.gitsync.sync`` with a mirror). Each student then runs every cell (counts, outputs, new
figures, JupyterLab's timing metadata), answers the exercise cell and appends a scratch cell; the
instructor fixes the exercise cell (the clash: the student's answer stays) and a plot cell the
students only ran (the fix must arrive), and re-runs that plot.

Measured in a copy of each workspace, as its owner (a process forked from this one that drops to
the student's uid as the engine's sync does), one workspace after the other:
  merge:    the engine's own steps, ``git commit --all`` of the student's changes and
            ``git merge -Xours`` of the course's commit (the engine's flags and hardening);
  analysis: ``git merge-base HEAD^1 <course>``, then ``examine()`` of the notebook, then the
            amend of the merge commit if it wrote a file (the engine's steps after its merge).
Printed: median and total of each per workspace and the ratio analysis/merge (goal <= 1.5 on
the totals), and, for context, the whole engine re-distribution to the original workspaces
(mirror + parallel syncs). Every result is checked (each notebook valid, the untouched cell's
fix arrived, the student's answer and scratch cell kept, the report names exactly the clashing
cell), so a broken run cannot pass. --profile runs cProfile around ``examine()`` in the
students' processes and prints where its time goes (the analysis' times then include cProfile's
overhead). Needs root (it creates users).
"""

from __future__ import annotations

import argparse
import base64
import copy
import cProfile
import json
import marshal
import os
import pstats
import pwd
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from app.gitsync import ensure_mirror, notebooks, start_fork_server, stop_fork_server, sync
from app.gitsync.asuser import STUDENT_UMASK, become
from app.gitsync.engine import COMMIT_MESSAGE, IDENTITY, MERGE_ARGS
from app.gitsync.missed import examine
from app.gitsync.runner import Git
from bench.sync import run, start_daemon

GOAL_ANALYSIS = 1.5
LAB = "lab07.ipynb"
CELLS = 30
EXERCISE = 9  # the cell every student answers and the instructor fixes too (0-based)
PLOT = 20  # a plot cell the students only run; the instructor fixes its source and re-runs it
PLOTS = (5, 14, PLOT, 26)  # cells with a figure in their output
FIGURE_BYTES = 55_000
EXERCISE_SOURCE = (
    "def mean(values):\n"
    '    """Return the mean of a list of numbers."""\n'
    "    # YOUR CODE HERE\n"
    "    raise NotImplementedError()"
)
EXERCISE_FIX = EXERCISE_SOURCE.replace("NotImplementedError()", 'NotImplementedError("mean")')
PLOT_SOURCE = (
    "fig, ax = plt.subplots(figsize=(6, 4))\n"
    "ax.hist(frame['value'], bins=10)\n"
    "ax.set_title('Values')\n"
    "plt.show()"
)
PLOT_FIX = PLOT_SOURCE.replace("bins=10", "bins=30").replace("'Values'", "'Measured values'")
TIMEOUT = 300.0


# -- the course -----------------------------------------------------------------------------------


def figure(rng: random.Random) -> dict:
    """A matplotlib figure as Jupyter saves it: a base64 PNG (incompressible) and its text."""
    png = b"\x89PNG\r\n\x1a\n" + rng.randbytes(FIGURE_BYTES)
    return new_output(
        "display_data",
        data={"image/png": base64.b64encode(png).decode(), "text/plain": "<Figure 600x400>"},
        metadata={},
    )


def code_source(index: int) -> str:
    if index == EXERCISE:
        return EXERCISE_SOURCE
    if index == PLOT:
        return PLOT_SOURCE
    if index in PLOTS:
        return (
            "fig, ax = plt.subplots()\n"
            f"ax.plot(frame['step'], frame['value'] * {index})\n"
            "plt.show()"
        )
    return (
        f"# step {index}: summarise the measurements\n"
        f"subset = frame[frame['step'] % {index + 2} == 0]\n"
        f"total_{index} = subset['value'].sum()\n"
        f"print('rows', len(subset), 'total', round(total_{index}, 3))"
    )


def lab_notebook(rng: random.Random) -> nbformat.NotebookNode:
    """The lab as the instructor publishes it: text, code, a few cells run to show their figure."""
    book = new_notebook()
    book.metadata = {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python", "version": "3.11.2"},
    }
    book.cells = []
    for index in range(CELLS):
        if index == 0:
            cell = new_markdown_cell("# Lab 7: measurements\n\nRun every cell, then answer.")
        elif index % 3 == 1 and index not in PLOTS and index != EXERCISE:
            words = " ".join(rng.choice(WORDS) for _ in range(50))
            cell = new_markdown_cell(f"## Part {index // 3}\n\n{words}")
        else:
            cell = new_code_cell(code_source(index))
            if index in PLOTS:
                cell.execution_count = index
                cell.outputs = [figure(rng)]
        cell.id = rng.randbytes(4).hex()
        book.cells.append(cell)
    return book


WORDS = ["the", "mean", "of", "each", "sample", "is", "plotted", "against", "its", "step", "model"]


def text(book: nbformat.NotebookNode) -> str:
    return nbformat.writes(book) + "\n"


def make_course(root: Path) -> tuple[Path, nbformat.NotebookNode]:
    rng = random.Random(12)
    work = root / "instructor"
    bare = root / "served" / "course.git"
    run("git", "init", "--quiet", "--bare", "--initial-branch=main", bare)
    run("git", "init", "--quiet", "--initial-branch=main", work)
    run("git", "-C", work, "remote", "add", "origin", bare)
    book = lab_notebook(rng)
    rows = "\n".join(f"{step},{rng.random():.6f}" for step in range(2000))
    files = {
        LAB: text(book),
        "README.md": "# Lab 7\n\nOpen lab07.ipynb and run every cell.\n",
        "data/measurements.csv": f"step,value\n{rows}\n",
        "helpers.py": "import pandas as pd\n\n\ndef load(path):\n    return pd.read_csv(path)\n",
    }
    for rel, data in files.items():
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        (work / rel).write_text(data)
    run("git", "-C", work, "add", "--all")
    run("git", "-C", work, "commit", "--quiet", "-m", "lab 7")
    run("git", "-C", work, "push", "--quiet", "origin", "HEAD:main")
    return work, book


def instructor_fix(work: Path, book: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The fix of a re-distribution: the exercise's hint, and the plot (source and figure)."""
    fixed = copy.deepcopy(book)
    fixed.cells[EXERCISE].source = EXERCISE_FIX
    fixed.cells[PLOT].source = PLOT_FIX
    fixed.cells[PLOT].outputs = [figure(random.Random(99))]
    (work / LAB).write_text(text(fixed))
    run("git", "-C", work, "commit", "--quiet", "-am", "lab 7: fix the hint and the histogram")
    run("git", "-C", work, "push", "--quiet", "origin", "HEAD:main")
    return fixed


def student_notebook(book: nbformat.NotebookNode, number: int) -> bytes:
    """A student's lab after a session: every cell run (counts, outputs, new figures, the timing
    metadata JupyterLab records), the exercise answered, a scratch cell at the end."""
    rng = random.Random(1000 + number)
    mine = copy.deepcopy(book)
    count = 0
    for index, cell in enumerate(mine.cells):
        if cell.cell_type != "code":
            continue
        count += 1
        cell.execution_count = count
        if index in PLOTS:
            cell.outputs = [figure(rng)]
        elif index != EXERCISE:
            cell.outputs = [new_output("stream", name="stdout", text=f"rows {count} total 1.5\n")]
        cell.metadata["execution"] = {
            "iopub.execute_input": f"2026-12-01T10:{count:02d}:00.000Z",
            "shell.execute_reply": f"2026-12-01T10:{count:02d}:01.000Z",
        }
    mine.cells[EXERCISE].source = answer(number)
    scratch = new_code_cell(f"scratch = mean([1, 2, {number}])\nscratch")
    scratch.id = f"scratch{number:04d}"
    scratch.execution_count = count + 1
    scratch.outputs = [
        new_output("execute_result", data={"text/plain": str(number)}, execution_count=count + 1)
    ]
    mine.cells.append(scratch)
    mine.metadata["language_info"]["version"] = "3.11.9"
    return text(mine).encode()


def answer(number: int) -> str:
    return (
        "def mean(values):\n"
        '    """Return the mean of a list of numbers."""\n'
        f"    return sum(values) / len(values)  # student {number}"
    )


# -- students -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class User:
    name: str
    uid: int
    gid: int
    home: Path


@dataclass(frozen=True)
class Workspace:
    number: int
    user: User

    @property
    def dest(self) -> Path:
        return self.user.home / f"student{self.number:03d}"

    @property
    def copy(self) -> Path:
        return self.user.home / f"merged{self.number:03d}"


def make_users(count: int, homes: Path, made: list[User]) -> None:
    """Real users owning real homes; each is appended to `made` at once, so all get removed."""
    prefix = f"hcbr{os.urandom(2).hex()}"
    for index in range(count):
        name = f"{prefix}{index:03d}"
        subprocess.run(
            ["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", "--user-group", name],
            check=True,
        )
        entry = pwd.getpwnam(name)
        home = homes / name
        made.append(User(name, entry.pw_uid, entry.pw_gid, home))
        home.mkdir(mode=0o750)
        os.chown(home, entry.pw_uid, entry.pw_gid)


def remove_users(users: list[User]) -> None:
    left = []
    for user in users:
        done = subprocess.run(["userdel", user.name], check=False, capture_output=True)
        if done.returncode != 0:
            left.append(user.name)
    if left:
        print(f"WARNING: could not remove {len(left)} users: {' '.join(left)}", file=sys.stderr)


def as_student(user: User, work: Callable[[], Any]) -> Any:
    """Run ``work`` in a child process that is ``user`` (uid, primary group, no other group), as
    the engine's sync runs, and return its JSON-ready result. Everything it needs is imported
    here first: once it is the student it may not read the Python installation."""
    # A fork is safe only from a single-threaded process (no other thread holds a lock).
    assert threading.active_count() == 1, threading.enumerate()
    sys.stdout.flush()
    sys.stderr.flush()
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        code = 0
        try:
            become(user.uid, user.gid)
            os.umask(STUDENT_UMASK)
            os.chdir("/")
            data = json.dumps({"ok": work()}).encode()
        except BaseException:
            data = json.dumps({"error": traceback.format_exc()}).encode()
            code = 1
        with os.fdopen(write_fd, "wb") as out:
            out.write(data)
        os._exit(code)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    answer = json.loads(data) if data else {"error": "the student's process said nothing"}
    if "error" in answer:
        raise SystemExit(f"{user.name}'s process failed:\n{answer['error']}")
    return answer["ok"]


def by_user(workspaces: list[Workspace]) -> dict[User, list[Workspace]]:
    found: dict[User, list[Workspace]] = {}
    for workspace in workspaces:
        found.setdefault(workspace.user, []).append(workspace)
    return found


def git_in(folder: Path) -> Git:
    """git on a workspace as the engine runs it (hardened, the home as ceiling)."""
    return Git(
        time.monotonic() + TIMEOUT,
        git_dir=folder / ".git",
        work_tree=folder,
        ceiling=str(folder.parent),
    )


def student_session(workspaces: list[Workspace], book: nbformat.NotebookNode) -> None:
    """The students' work, written as each student (as Jupyter saves: the file replaced)."""
    for user, theirs in by_user(workspaces).items():

        def work(theirs: list[Workspace] = theirs) -> None:
            for workspace in theirs:
                (workspace.dest / LAB).write_bytes(student_notebook(book, workspace.number))

        as_student(user, work)


def make_copies(workspaces: list[Workspace], url: str) -> None:
    """A copy of each workspace, made as its student, with the course's new commit fetched."""
    for user, theirs in by_user(workspaces).items():

        def work(theirs: list[Workspace] = theirs) -> None:
            for workspace in theirs:
                subprocess.run(["cp", "-a", str(workspace.dest), str(workspace.copy)], check=True)
                git_in(workspace.copy).run(
                    "fetch",
                    "--quiet",
                    url,
                    "+refs/heads/main:refs/remotes/origin/main",
                    allow_protocol="git",
                )

        as_student(user, work)


# -- the measured steps, in the student's process -------------------------------------------------


def identity() -> list[str]:
    return [arg for item in IDENTITY for arg in ("-c", item)]


def plain_merge(git: Git, target: str) -> None:
    """The engine's merge of a course update (Engine.update: commit_all, then merge)."""
    git.run(*identity(), "commit", "--quiet", "--all", "--no-verify", "-m", COMMIT_MESSAGE)
    git.run(*identity(), *MERGE_ARGS, target)


def analysis(git: Git, target: str, paths: list[str], folder: Path, profile: Any) -> list:
    """The engine's steps after its merge for the files both sides changed (Engine.update)."""
    base = git.run("merge-base", "HEAD^1", target).text.strip()
    if profile is not None:
        profile.enable()
    examined = examine(git, base, target, paths, folder, course_copies=False, now=datetime.now(UTC))
    if profile is not None:
        profile.disable()
    if examined.written:
        git.run("add", "--", *examined.written)
        git.run(*identity(), "commit", "--quiet", "--amend", "--no-edit", "--no-verify")
    return examined.files


def course_changes(git: Git, target: str) -> list[str]:
    """Before the merge: what the course changed. Not timed: the engine knew it already."""
    base = git.run("merge-base", "HEAD", target).text.strip()
    return git.run("diff", "--name-only", "-z", "--no-renames", base, target).paths()


def measure(theirs: list[Workspace], target: str, profiling: bool) -> dict[str, Any]:
    """Merge then analyse each copy, one after the other; the times and what was found."""
    profile = cProfile.Profile() if profiling else None
    results = []
    for workspace in theirs:
        git = git_in(workspace.copy)
        changes = course_changes(git, target)
        started = time.perf_counter()
        plain_merge(git, target)
        merged = time.perf_counter()
        kept = git.run("diff", "--name-only", "-z", "--no-ext-diff", "--no-renames", target)
        paths = [path for path in kept.paths() if path in changes]  # untimed: as the engine's
        before = time.perf_counter()
        missed = analysis(git, target, paths, workspace.copy, profile)
        done = time.perf_counter()
        results.append(
            {
                "number": workspace.number,
                "merge": merged - started,
                "analysis": done - before,
                "missed": missed,
                "mended": any(entry["mended"] for entry in missed),
                "problems": check_folder(git, workspace.copy, workspace.number),
            }
        )
    stats = None
    if profile is not None:
        profile.create_stats()
        stats = base64.b64encode(marshal.dumps(profile.stats)).decode()  # type: ignore[attr-defined]
    return {"results": results, "profile": stats}


# -- checks ---------------------------------------------------------------------------------------


def check_folder(git: Git, folder: Path, number: int) -> list[str]:
    """What is wrong with a student's folder after the update (nothing, when the run is right)."""
    problems = []
    book = notebooks.read((folder / LAB).read_bytes())
    if book is None:
        return [f"{LAB} is not a valid notebook"]
    sources = [
        "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
        for c in book["cells"]
    ]
    if len(sources) != CELLS + 1:
        problems.append(f"{len(sources)} cells, not {CELLS + 1}")
    if sources[PLOT] != PLOT_FIX:
        problems.append("the fix of the cell the student did not touch did not arrive")
    if sources[EXERCISE] != answer(number):
        problems.append("the student's answer is not in the exercise cell")
    if not sources[-1].startswith("scratch ="):
        problems.append("the student's scratch cell is gone")
    if b"<<<<<<<" in (folder / LAB).read_bytes():
        problems.append("conflict markers")
    if git.run("status", "--porcelain").text:
        problems.append("the folder is not clean after the update")
    return problems


def report_problems(missed: list[dict[str, Any]], exercise_id: str) -> list[str]:
    """The report must name the lab, and in it exactly the exercise cell's clash."""
    if [entry["path"] for entry in missed] != [LAB]:
        return [f"the report names {[entry['path'] for entry in missed]}, not [{LAB!r}]"]
    changes = missed[0]["changes"]
    wanted = [
        {
            "what": "cell_edited",
            "cell": EXERCISE + 1,
            "id": exercise_id,
            "before": "raise NotImplementedError()",
            "after": 'raise NotImplementedError("mean")',
        }
    ]
    if changes != wanted:
        return [f"the report says {changes}, not {wanted}"]
    return []


# -- the engine, for context ----------------------------------------------------------------------


def engine_round(url: str, mirrors: Path, workspaces: list[Workspace], workers: int) -> list:
    mirror = ensure_mirror(url, "main", mirrors, timeout=TIMEOUT)

    def one(workspace: Workspace) -> tuple[float, Any]:
        started = time.perf_counter()
        report = sync(url, workspace.dest, mirror=mirror, allowed_prefixes=[url])
        return time.perf_counter() - started, report

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(one, workspaces))


def timed(label: str, func: Callable[[], Any]) -> tuple[float, Any]:
    os.sync()  # flush what the previous phase wrote, so its writeback does not slow this one
    started = time.perf_counter()
    value = func()
    seconds = time.perf_counter() - started
    print(f"  {label:<58} {seconds:8.2f} s", flush=True)
    return seconds, value


def print_profile(encoded: list[str], root: Path) -> None:
    files = []
    for index, data in enumerate(encoded):
        path = root / f"profile{index}.prof"
        path.write_bytes(base64.b64decode(data))
        files.append(str(path))
    print("\nwhere examine() spends its time (cProfile, all students' processes):")
    stats = pstats.Stats(*files, stream=sys.stdout)
    stats.sort_stats("cumulative").print_stats(30)
    stats.sort_stats("tottime").print_stats(15)


def say(label: str, seconds: list[float], extra: str = "") -> None:
    print(f"{label:<27} median {median_ms(seconds):6.1f} ms, total {sum(seconds):6.2f} s{extra}")


def median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


# -- main -----------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=200, help="workspaces (students)")
    parser.add_argument("--users", type=int, default=10, help="real users owning the workspaces")
    parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 1))
    parser.add_argument("--profile", action="store_true", help="cProfile examine() and print it")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root: the benchmark creates test users")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    notebooks.prepare()  # as the fork server does: no student's process compiles the schemas

    root = Path(tempfile.mkdtemp(prefix="hcbench-report-"))
    root.chmod(0o755)
    (root / "homes").mkdir(mode=0o755)
    users: list[User] = []
    daemon = None
    try:
        work, book = make_course(root)
        daemon, url = start_daemon(root / "served")
        make_users(min(args.users, args.students), root / "homes", users)
        workspaces = [Workspace(n, users[n % len(users)]) for n in range(args.students)]
        start_fork_server()
        size = (work / LAB).stat().st_size
        print(
            f"course: {LAB} {size / 1e3:.0f} KB, {CELLS} cells, {len(PLOTS)} figures; "
            f"{args.students} workspaces of {len(users)} users; {args.workers} workers; "
            f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}",
            flush=True,
        )
        _, first = timed(
            "first delivery (engine)",
            lambda: engine_round(url, root / "mirrors", workspaces, args.workers),
        )
        assert {report.outcome for _, report in first} == {"cloned"}, first[0][1]
        student_session(workspaces, book)
        mine_size = (workspaces[0].dest / LAB).stat().st_size
        fixed = instructor_fix(work, book)
        target = run("git", "-C", work, "rev-parse", "HEAD").strip()
        time.sleep(1)  # as between real distributions: no file is as new as the index
        make_copies(workspaces, url)
        print(f"  a student's {LAB}: {mine_size / 1e3:.0f} KB", flush=True)

        results: list[dict[str, Any]] = []
        profiles: list[str] = []

        def measure_all() -> None:
            for user, theirs in by_user(workspaces).items():
                found = as_student(user, lambda t=theirs: measure(t, target, args.profile))
                results.extend(found["results"])
                if found["profile"]:
                    profiles.append(found["profile"])

        timed("merge + analysis of each copy, as its student (sequential)", measure_all)
        engine_seconds, again = timed(
            "engine re-distribution: mirror + parallel syncs",
            lambda: engine_round(url, root / "mirrors", workspaces, args.workers),
        )
        checked: dict[str, list[str]] = {}
        for user, theirs in by_user(workspaces).items():

            def check(theirs: list[Workspace] = theirs) -> dict[str, list[str]]:
                return {
                    str(w.number): check_folder(git_in(w.dest), w.dest, w.number) for w in theirs
                }

            checked.update(as_student(user, check))
        if args.profile:
            print_profile(profiles, root)
    finally:
        stop_fork_server()
        if daemon is not None:
            daemon.terminate()
            daemon.wait()
        remove_users(users)
        shutil.rmtree(root, ignore_errors=True)

    exercise_id = fixed.cells[EXERCISE].id
    problems = []
    for result in results:
        for problem in result["problems"] + report_problems(result["missed"], exercise_id):
            problems.append(f"copy of student {result['number']}: {problem}")
    for (_, report), workspace in zip(again, workspaces, strict=True):
        found = list(checked[str(workspace.number)])
        if report.outcome != "updated" or report.not_applied != [LAB]:
            found.append(f"outcome {report.outcome}, not applied {report.not_applied}")
        found += report_problems(report.missed, exercise_id)
        problems += [f"student {workspace.number} (engine): {problem}" for problem in found]

    merges = [result["merge"] for result in results]
    analyses = [result["analysis"] for result in results]
    syncs = [seconds for seconds, _ in again]
    ratio = sum(analyses) / sum(merges)
    mended = sum(result["mended"] for result in results)
    print()
    say("plain merge per workspace:", merges)
    say("analysis per workspace:", analyses)
    say("engine re-distribution:", syncs, f" ({args.workers} at once: {engine_seconds:.2f} s)")
    verdict = "met" if ratio <= GOAL_ANALYSIS else "NOT met"
    print(
        f"analysis vs plain merge:    {ratio:5.2f}x of the total "
        f"({median_ms(analyses) / median_ms(merges):.2f}x of the medians)"
        f"  (goal <= {GOAL_ANALYSIS}): goal {verdict}"
    )
    if problems:
        print(f"results WRONG in {len(problems)} places, e.g.:")
        for problem in problems[:10]:
            print(f"  {problem}")
    else:
        print(
            f"results right: {len(results)} copies and {len(again)} workspaces checked "
            f"({mended} of the copies' notebooks mended cell by cell after git's merge)"
        )
    ok = ratio <= GOAL_ANALYSIS and not problems
    print("goals met" if ok else "GOALS NOT MET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
