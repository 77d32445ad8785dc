"""How long regrading one student takes, against the same command with nbgrader imported whole.

    cd /work/main && .venv/bin/python benchmarks/regrade_one.py [--repeat 3]

A class of 8 students x every released assignment is graded once into a temporary
workspace; then `python -m autograder grade SUBMITTED --workspace WS --student S --force`
(every assignment of one student regraded, the rest kept) is timed, as an instructor runs it:

- baseline: the same command, in a Python that imports the `nbgrader` package first (what
  `from nbgrader.api import Gradebook` did before: nbgrader's __init__ imports its Jupyter
  server extensions, and nbformat's jsonschema compiles an IRI grammar);
- ours: the command as shipped (autograder.gradebook imports nbgrader.api alone).

Both import times alone are measured too (`import nbgrader.api` against
`import autograder.gradebook`). Printed: the median of --repeat runs each, run alternately in
this one process, and the ratios ours / baseline.
"""
import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autograder import classgen, release  # noqa: E402

STUDENTS = 8


def timed(argv):
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed:\n{proc.stdout}{proc.stderr}")
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="regrade-one-"))
    try:
        plan = []
        slugs = [s for s in release.slugs() if (ROOT / "exercises" / s / f"{s}.ipynb").is_file()]
        for i in range(STUDENTS):
            for slug in slugs:
                variants = classgen.variants(slug)
                name, cells, _ = variants[i % len(variants)]
                plan.append((f"student{i}", slug, cells))
        classgen.write_class(tmp / "submitted", plan)
        grade = ["-m", "autograder", "grade", str(tmp / "submitted"), "--workspace",
                 str(tmp / "ws"), "--workers", "1"]
        timed([sys.executable, *grade])
        one = [*grade, "--student", "student3", "--force"]
        whole = "import sys, runpy; import nbgrader; sys.argv = ['autograder', *sys.argv[1:]]; " \
                "runpy.run_module('autograder', run_name='__main__')"
        runs = {"import: baseline (import nbgrader.api)": [sys.executable, "-c",
                                                           "import nbgrader.api"],
                "import: ours (import autograder.gradebook)": [sys.executable, "-c",
                                                               "import autograder.gradebook"],
                "regrade one student: baseline": [sys.executable, "-c", whole, *one[2:]],
                "regrade one student: ours": [sys.executable, *one]}
        times = {k: [] for k in runs}
        for _ in range(args.repeat):
            for name, argv in runs.items():
                times[name].append(timed(argv))
        medians = {k: statistics.median(v) for k, v in times.items()}
        print(f"{len(slugs)} notebooks regraded for one student; median of {args.repeat} runs")
        for name, seconds in medians.items():
            print(f"{name:45} {seconds:6.2f} s")
        for what in ("import", "regrade one student"):
            base, ours = medians[f"{what}: baseline" + (" (import nbgrader.api)" if what == "import"
                                                        else "")], None
            ours = next(v for k, v in medians.items() if k.startswith(f"{what}: ours"))
            print(f"{what}: ours / baseline = {ours / base:.2f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
