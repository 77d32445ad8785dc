"""Late work: when a notebook was submitted, when it was due, and what lateness costs.

The submission time is nbgrader's `timestamp.txt` in the submission's folder
(`SUBMITTED/<student>/<assignment>/timestamp.txt`, written by `nbgrader submit` and kept by
`nbgrader collect`), e.g. `2026-12-01 17:03:12.345678 UTC`; a time without a zone is UTC.
A folder without one has no submission time: it is never counted late.

Due dates and the policy come from a small JSON file (`--deadlines FILE`) and/or the command
line (`--due SLUG=WHEN`, `--late-policy`), the command line winning:

    {"due": {"01-softmax": "2026-12-01T17:00:00Z"},
     "policy": {"method": "per_day", "points": 1, "cap": 4}}

Policies (the penalty is in points, taken off the total of automatic and hand scores, and a
total never goes below 0, as in `nbgrader export`):

- `none`: late work is flagged, never penalised;
- `per_hour` / `per_day`: `points` for every started hour / day after the due date;
- `cap`: the most a penalty can be (no cap when absent).
"""
import dataclasses
import datetime
import json
import math
from pathlib import Path

METHODS = ("none", "per_hour", "per_day")
UNIT_SECONDS = {"per_hour": 3600.0, "per_day": 86400.0}


class LateError(ValueError):
    """A due date, a policy or a deadlines file that cannot be understood."""


def parse_time(text, what="time"):
    """An aware datetime from an ISO-like text ("2026-12-01 17:03:12.345 UTC", "...Z")."""
    import dateutil.parser
    import dateutil.tz
    try:
        when = dateutil.parser.parse(str(text).strip(), tzinfos={"UTC": dateutil.tz.UTC})
    except (ValueError, OverflowError):
        raise LateError(f"cannot read the {what} {text!r}; write it as 2026-12-01T17:00:00Z") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    return when


@dataclasses.dataclass
class Policy:
    method: str = "none"
    points: float = 0.0
    cap: float = None

    def __post_init__(self):
        if self.method not in METHODS:
            raise LateError(f"unknown late policy {self.method!r}; use one of {', '.join(METHODS)}")
        if self.points < 0 or (self.cap is not None and self.cap < 0):
            raise LateError("late penalty points and cap must not be negative")

    def penalty(self, seconds_late):
        """Points taken off for a submission `seconds_late` after its due date."""
        if seconds_late <= 0 or self.method == "none":
            return 0.0
        units = math.ceil(seconds_late / UNIT_SECONDS[self.method])
        points = units * self.points
        return points if self.cap is None else min(points, self.cap)

    @classmethod
    def parse(cls, text):
        """"none", "per_hour:0.5", "per_day:1:cap=4" (points per started unit, optional cap)."""
        parts = [p.strip() for p in str(text).split(":") if p.strip()]
        if not parts:
            raise LateError("an empty late policy; use none, per_hour:P or per_day:P[:cap=C]")
        method, points, cap = parts[0], 0.0, None
        try:
            for p in parts[1:]:
                if p.startswith("cap="):
                    cap = float(p[4:])
                else:
                    points = float(p)
        except ValueError:
            raise LateError(f"cannot read the late policy {text!r}; "
                            "use none, per_hour:P or per_day:P[:cap=C]") from None
        return cls(method, points, cap)


@dataclasses.dataclass
class Deadlines:
    due: dict = dataclasses.field(default_factory=dict)     # slug -> aware datetime
    policy: Policy = dataclasses.field(default_factory=Policy)

    def judge(self, slug, timestamp):
        """{"timestamp", "due", "seconds_late", "late", "penalty"} for one submission."""
        due = self.due.get(slug)
        seconds = (timestamp - due).total_seconds() if (timestamp and due) else 0.0
        late = seconds > 0
        return {"timestamp": timestamp.isoformat() if timestamp else None,
                "due": due.isoformat() if due else None,
                "seconds_late": max(seconds, 0.0), "late": late,
                "penalty": self.policy.penalty(seconds) if late else 0.0}

    def to_json(self):
        return {"due": {s: d.isoformat() for s, d in sorted(self.due.items())},
                "policy": {"method": self.policy.method, "points": self.policy.points,
                           "cap": self.policy.cap}}


def load(path=None, due_args=(), policy_text=None, slugs=None, saved=None):
    """Deadlines from a file, then `--due SLUG=WHEN` and `--late-policy` on top.

    saved: the workspace's previous deadlines (a dict from to_json), used when neither a file
    nor options are given, so a regrade of one student keeps the class's deadlines.
    """
    data = {}
    if path:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise LateError(f"cannot read the deadlines file {path}: {exc.strerror}") from None
        except ValueError as exc:
            raise LateError(f"the deadlines file {path} is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise LateError(f"the deadlines file {path} must hold a JSON object")
    elif saved and not due_args and not policy_text:
        data = saved
    due = {}
    for slug, when in (data.get("due") or {}).items():
        due[slug] = parse_time(when, f"due date of {slug}")
    for arg in due_args:
        slug, sep, when = arg.partition("=")
        if not sep:
            raise LateError(f"--due {arg!r}: write it as SLUG=2026-12-01T17:00:00Z")
        due[slug.strip()] = parse_time(when, f"due date of {slug}")
    if policy_text:
        policy = Policy.parse(policy_text)
    else:
        p = data.get("policy") or {}
        try:
            policy = Policy(p.get("method", "none"), float(p.get("points", 0) or 0),
                            None if p.get("cap") is None else float(p["cap"]))
        except (TypeError, ValueError):
            raise LateError(f"cannot read the late policy {p!r}") from None
    if slugs is not None:
        unknown = sorted(set(due) - set(slugs))
        if unknown:
            raise LateError(f"due dates for unknown assignments: {', '.join(unknown)}; "
                            f"the assignments are {', '.join(sorted(slugs))}")
    return Deadlines(due, policy)


def read_timestamp(folder):
    """The time in nbgrader's timestamp.txt in `folder`, or None (absent or unreadable)."""
    path = Path(folder) / "timestamp.txt"
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > 200:
            return None
        return parse_time(path.read_text(encoding="utf-8", errors="replace"), "timestamp")
    except (OSError, LateError):
        return None
