"""Points per behaviour: how one test cell's points are earned.

Each graded function declares its behaviours next to its hidden cases (`Check.behaviours`,
e.g. a loss function's loss and its gradient). A test cell's points are split between the
behaviours of its functions in proportion to their declared points, and a behaviour earns its
share only when every case it covers passes in what it judges. So a mistake costs the
behaviours it breaks, not the whole function. A Check that declares none has one behaviour
with all the points (all or nothing, as before).
"""
import ast
import re

from . import find, judge, plausible_upstream, upstream_problem

MAX_PARSED_CHARS = 200_000       # longer cells are not parsed by the trusted grader


def _diagnosis(function, case, problem):
    return {"function": function, "case": case.name,
            "diagnosis": problem[len(case.name) + 2:], "problem": problem}


def _judged(function, outcomes, compile_errors, upstream_ok):
    """[(behaviour, diagnoses, notes)] for one function."""
    judged = []
    for behaviour in find(function).plan:
        diagnoses, notes = [], []
        for k, case in enumerate(find(function).cases):
            if not behaviour.covers(case):
                continue
            outcome = outcomes.get(f"{function}/{k}", {"status": "skipped", "error": "not run"})
            lenient = bool(case.upstream) and all(
                upstream_ok(f) for f in case.upstream.functions or (case.upstream.function,))
            if function in compile_errors and outcome.get("status") != "ok":
                problem = f"{case.name}: {compile_errors[function]}"
            else:
                problem = judge(case, outcome, behaviour, lenient)
            if problem:
                diagnoses.append(_diagnosis(function, case, problem))
            elif lenient and (why := upstream_problem(case, outcome)) and \
                    plausible_upstream(case.upstream, outcome.get("outputs") or {}):
                named = re.match(r"your (\w+) is wrong", why)      # which of several upstreams
                up = named.group(1) if named else case.upstream.function
                note = (f"Your {up} is wrong (see its test), so {function} was judged on what "
                        f"your {up} gave it: where it is right for that, it kept its points.")
                notes += [note] if note not in notes else []
        judged.append((behaviour, diagnoses, notes))
    # Leaving the inputs alone earns nothing when no result is right (a stub returning zeros).
    # A case judged by its `score` hook (an experiment's outcome) judges results too.
    judges_outputs = {b.name: any(case.score is not None
                                  or any(b.judges(n) for n in set(case.expect) - set(case.unchanged))
                                  for case in find(function).cases if b.covers(case))
                      for b, _, _ in judged}
    if not any(judges_outputs[b.name] and not d for b, d, _ in judged):
        for b, diagnoses, _ in judged:
            case = next((c for c in find(function).cases if b.covers(c)), None)
            if not judges_outputs[b.name] and not diagnoses and case is not None:
                diagnoses.append(_diagnosis(function, case, f"{case.name}: no result of this "
                                            "function is right, so leaving its inputs unchanged "
                                            "earns nothing"))
    return judged


def score_test(functions, points, outcomes, compile_errors=None):
    """The record of one test cell: its points, behaviours, diagnoses and notes.

    outcomes: {"<function>/<k>": outcome} from the sandbox; compile_errors: {function: why}
    for graded functions whose cell does not compile (see `compile_errors`). A function graded
    on another's output is judged on a wrong one only when that other function gets at least
    one of its behaviours right (itself judged the same way on its own upstream, down to one
    judged strictly); otherwise there is nothing to be right for.
    """
    compile_errors = compile_errors or {}
    earns = {}

    def upstream_ok(up):
        # A chain (fit_temperature on mean_nll on log_softmax) is judged link by link: the
        # upstream may itself be judged on its own upstream, which must earn something too.
        if up not in earns:
            earns[up] = False           # no cycles
            earns[up] = any(not d for _, d, _ in _judged(up, outcomes, compile_errors,
                                                          upstream_ok))
        return earns[up]

    judged = [(f, b, d, n) for f in functions
              for b, d, n in _judged(f, outcomes, compile_errors, upstream_ok)]
    total = sum(b.points for _, b, _, _ in judged) or 1.0
    behaviours, notes = [], []
    for function, behaviour, diagnoses, found in judged:
        share = points * behaviour.points / total
        behaviours.append({"name": behaviour.name, "function": function,
                           "points": 0.0 if diagnoses else share, "max_points": share,
                           "passed": not diagnoses, "diagnoses": diagnoses})
        notes += [n for n in found if n not in notes]
    diagnoses, seen = [], set()
    for b in behaviours:                # each failing case once, in the order of the cases
        for d in b["diagnoses"]:
            if (d["function"], d["case"], d["problem"]) not in seen:
                seen.add((d["function"], d["case"], d["problem"]))
                diagnoses.append(d)
    earned = sum(b["points"] for b in behaviours)
    return {"functions": list(functions), "points": earned, "max_points": points,
            "passed": all(b["passed"] for b in behaviours), "diagnoses": diagnoses,
            "behaviours": behaviours, "notes": notes}


def compile_errors(student_code):
    """{grade_id: "SyntaxError ..."} for the student's cells that do not compile.

    Parsed here, in the trusted grader, so that a cell that never defined its function is
    reported as the syntax error it is, with its line and a likely cause.
    """
    errors = {}
    for gid, source in student_code:
        if len(source) > MAX_PARSED_CHARS:
            continue
        try:
            ast.parse(source)
        except SyntaxError as exc:
            line = (exc.text or "").strip()
            cause = ""
            if line.startswith(("print ", "print\t", 'print"', "print'")):
                cause = " This is a Python 2 print statement: write print(...) with parentheses."
            elif isinstance(exc, TabError):
                cause = " Indent with spaces only (tabs and spaces are mixed here)."
            where = f" (`{line[:80]}`)" if line else ""
            errors[gid] = (f"the cell of `{gid}` does not compile, so `{gid}` was never "
                           f"defined: {type(exc).__name__} on line {exc.lineno}{where}: "
                           f"{exc.msg}{'' if exc.msg.endswith(('.', '?', '!')) else '.'}{cause}")
        except (ValueError, RecursionError, MemoryError) as exc:
            errors[gid] = f"the cell of `{gid}` could not be parsed: {type(exc).__name__}"
    return errors
