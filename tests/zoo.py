"""The zoo: hostile and broken submissions, each with the score a sound grader gives it.

Every entry is written against 01-softmax's first part (10 points: softmax 4, log_softmax 3,
softmax_jacobian 3; the experiment part's points are added below where they are earned; softmax_jacobian calls the student's own softmax, so it shares softmax's
fate). A cheat's functions are wrong: under a grader that resists it, it earns only what its
honest functions earn. A fault must cost only its author. `write_zoo` lays the zoo out in
nbgrader's submitted layout with honest students around it (graded before and after it), and
returns every student's expected score.

`CROSS` (below) holds the attacks on other students (issue 9): on the shared worker, the
channel back and the coordinator. `write_cross_zoo` lays them out with an honest student
right after each, for a run with one worker (tests/test_isolation.py).
"""
import dataclasses
import json
import os
import stat
from pathlib import Path

import numpy as np

from autograder import classgen
from autograder.notebook import ROOT, load_assignment

SLUG = "01-softmax"
WRONG = "def softmax(z, axis=-1):\n    return np.zeros_like(np.asarray(z, dtype=float))\n"


@dataclasses.dataclass
class Entry:
    kind: str                       # "cheat" or "fault"
    attack: str                     # what it tries, in words
    expected: float                 # its score under a sound grader
    cells: dict = None              # grade_id -> source ({} = solution; None = untouched)
    edit: object = None             # nb -> None: changes the notebook JSON further
    files: dict = dataclasses.field(default_factory=dict)  # files shipped beside it
    raw: bytes = None               # the file's bytes instead of a notebook


def _test_cells(nb):
    return [c for c in nb["cells"] if c.get("metadata", {}).get("nbgrader", {}).get("grade")
            and c["cell_type"] == "code"]


def _blank_tests(nb):
    for cell in _test_cells(nb):
        cell["source"] = "pass"
        cell["metadata"]["nbgrader"]["points"] = 100


def _delete_tests(nb):
    nb["cells"] = [c for c in nb["cells"] if c not in _test_cells(nb)]


def _flip_metadata(nb):
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader")
        if meta:
            meta.update(grade=False, locked=False, solution=False, points=0)
            meta["grade_id"] = "x-" + meta["grade_id"]


def _prefill_outputs(nb):
    for cell in _test_cells(nb):
        cell["execution_count"] = 1
        cell["outputs"] = [{"output_type": "stream", "name": "stdout",
                            "text": "Visible tests passed.\n"}]


def _wrong_kernel(nb):
    nb["metadata"]["kernelspec"] = {"name": "does-not-exist", "display_name": "?", "language": "?"}


_REFERENCE = str(ROOT / "autograder" / "reference" / "softmax.py")

