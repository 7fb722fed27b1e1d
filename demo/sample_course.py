"""A sample course repository (notes and assignments as real notebooks) and a sample roster."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Hubclass demo",
    "GIT_AUTHOR_EMAIL": "demo@hubclass.invalid",
    "GIT_COMMITTER_NAME": "Hubclass demo",
    "GIT_COMMITTER_EMAIL": "demo@hubclass.invalid",
}


def notebook(*cells: tuple[str, str]) -> str:
    """Return an nbformat 4 notebook with (kind, source) cells, kind 'md' or 'code'."""
    nb_cells = []
    for kind, source in cells:
        if kind == "md":
            nb_cells.append({"cell_type": "markdown", "metadata": {}, "source": source})
        else:
            nb_cells.append(
                {
                    "cell_type": "code",
                    "execution_count": None,
                    "metadata": {},
                    "outputs": [],
                    "source": source,
                }
            )
    return json.dumps(
        {
            "cells": nb_cells,
            "metadata": {
                "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                "language_info": {"name": "python"},
            },
            "nbformat": 4,
            "nbformat_minor": 5,
        },
        indent=1,
    )


FILES = {
    "README.md": "# Intro to Python\n\nNotes in `notes/`, assignments in `assignments/`.\n",
    "notes/01-variables.ipynb": notebook(
        ("md", "# 1. Variables\n\nA name points at a value."),
        ("code", "greeting = 'hello'\nprint(greeting)"),
    ),
    "notes/02-lists.ipynb": notebook(
        ("md", "# 2. Lists\n\nLists keep things in order."),
        ("code", "primes = [2, 3, 5, 7]\nsum(primes)"),
    ),
    "assignments/hw1/hw1.ipynb": notebook(
        ("md", "# Homework 1\n\nWrite `double(x)` that returns twice `x`."),
        ("code", "def double(x):\n    # your code here\n    ...\n"),
        ("code", "assert double(2) == 4"),
    ),
    "assignments/hw1/data.csv": "x,y\n1,2\n2,4\n3,6\n",
}


def git(*args: str, cwd: Path) -> None:
    env = {**os.environ, **GIT_IDENTITY, "GIT_CONFIG_GLOBAL": os.devnull}
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


def make_course_repo(bare: Path) -> Path:
    """Create a bare repository with the sample notes and assignment (once)."""
    if (bare / "HEAD").exists():
        return bare
    bare.parent.mkdir(parents=True, exist_ok=True)
    git("init", "-q", "--bare", "-b", "main", str(bare), cwd=bare.parent)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        git("init", "-q", "-b", "main", cwd=work)
        for name, text in FILES.items():
            path = work / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        git("add", "-A", cwd=work)
        git("commit", "-q", "-m", "Week 1 notes and homework 1", cwd=work)
        git("push", "-q", str(bare), "main", cwd=work)
    return bare


# The Hub users the sample roster makes (email local parts), and the sample assignment.
SAMPLE_STUDENTS = ["ada", "grace", "alan", "emmy"]
SAMPLE_ASSIGNMENT = {"slug": "hw1", "title": "Homework 1", "path": "assignments/hw1"}

# A Canvas gradebook export, as instructors download it.
SAMPLE_ROSTER = """\ufeffStudent,ID,SIS User ID,SIS Login ID,Section,Homework 1 (101),Current Score
    Points Possible,,,,,10,
"Lovelace, Ada",1001,S1001,ada@example.edu,Section 01,9,90
"Hopper, Grace",1002,S1002,grace@example.edu,Section 01,10,100
"Turing, Alan",1003,S1003,alan@example.edu,Section 02,8,80
"Noether, Emmy",1004,S1004,emmy@example.edu,Section 02,,
"Student, Test",1005,,,Section 01,,
"""


def write_sample_roster(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(SAMPLE_ROSTER, encoding="utf-8")
    return path
