"""The benchmark scripts still run end to end (at toy sizes; their goals are judged at full size).

Benchmarks are not timed tests: this only proves that a change did not break a script, so the
numbers in bench/ can always be measured again.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"

RUNS = [
    ("roster_plan.py", ["--students", "50", "--repeat", "1"]),
    ("roster.py", ["--students", "20"]),
    ("dashboard.py", ["--students", "20", "--repeat", "1"]),
    ("sync.py", ["--students", "3", "--skip-naive", "--rounds", "1", "--workers", "2"]),
    ("sync_report.py", ["--students", "3", "--users", "2", "--workers", "2"]),
    (
        "distribute.py",
        ["--students", "3", "--course-students", "2", "--weeks", "1", "--skip-naive"],
    ),
    ("distribute_servers.py", ["--servers", "2", "--rounds", "1", "--weeks", "1"]),
    ("load.py", ["--quick"]),
]


@pytest.mark.parametrize(("script", "args"), RUNS, ids=[r[0] for r in RUNS])
def test_benchmark_runs_to_its_verdict(script, args):
    result = subprocess.run(
        [sys.executable, str(BENCH / script), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    # Exit 0 (goals met) or 1 (goals not met at this toy size); anything else is a crash.
    assert result.returncode in (0, 1), result.stderr[-2000:]
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    assert "goal" in result.stdout.lower(), result.stdout[-2000:]