ZOO = {
    # ------------------------------------------------------------------ cheats
    "patches-numpy-comparisons": Entry("cheat", "replaces np.allclose and np.testing", 3.0, {
        "softmax": "import numpy\nnumpy.allclose = lambda *a, **k: True\n"
                   "numpy.testing.assert_allclose = lambda *a, **k: None\n"
                   "numpy.testing.assert_array_almost_equal = lambda *a, **k: None\n" + WRONG}),
    # Rebinding np also breaks the student's own log_softmax: nothing honest is left.
    "shadows-global-names": Entry("cheat", "rebinds np, check and the test helpers", 0.0, {
        "softmax": WRONG + "\nclass _AnyNumpy:\n    def __getattr__(self, name):\n"
                           "        return lambda *a, **k: True\n"
                           "expect_close = lambda *a, **k: None\ncheck = lambda *a, **k: None\n",
        "softmax_jacobian": "def softmax_jacobian(z):\n    return np.zeros((len(z), len(z)))\n"
                            "np = _AnyNumpy()\n"}),
    "silences-tracebacks": Entry("cheat", "custom IPython exception handler, excepthook", 3.0, {
        "softmax": "import sys\nip = get_ipython()\n"
                   "ip.set_custom_exc((BaseException,), lambda *a, **k: None)\n"
                   "sys.excepthook = lambda *a: None\n" + WRONG}),
    "hijacks-import": Entry("cheat", "__import__ returns fakes for the test helpers", 3.0, {
        "softmax": "import builtins, types\n_real_import = builtins.__import__\n"
                   "def _fake_import(name, *args, **kwargs):\n"
                   "    if name.startswith('autograder'):\n"
                   "        fake = types.ModuleType(name)\n"
                   "        fake.check = lambda *a, **k: None\n"
                   "        return fake\n"
                   "    return _real_import(name, *args, **kwargs)\n"
                   "builtins.__import__ = _fake_import\n" + WRONG}),
    "walks-the-stack": Entry("cheat", "looks for the reference in callers' frames and the heap", 3.0, {
        "softmax": "import inspect, gc\n"
                   "def softmax(z, axis=-1):\n"
                   "    for info in inspect.stack():\n"
                   "        scope = dict(info.frame.f_globals, **info.frame.f_locals)\n"
                   "        for value in scope.values():\n"
                   "            mod = getattr(value, '__module__', '') or ''\n"
                   "            if callable(value) and 'reference' in mod and getattr(value, '__name__', '') == 'softmax':\n"
                   "                return value(z, axis)\n"
                   "    for obj in gc.get_objects():\n"
                   "        if callable(obj) and 'reference' in (getattr(obj, '__module__', '') or '') \\\n"
                   "                and getattr(obj, '__name__', '') == 'softmax':\n"
                   "            return obj(z, axis)\n"
                   "    return np.zeros_like(np.asarray(z, dtype=float))\n"}),
    "reads-the-reference": Entry("cheat", "opens the reference code by its path", 3.0, {
        "softmax": "def softmax(z, axis=-1):\n"
                   f"    ns = {{}}\n    exec(open({_REFERENCE!r}).read(), ns)\n"
                   "    return ns['softmax'](z, axis)\n"}),
    "searches-the-disk": Entry("cheat", "searches the file system for reference, solutions, gradebook", 3.0, {
        "softmax": "import os\n_found = None\n"
                   "for top in ['/work', '/root', '/home', '/tmp', '/opt', '/srv', os.getcwd() + '/../..']:\n"
                   "    for folder, dirs, files in os.walk(top):\n"
                   "        dirs[:] = [d for d in dirs if d not in ('.venv', 'node_modules', '.git', 'site-packages', '_build')]\n"
                   "        if folder.endswith('reference') and 'softmax.py' in files:\n"
                   "            _found = os.path.join(folder, 'softmax.py')\n"
                   "            break\n"
                   "    if _found:\n"
                   "        break\n"
                   "def softmax(z, axis=-1):\n"
                   "    if _found:\n"
                   "        ns = {}\n        exec(open(_found).read(), ns)\n"
                   "        return ns['softmax'](z, axis)\n"
                   "    return np.zeros_like(np.asarray(z, dtype=float))\n"}),
    "blanks-test-cells": Entry("cheat", "test cells emptied, their points raised to 100", 0.0, None,
                               edit=_blank_tests),
    "deletes-test-cells": Entry("cheat", "test cells deleted", 0.0, None, edit=_delete_tests),
    "flips-cell-metadata": Entry("cheat", "grade, lock and solution flags flipped, ids renamed",
                                 0.0, None, edit=_flip_metadata),
    "prefilled-outputs": Entry("cheat", "test cells carry pre-filled 'passed' outputs", 0.0, None,
                               edit=_prefill_outputs),
    "lying-array": Entry("cheat", "returns an ndarray subclass whose comparisons always agree", 3.0, {
        "softmax": "class Liar(np.ndarray):\n"
                   "    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):\n"
                   "        return np.ones(np.broadcast(*[np.asarray(i) for i in inputs if hasattr(i, '__len__') or True]).shape, dtype=bool)\n"
                   "    def __eq__(self, other):\n        return True\n"
                   "    def __array_function__(self, func, types, args, kwargs):\n"
                   "        return True\n"
                   "def softmax(z, axis=-1):\n"
                   "    return np.zeros(np.shape(z)).view(Liar)\n"}),
    "mutates-inputs": Entry("cheat", "rewrites its input so a reference computed afterwards agrees", 3.0, {
        "softmax": "def softmax(z, axis=-1):\n"
                   "    z[...] = 0.0\n"
                   "    return np.full(np.shape(z), 1.0 / np.shape(z)[axis])\n"}),
    "ipython-hooks": Entry("cheat", "AST and input transformers, pre_run_cell, display hook", 3.0, {
        "softmax": "import ast\nip = get_ipython()\n"
                   "class _NoAsserts(ast.NodeTransformer):\n"
                   "    def visit_Assert(self, node):\n        return ast.Pass()\n"
                   "ip.ast_transformers.append(_NoAsserts())\n"
                   "ip.input_transformers_post.append(lambda lines: ['pass\\n'] if any('check(' in l for l in lines) else lines)\n"
                   "ip.events.register('pre_run_cell', lambda *a: None)\n"
                   "ip.displayhook.write_output_prompt = lambda: None\n" + WRONG}),
    "ships-fake-numpy": Entry("cheat", "a numpy.py beside the notebook whose comparisons always pass",
                              0.0, None, files={
        "numpy.py": "import sys, importlib\n"
                    "del sys.modules['numpy']\n"
                    "sys.path = [p for p in sys.path if p not in ('', '.')]\n"
                    "_np = importlib.import_module('numpy')\n"
                    "_np.allclose = lambda *a, **k: True\n"
                    "_np.testing.assert_allclose = lambda *a, **k: None\n"
                    "sys.modules['numpy'] = _np\n"}),
    "detects-grading": Entry("cheat", "cheats only when it sees a grader (environment, paths)", 3.0, {
        "softmax": "import os, sys\n"
                   "_graded = any(k.startswith(('NBGRADER', 'AUTOGRADER')) for k in os.environ) \\\n"
                   "    or 'autograded' in os.getcwd() or not os.path.exists(os.path.expanduser('~/.bashrc'))\n"
                   "if _graded:\n"
                   "    np.allclose = lambda *a, **k: True\n"
                   "def softmax(z, axis=-1):\n"
                   "    if _graded:\n        return np.zeros_like(np.asarray(z, dtype=float))\n"
                   "    e = np.exp(z - np.max(z, axis=axis, keepdims=True))\n"
                   "    return e / e.sum(axis=axis, keepdims=True)\n"}),
    # ------------------------------------------------------------------ faults
    "hang-ignoring-signals": Entry("fault", "an infinite loop that ignores SIGINT and SIGTERM", 3.0, {
        "softmax": "import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                   "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                   "def softmax(z, axis=-1):\n    while True:\n        pass\n"}),
    "hang-at-top-level": Entry("fault", "a cell that never finishes", 7.0, {
        "log_softmax": "while True:\n    pass\n"}),
    "exits-the-process": Entry("fault", "os._exit inside a graded function", 7.0, {
        "log_softmax": "import os\ndef log_softmax(z, axis=-1):\n    os._exit(0)\n"}),
    "kills-the-kernel": Entry("fault", "SIGKILL to its own process while the cells run", 7.0, {
        "softmax_jacobian": "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n"}),
    "memory-bomb": Entry("fault", "asks for 32 GiB at once", 7.0, {
        "log_softmax": "def log_softmax(z, axis=-1):\n    hog = np.ones((1 << 17, 1 << 15))\n    return z\n"}),
    "memory-creep": Entry("fault", "fills memory 256 MiB at a time, without bound", 7.0, {
        "log_softmax": "def log_softmax(z, axis=-1):\n    hog = [bytearray(2**28) for _ in range(64)]\n    return z\n"}),
    "output-flood": Entry("fault", "prints 300 MB", 10.0, {
        "softmax_jacobian": "print('x' * 300_000_000)\n"
                            "def softmax_jacobian(z):\n    p = softmax(z)\n    return np.diag(p) - np.outer(p, p)\n"}),
    "leaves-processes": Entry("fault", "starts processes that outlive it (one detached)", 10.0, {
        "softmax_jacobian": "import subprocess\nsubprocess.Popen(['sleep', '600'])\n"
                            "subprocess.Popen(['setsid', 'sleep', '600'], start_new_session=True)\n"
                            "def softmax_jacobian(z):\n    p = softmax(z)\n    return np.diag(p) - np.outer(p, p)\n"}),
    "fork-bomb": Entry("fault", "forks without bound", 7.0, {
        "log_softmax": "import os\ndef log_softmax(z, axis=-1):\n    while True:\n        try:\n            os.fork()\n"
                       "        except OSError:\n            pass\n"}),
    "writes-everywhere": Entry("fault", "overwrites the project, the gradebook, other students' notebooks", 10.0, {
        "softmax_jacobian": "import glob, os\n"
                            f"_targets = [{str(ROOT / 'README.md')!r}, '/tmp/planted-by-student']\n"
                            "_targets += glob.glob('../../*/01-softmax/*.ipynb') + glob.glob('../../../*.db')\n"
                            "_targets += glob.glob('../../../*/gradebook.db')\n"
                            "for target in _targets:\n"
                            "    try:\n        open(target, 'w').write('pwned')\n"
                            "    except OSError:\n        pass\n"
                            "def softmax_jacobian(z):\n    p = softmax(z)\n    return np.diag(p) - np.outer(p, p)\n"}),
    "plants-startup-files": Entry("fault", "plants IPython startup files and sitecustomize for later kernels", 10.0, {
        "softmax_jacobian": "import os\n"
                            "_evil = 'import numpy\\nnumpy.exp = lambda x, *a, **k: 0 * x\\n'\n"
                            "for d in [os.path.expanduser('~/.ipython/profile_default/startup'), '/tmp']:\n"
                            "    try:\n        os.makedirs(d, exist_ok=True)\n"
                            "        open(os.path.join(d, '00-evil.py'), 'w').write(_evil)\n"
                            "        open(os.path.join(d, 'sitecustomize.py'), 'w').write(_evil)\n"
                            "    except OSError:\n        pass\n"
                            "def softmax_jacobian(z):\n    p = softmax(z)\n    return np.diag(p) - np.outer(p, p)\n"}),
    "wrong-kernelspec": Entry("fault", "a kernelspec that does not exist", 10.0, {}, edit=_wrong_kernel),
    "empty-file": Entry("fault", "an empty file", 0.0, raw=b""),
    "truncated-notebook": Entry("fault", "a notebook cut off half way", 0.0, raw=b"truncated"),
    "not-a-notebook": Entry("fault", "valid JSON that is not a notebook", 0.0, raw=b'["not", "a notebook"]'),
    "binary-file": Entry("fault", "a PNG saved under the notebook's name", 0.0,
                         raw=b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))),
    "missing-notebook": Entry("fault", "a submission folder without the notebook", 0.0, raw=None),
}

