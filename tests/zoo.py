"""The zoo: hostile and broken submissions, each with the score a sound grader gives it.

Every entry is written against 01-softmax (10 points: softmax 4, log_softmax 3,
softmax_jacobian 3; softmax_jacobian calls the student's own softmax, so it shares softmax's
fate). A cheat's functions are wrong: under a grader that resists it, it earns only what its
honest functions earn. A fault must cost only its author. `write_zoo` lays the zoo out in
nbgrader's submitted layout with honest students around it (graded before and after it), and
returns every student's expected score.
"""
import dataclasses
import json
from pathlib import Path

from autograder import classgen
from autograder.notebook import ROOT

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
HONEST = {"000-honest-first": 10.0, "honest": 10.0, "zzz-honest-last": 10.0,
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
