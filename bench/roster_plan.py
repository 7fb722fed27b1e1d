"""Time parse + plan of a 5000-student Canvas export against csv.reader on the same bytes.

Usage: .venv/bin/python bench/roster_plan.py [--students N] [--repeat R]
Prints the best wall time of each, their ratio, and whether the goal (plan under 1 s) is met.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.roster import make_plan, parse_roster

GOAL_SECONDS = 1.0


@dataclass
class HubUser:
    admin: bool = False
    groups: list[str] = field(default_factory=list)


def canvas_gradebook(students: int, assignments: int = 25) -> bytes:
    """A Canvas export shaped like a real term's: pseudo-rows, many assignment columns."""
    titles = [f"Assignment {i} ({70000 + i})" for i in range(assignments)]
    totals = ["Current Score", "Unposted Current Score", "Final Score", "Unposted Final Score"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", *titles, *totals])
    writer.writerow(["", "", "", "", "", *["Manual Posting"] * assignments, *[""] * 4])
    writer.writerow(
        ["    Points Possible", "", "", "", "", *["10.00"] * assignments, *["(read only)"] * 4]
    )
    for i in range(students):
        login = f"student{i:05d}@university.example" if i % 3 else f"stu{i:05d}"
        section = "CS 101 Lab 2 and CS 101 Lecture" if i % 4 == 0 else "CS 101 Lecture"
        scores = [f"{(i * 7 + a) % 11}.00" for a in range(assignments)]
        writer.writerow(
            [
                f"Surname{i}, Given{i}",
                100000 + i,
                f"S{i:06d}",
                login,
                section,
                *scores,
                *["88.5"] * 4,
            ]
        )
    writer.writerow(["Student, Test", 999999, "", "", "CS 101 Lecture", *[""] * (assignments + 4)])
    return out.getvalue().encode("utf-8-sig")


def best_of(repeat: int, work) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    data = canvas_gradebook(args.students)
    # The course already has half of them; the Hub knows them and a few hundred others.
    enrolled = {
        f"stu{i:05d}" if i % 3 == 0 else f"student{i:05d}" for i in range(0, args.students, 2)
    }
    hub_users = {name: HubUser(groups=["course-cs101"]) for name in enrolled}
    hub_users.update({f"other{i}": HubUser(groups=["course-math"]) for i in range(500)})

    def baseline() -> None:
        list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))

    def parse_and_plan() -> None:
        # Canvas' pseudo-rows count toward the row cap too: leave room for them.
        parsed = parse_roster(data, "grades.csv", max_rows=max(20_000, args.students + 10))
        plan = make_plan(
            parsed,
            enrolled=enrolled,
            hub_users=hub_users,
            instructor_groups={"instructors"},
            course_group="course-cs101",
            remove="group",
        )
        assert len(plan.add) + len(plan.keep) == args.students

    base = best_of(args.repeat, baseline)
    ours = best_of(args.repeat, parse_and_plan)
    print(f"file: {args.students} students, {len(data) / 1e6:.1f} MB, best of {args.repeat}")
    print(f"baseline csv.reader:  {base * 1000:8.1f} ms")
    print(f"parse_roster+plan:    {ours * 1000:8.1f} ms")
    print(f"ratio:                {ours / base:8.1f} x baseline")
    met = ours < GOAL_SECONDS
    print(f"goal (< {GOAL_SECONDS:.0f} s):         {'met' if met else 'MISSED'}")
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