# Honest noise: correct code that writes to stderr and raises warnings keeps every point.
ZOO["honest-noise"] = Entry("fault", "correct, but prints to stderr and raises RuntimeWarnings", 10.0, {
    "softmax": "import sys, warnings\n"
               "def softmax(z, axis=-1):\n"
               "    print('computing softmax', file=sys.stderr)\n"
               "    warnings.warn('just so you know', RuntimeWarning)\n"
               "    with np.errstate(over='warn'):\n        np.exp(np.array([1000.0]))\n"
               "    e = np.exp(z - np.max(z, axis=axis, keepdims=True))\n"
               "    return e / e.sum(axis=axis, keepdims=True)\n"})

# Honest students graded before and after the zoo (folders are graded in name order).
# The scores above are those of the three functions of the first part (10 points). The
# experiment part (mean_nll, fit_temperature: EXPERIMENT points, read from the assignment) keeps
# the solution's code in every entry; it calls the student's own log_softmax, so it earns its
# points wherever that log_softmax is left honest and the notebook runs to its end.
_FIRST_PART = {"softmax", "log_softmax", "softmax_jacobian"}
EXPERIMENT = sum(t.points for t in load_assignment(SLUG).tests
                 if not set(t.functions) & _FIRST_PART)
_KEEPS_EXPERIMENT = [name for name, e in ZOO.items()
                     if e.cells is not None and e.raw is None and e.edit in (None, _wrong_kernel)
                     and "log_softmax" not in e.cells and name != "shadows-global-names"]
for _name in _KEEPS_EXPERIMENT:
    ZOO[_name] = dataclasses.replace(ZOO[_name], expected=ZOO[_name].expected + EXPERIMENT)

FULL = load_assignment(SLUG).max_score
HONEST = {"000-honest-first": FULL, "honest": FULL, "zzz-honest-last": FULL,
          "zzz-honest-untouched": 0.0}


def write_zoo(folder):
    """Write the zoo and the honest students; return {student_id: expected score}."""
    folder = Path(folder)
    expected = dict(HONEST)
    plan = [(s, SLUG, {} if score else None) for s, score in HONEST.items()]
    classgen.write_class(folder, plan)
    for name, entry in ZOO.items():
        path = folder / name / SLUG / f"{SLUG}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        expected[name] = entry.expected
        if name == "missing-notebook":
            continue
        if entry.raw is not None:
            data = entry.raw
            if name == "truncated-notebook":
                data = json.dumps(classgen.make_notebook(SLUG, {}), indent=1).encode()[:2000]
            path.write_bytes(data)
            continue
        nb = classgen.make_notebook(SLUG, entry.cells)
        if entry.edit:
            entry.edit(nb)
        path.write_text(json.dumps(nb, indent=1))
        for fname, content in entry.files.items():
            (path.parent / fname).write_text(content)
    return expected


# ---------------------------------------------------------------------------------------
# Across students (issue 9): attacks on the shared worker and on the coordinator. Graded as
# one class with `--workers 1`, each attacker followed by an honest student on the same
# worker. Expected scores are "zero", "full" (the assignment's max_score, read from the
# grades, so point splits may change) or None (the folder cannot be a student: it must be
# reported and skipped, the run must go on).

MARKER = "classmate-secret-"            # + 8 hex digits: text only an earlier student's code holds


def _blank(**cells):
    """Every solution cell empty (nothing earns points) except `cells`."""
    return dict({gid: "" for gid in classgen.solution_code(SLUG)}, **cells)


def _with_cell(cells, source, grade_id, first=False):
    """A notebook with one more code cell whose nbgrader grade_id is `grade_id` (any JSON)."""
    def build():
        nb = classgen.make_notebook(SLUG, cells)
        cell = {"cell_type": "code", "execution_count": None, "outputs": [], "source": source,
                "metadata": {"nbgrader": {"grade_id": grade_id, "solution": True}}}
        nb["cells"].insert(1 if first else len(nb["cells"]), cell)
        return nb
    return build


_PLANT = '''import os, sys, site
_evil = "import numpy\\nnumpy.exp = lambda x, *a, **k: 0 * x\\nnumpy.max = lambda *a, **k: 0\\n"
_dirs = set(sys.path) | {os.getcwd(), os.path.expanduser("~"), "/tmp", "/dev/shm", "/", "/dev",
         "/opt/grader", "/opt/grader/sandbox", "/opt", site.getusersitepackages(),
         os.path.expanduser("~/.ipython/profile_default/startup")}
for d in _dirs:
    for name in ("secrets.py", "random.py", "json.py", "sitecustomize.py", "usercustomize.py",
                 "00-evil.py", "zz-evil.pth"):
        try:
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, name), "w") as f:
                f.write(_evil if name.endswith(".py") else "import secrets\\n")
        except OSError:
            pass
'''

_LOCK = '''import os
for d in ("/tmp", "/dev/shm", os.path.expanduser("~")):
    try:
        with open(os.path.join(d, "fill"), "wb") as f:
            while True:
                f.write(b"x" * 2**20)
    except OSError:
        pass
    for mode in (0o555, 0o000):
        try:
            os.chmod(d, mode)
        except OSError:
            pass
'''

_SCAN = r'''import os, re
def _readable_memory(pid="self"):
    """Every readable mapping of a process, as bytes (what an attacker can see)."""
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", 0) as mem:
        for line in maps:
            addr, perms = line.split()[:2]
            lo, hi = (int(x, 16) for x in addr.split("-"))
            if "r" not in perms or "[v" in line or hi - lo > 1 << 28:
                continue
            try:
                mem.seek(lo)
                yield mem.read(hi - lo)
            except (OSError, ValueError, OverflowError):
                continue
def _search(pattern):
    found = []
    pids = ["self"] + [p for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid()]
    for pid in pids:
        try:
            for chunk in _readable_memory(pid):
                found += [m.group() for m in re.finditer(pattern, chunk)]
        except OSError:
            pass
    return found
'''

_STEAL = _SCAN + r'''_stolen = [s for s in _search(rb"def softmax\(z, axis=-1\):\n(?:    .*\n){1,20}")
           if re.search(rb"classmate-secret-[0-9a-f]{8}", s)]
print("stolen:", len(_stolen))
if _stolen:
    print(_stolen[0].decode(errors="replace"))
    exec(_stolen[0].decode(errors="replace"))
'''

def _hidden_code():
    """Looks for the first hidden input of softmax (its raw bytes) in its own memory: during
    the cells (it must not be there) and during the cases (it is: the detector works); prints
    it during the cases and from a thread after the cells (neither may reach the feedback)."""
    from autograder import checks
    raw = np.asarray(checks.find("softmax").cases[0].program["inputs"]["z"], dtype=float).tobytes()
    return _SCAN + f"""import threading, time
_P, _Q = bytes.fromhex("{raw[:8].hex()}"), bytes.fromhex("{raw[8:16].hex()}")
""" + r'''def _count_inputs():
    n = 0
    for chunk in _readable_memory():
        i = chunk.find(_P)
        while i >= 0:
            n += chunk[i + 8:i + 16] == _Q
            i = chunk.find(_P, i + 1)
    return n
print("hidden inputs in memory during the cells:", _count_inputs())
def _late():
    time.sleep(0.5)
    print("LATE-PRINT-OF-HIDDEN-INPUTS")
threading.Thread(target=_late, daemon=True).start()
_counted = []
def softmax(z, axis=-1):
    print("HIDDEN-INPUT:", repr(z))
    if not _counted:
        _counted.append(_count_inputs())
    raise ValueError(f"hidden inputs in memory during the cases: {_counted[0]}")
'''


_FORGE = '''import os
try:
    from sandbox import wire
except ImportError:
    from autograder.sandbox import wire
_frames = [wire.frame_bytes({"event": "case_end", "index": 0, "status": "ok", "outputs": [1]}),
           wire.frame_bytes({"event": "done"})]
for fd in range(3, 256):
    for frame in _frames:
        try:
            os.write(fd, frame)
        except OSError:
            pass
'''

_FORGE_RAW = '''import os, struct
_nested = b"[" * 200000 + b"]" * 200000
_frames = [struct.pack(">QII", 8 + len(_nested), len(_nested), 0) + _nested,
           struct.pack(">Q", 2**40)]
for fd in range(3, 256):
    for frame in _frames:
        try:
            os.write(fd, frame)
        except OSError:
            pass
'''

_FORMULA_ERROR = '''_E = type('=HYPERLINK("http://example.com/x","click")', (Exception,), {})
def softmax(z, axis=-1):
    raise _E('=1+1')
'''

_PROBE_PLANT = _SCAN + '''import os
_secret = "PLANTED" + "-SECRET:" + os.urandom(4).hex() * 4
# PLANTED-SECRET:0123456789abcdef0123456789abcdef  (the planter's code itself, as job data)
_keep = [(_secret * 1000).encode()]
for d in ("/tmp", "/dev/shm", os.path.expanduser("~"), "/", "/opt/grader", "/dev", "/var/tmp"):
    try:
        with open(os.path.join(d, "planted-by-the-previous-notebook"), "w") as f:
            f.write(_secret)
    except OSError:
        pass
os.chmod("/tmp", 0o555)
print("secrets in my memory:", len(_search(rb"PLANTED-SECRET:[0-9a-f]{32}")))
'''

# The probe reports what it sees as one JSON line in its printed output (kept by the grader).
_PROBE = _SCAN + r'''import json, os
def _mounts():
    out = []
    for line in open("/proc/self/mountinfo"):
        left, right = line.split(" - ")
        fields = left.split()
        out.append({"point": fields[4], "options": fields[5].split(","),
                    "fstype": right.split()[0], "super": right.split()[2]})
    return out
_scratch = {"/tmp", "/dev/shm"}
_mine = _mounts()
_planted = [p for d in ("/tmp", "/dev/shm", os.path.expanduser("~"), "/", "/opt/grader", "/dev", "/var/tmp")
            for p in [os.path.join(d, "planted-by-the-previous-notebook")] if os.path.lexists(p)]
_secrets = [s for s in _search(rb"PLANTED-SECRET:[0-9a-f]{32}")]
_writable = []
for m in _mine:
    if m["point"] in _scratch or m["point"].startswith("/proc"):
        continue
    try:
        open(os.path.join(m["point"], ".probe"), "w").close()
        _writable.append(m["point"])
    except OSError:
        pass
print("PROBE " + json.dumps({
    "rw_mounts": [m["point"] for m in _mine if "rw" in m["options"]],
    "scratch": {m["point"]: [m["fstype"], "size=" in m["super"]] for m in _mine if m["point"] in _scratch},
    "scratch_listing": {d: sorted(os.listdir(d)) for d in _scratch},
    "tmp_mode": oct(os.stat("/tmp").st_mode & 0o7777),
    "planted_files": _planted, "secrets_in_memory": len(_secrets),
    "writable_outside_scratch": _writable}))
'''


@dataclasses.dataclass
class CrossEntry:
    finding: int                    # the finding this instance belongs to
    attack: str                     # what it tries, in words
    expected: str                   # "zero", "full" or None (reported, not graded)
    write: object                   # (path of the notebook to create, folder) -> None
    exact: bool = False             # the folder is named `name` exactly (no order prefix)


def _nb(cells=None, build=None):
    def write(path, folder):
        path.parent.mkdir(parents=True, exist_ok=True)
        nb = build() if build else classgen.make_notebook(SLUG, cells)
        path.write_text(json.dumps(nb, indent=1))
    return write


def _raw(data, mode=None):
    def write(path, folder):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        if mode is not None:
            path.chmod(mode)
    return write


def _symlink(target, level="notebook"):
    """The notebook (or its assignment folder, or the student folder) as a symbolic link."""
    def write(path, folder):
        if level == "notebook":
            path.parent.mkdir(parents=True, exist_ok=True)
            path.symlink_to(target(folder))
        elif level == "assignment":
            path.parent.parent.mkdir(parents=True, exist_ok=True)
            path.parent.symlink_to(target(folder))
        else:
            path.parent.parent.symlink_to(target(folder))
    return write


def _special(kind):
    def write(path, folder):
        path.parent.mkdir(parents=True, exist_ok=True)
        if kind == "fifo":
            os.mkfifo(path)
        else:
            os.mknod(path, 0o600 | stat.S_IFCHR, os.makedev(1, 5))   # like /dev/zero
    return write


def _renamed(*names):
    """Notebooks saved under other names (a browser's `01-softmax (1).ipynb`): the first is
    the solution, the others untouched; plus a link, which must never be picked."""
    def write(path, folder):
        path.parent.mkdir(parents=True, exist_ok=True)
        for i, name in enumerate(names):
            nb = classgen.make_notebook(SLUG, {} if i == 0 else None)
            (path.parent / name).write_text(json.dumps(nb, indent=1))
        (path.parent / "zz-link.ipynb").symlink_to(f"/proc/self/cwd/solutions/{SLUG}/{SLUG}.ipynb")
    return write


_HONEST_FOLDER = "00-b-honest"
_NOTEBOOK_OF = lambda folder, student: folder / student / SLUG / f"{SLUG}.ipynb"  # noqa: E731


def _honest_marked(k):
    """The solution, its softmax carrying a comment only this student's code holds."""
    code = classgen.solution_code(SLUG)
    code["softmax"] = code["softmax"].replace(
        "def softmax(z, axis=-1):\n", f"def softmax(z, axis=-1):\n    # {MARKER}{k:08x}\n", 1)
    return code

CROSS = {
    # 1. state carries over between students
    "plants-modules-and-startup-files": CrossEntry(
        1, "writes secrets.py, sitecustomize.py, .pth and IPython startup files into every "
           "folder on sys.path, home, /tmp, /dev/shm, / and /opt/grader", "zero",
        _nb(_blank(softmax=_PLANT))),
    "locks-and-fills-the-scratch": CrossEntry(
        1, "fills /tmp, /dev/shm and home, then chmods them 0555 and 0000", "zero",
        _nb(_blank(softmax=_LOCK))),
    # 2. memory carries over (the honest student before it has a marked softmax)
    "reads-an-earlier-students-memory": CrossEntry(
        2, "scans its own memory and every process's for an earlier student's softmax and runs it",
        "zero", _nb(_blank(softmax=_STEAL))),
    # 3. links are followed
    "links-to-the-solution": CrossEntry(
        3, "the notebook is a link to /proc/self/cwd/solutions/...", "zero",
        _symlink(lambda folder: f"/proc/self/cwd/solutions/{SLUG}/{SLUG}.ipynb")),
    "links-to-a-classmate": CrossEntry(
        3, "the notebook is a link to a classmate's notebook", "zero",
        _symlink(lambda folder: _NOTEBOOK_OF(folder, _HONEST_FOLDER))),
    "links-its-assignment-folder": CrossEntry(
        3, "the assignment folder is a link to a classmate's", "zero",
        _symlink(lambda folder: folder / _HONEST_FOLDER / SLUG, "assignment")),
    "links-its-student-folder": CrossEntry(
        3, "the student folder is a link to a classmate's", None,
        _symlink(lambda folder: folder / _HONEST_FOLDER, "student")),
    # 4. one submission stops the whole class
    "forges-result-frames": CrossEntry(
        4, "writes forged case_end (outputs [1]) and done frames to every descriptor", "zero",
        _nb(_blank(softmax=_FORGE))),
    "forges-malformed-frames": CrossEntry(
        4, "writes a frame of 200,000 nested brackets and one claiming 1 TB", "zero",
        _nb(_blank(softmax=_FORGE_RAW))),
    "grade-id-is-a-list": CrossEntry(
        4, "a code cell whose metadata.nbgrader.grade_id is a list", "full",
        _nb(build=_with_cell({}, "x = 1\n", ["softmax"]))),
    "grade-id-is-a-dict-first": CrossEntry(
        4, "the first code cell's grade_id is a dict", "full",
        _nb(build=_with_cell({}, "y = 2\n", {"a": 1}, first=True))),
    "a-5000-digit-integer": CrossEntry(
        4, "a notebook file holding a 5000-digit integer", "zero",
        _raw(b'{"cells": [], "metadata": {"n": ' + b"7" * 5000 + b"}}")),
    "200000-nested-brackets": CrossEntry(
        4, "a notebook file holding 200,000 nested brackets", "zero",
        _raw(b'{"cells": ' + b"[" * 200000 + b"]" * 200000 + b"}")),
    "links-to-proc-self-mem": CrossEntry(
        4, "the notebook is a link to /proc/self/mem", "zero",
        _symlink(lambda folder: "/proc/self/mem")),
    "is-a-fifo": CrossEntry(4, "the notebook is a named pipe (reading it would block)", "zero",
                            _special("fifo")),
    "is-a-device": CrossEntry(4, "the notebook is a character device like /dev/zero", "zero",
                              _special("device")),
    "mode-000": CrossEntry(4, "an untouched notebook that nobody may read (mode 000)", "zero",
                           _raw(json.dumps(classgen.make_notebook(SLUG, None)).encode(), 0)),
    "name-not-utf8-\udce9": CrossEntry(4, "a student folder name that is not valid UTF-8", None,
                                       _nb({}), exact=True),
    "name-too-long-" + "x" * 116: CrossEntry(4, "a 130-character student id", None, _nb({}), exact=True),
    # 5. exports harm the instructor
    "=2+5": CrossEntry(5, "a folder named like a spreadsheet formula", "full", _nb({}), exact=True),
    "raises-a-formula": CrossEntry(
        5, "raises an exception named =HYPERLINK(...) with message =1+1", "zero",
        _nb(_blank(softmax=_FORMULA_ERROR))),
    "name-\x1b]0;owned\x07\x1b[2J": CrossEntry(
        5, "a folder name with escape sequences (window title, clear screen)", None, _nb({}),
        exact=True),
    # 6. hidden inputs reach the feedback page
    "prints-hidden-inputs": CrossEntry(
        6, "looks for the job in its memory during the cells, prints the hidden inputs during "
           "the cases and from a thread after the cells", "zero", _nb(build=lambda: classgen.make_notebook(SLUG, _blank(softmax=_hidden_code())))),
    # issue 10: the notebook saved under another name is graded, with a note
    "saved-by-a-browser": CrossEntry(
        0, f"the only notebook is `{SLUG} (1).ipynb`", "full", _renamed(f"{SLUG} (1).ipynb")),
    "several-renamed-notebooks": CrossEntry(
        0, "three notebooks, none with the expected name", "full",
        _renamed(f"{SLUG} (2).ipynb", "Untitled.ipynb", "notes.ipynb")),
    # the property itself: a probe after a planter (tests/test_isolation.py reads its report)
    "plants-for-the-probe": CrossEntry(
        1, "leaves files everywhere, a secret in memory and /tmp at mode 0555", "zero",
        _nb(_blank(softmax=_PROBE_PLANT))),
}
PROBE_AFTER = "plants-for-the-probe"


def probe_student():
    """The folder of the probe, graded right after the planter."""
    return f"{list(CROSS).index(PROBE_AFTER) + 1:02d}-b-probe"


def write_cross_zoo(folder):
    """Lay out CROSS in one class: entry k as `NN-a-<name>`, then an honest `NN-b-honest`.

    Returns {folder name: "zero" | "full" | None}. Folders are graded in name order, so with
    one worker each honest student runs right after its attacker, on the same worker. Every
    honest student's softmax carries a marker comment (for the memory thief to look for); the
    planter is followed by the probe, an honest student whose first cell reports what it sees.
    """
    folder = Path(folder)
    expected = {_HONEST_FOLDER: "full"}
    _nb(_honest_marked(0))(_NOTEBOOK_OF(folder, _HONEST_FOLDER), folder)
    for k, (name, entry) in enumerate(CROSS.items(), start=1):
        attacker = name if entry.exact else f"{k:02d}-a-{name}"
        entry.write(_NOTEBOOK_OF(folder, attacker), folder)
        expected[attacker] = entry.expected
        if name == PROBE_AFTER:
            honest, write = probe_student(), _nb(build=_with_cell({}, _PROBE, None, first=True))
        else:
            honest, write = f"{k:02d}-b-honest", _nb(_honest_marked(k))
        write(_NOTEBOOK_OF(folder, honest), folder)
        expected[honest] = "full"
    return expected
