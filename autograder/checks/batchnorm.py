"""Hidden cases for 05-batchnorm.

The inputs are built to make the usual mistakes visible: a large offset (mean about 50) and a
different scale for every feature, including one whose variance is below eps (so eps inside
or outside the square root, or missing, changes the answer by far more than the tolerance);
non-trivial gamma and beta; and a non-uniform upstream gradient. With dout = ones the correct
dx is exactly 0, and so is the dx of a backward pass that forgot the variance path, which is
why no case here uses a constant dout.

Backward cases run the student's own forward pass first and pass its cache on, in one program.
"""
import copy

import numpy as np

from ..reference import batchnorm as ref
from . import Behaviour, Case, Check, Mistake, Upstream, compare

RTOL, ATOL = 1e-6, 1e-9          # float64 round-off across formulas is ~1e-12 relative

# Scales per feature: ordinary ones, a large one, and one of variance ~1e-6 < eps.
SCALES = np.array([1.0, 4.0, 0.3, 1e-3, 20.0])


def _batch(rng, N, scales, offset=50.0):
    return offset + rng.normal(size=(N, len(scales))) * scales


# ---------------------------------------------------------------------------- wrong variants

def _forward(x, gamma, beta, bn_param, ddof=0, eps_at="inside", axis=0, swap=False,
             write_back=True, test_uses_batch=False, running_var_ddof=0, running_var_of="var"):
    """The reference forward pass with one known mistake switched on. Mutates bn_param."""
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    D = x.shape[1]
    run_mean = bn_param.get("running_mean", np.zeros(D))
    run_var = bn_param.get("running_var", np.zeros(D))
    stale = (run_mean, run_var)         # what a forward that forgets to store them leaves

    def normalise(centred, var):
        if eps_at == "inside":
            return centred / np.sqrt(var + eps)
        if eps_at == "outside":
            return centred / (np.sqrt(var) + eps)
        with np.errstate(all="ignore"):
            return centred / np.sqrt(var)

    if mode == "train" or test_uses_batch:
        mu = x.mean(axis=axis, keepdims=True)
        var = x.var(axis=axis, ddof=ddof, keepdims=True)
        out = gamma * normalise(x - mu, var) + beta
        if mode == "train":
            w_old, w_new = (1 - momentum, momentum) if swap else (momentum, 1 - momentum)
            run_mean = w_old * run_mean + w_new * x.mean(axis=0)
            batch_var = x.var(axis=0, ddof=running_var_ddof or ddof)
            if running_var_of == "std":
                batch_var = np.sqrt(batch_var + eps)
            run_var = w_old * run_var + w_new * batch_var
    else:
        out = gamma * normalise(x - run_mean, run_var) + beta
    if not write_back:
        run_mean, run_var = stale
    bn_param["running_mean"], bn_param["running_var"] = run_mean, run_var
    return out


def _sequence(forward, xs, gamma, beta, bn_param):
    """Outputs of forward calls on xs in a row sharing one bn_param: out1, ..., bn_param.

    `forward(x, gamma, beta, bn_param)` returns out; bn_param keeps only the running stats.
    """
    param = copy.deepcopy(bn_param)
    values = {f"out{k}": forward(x, gamma, beta, param) for k, x in enumerate(xs, 1)}
    values["bn_param"] = {k: param[k] for k in ("running_mean", "running_var") if k in param}
    return values


def _reference(x, gamma, beta, bn_param):
    return ref.batchnorm_forward(x, gamma, beta, bn_param)[0]


# The forward mistakes, with what to do about each. Mistakes that change `out` in train mode
# also spoil the cache, so the backward checks look for them too (by the forward's output).
FORWARD_MISTAKES = [
    ("unbiased", dict(ddof=1),
     "the batch variance is the unbiased one (divided by N - 1, e.g. ddof=1): batchnorm uses "
     "the biased variance, the mean of (x - mu)**2, divided by N (np.var's default)"),
    ("axis", dict(axis=1),
     "the statistics are taken over each example's features (axis=1, that is layer "
     "normalization): batchnorm normalises each feature over the batch, axis=0"),
    ("eps-outside", dict(eps_at="outside"),
     "eps is added after the square root: divide by np.sqrt(var + eps), not np.sqrt(var) + eps"),
    ("eps-missing", dict(eps_at="missing"),
     "eps is missing: divide by np.sqrt(var + eps) (a feature whose variance is below eps "
     "shows the difference)"),
]
RUNNING_MISTAKES = [
    ("swap", dict(swap=True),
     "the running averages have their weights swapped: running = momentum * running + "
     "(1 - momentum) * batch, so the old value keeps the larger weight (0.9 by default)"),
    ("no-write-back", dict(write_back=False),
     "the running mean and variance in bn_param are never updated (they are what they were "
     "before the call): store the new values, bn_param['running_mean'] = running_mean (same "
     "for running_var), or the next call and test mode never see them"),
    ("running-var-unbiased", dict(running_var_ddof=1),
     "running_var is updated with the unbiased variance (divided by N - 1, PyTorch's "
     "convention): this course follows CS231n and uses the same biased variance that "
     "normalises the batch"),
    ("running-var-from-std", dict(running_var_of="std"),
     "running_var is updated with the standard deviation sqrt(var + eps): it averages the "
     "batch variance var (test mode then takes the square root of running_var + eps)"),
]


def _forward_mistakes(xs, gamma, beta, bn_param, which, match):
    """Mistakes judged by the outputs (match="out") or by the running stats (match="running")."""
    mistakes = []
    for _, flags, diagnosis in which:
        values = _sequence(lambda *a, f=flags: _forward(*a, **f), xs, gamma, beta, bn_param)
        if match == "out":
            values.pop("bn_param")
        else:
            values = {"bn_param": values["bn_param"]}
        mistakes.append(Mistake(diagnosis, values))
    return mistakes


def _distinct(mistakes, expect):
    """Only the mistakes that this case can tell apart from the right answer."""
    return [m for m in mistakes
            if any(compare(v, expect[n], RTOL, ATOL) is not None for n, v in m.values.items())]


# ---------------------------------------------------------------------------- forward cases

def _program(xs, gamma, beta, bn_param):
    """Forward calls on xs in a row, all with the same bn_param dict; returns outs and bn_param."""
    names = [f"x{k}" for k in range(1, len(xs) + 1)] if len(xs) > 1 else ["x"]
    outs = [f"out{k}" for k in range(1, len(xs) + 1)]
    steps = [{"fn": "batchnorm_forward", "args": [n, "gamma", "beta", "bn_param"],
              "out": [o, f"cache{k}"]} for k, (n, o) in enumerate(zip(names, outs), 1)]
    return {"inputs": dict(zip(names, xs), gamma=gamma, beta=beta, bn_param=bn_param),
            "steps": steps, "returns": outs + ["bn_param"]}, tuple(names)


def _forward_case(name, xs, gamma, beta, bn_param):
    prog, names = _program(xs, gamma, beta, bn_param)
    if bn_param["mode"] == "train":
        mistakes = (_forward_mistakes(xs, gamma, beta, bn_param, FORWARD_MISTAKES, "out")
                    + _forward_mistakes(xs, gamma, beta, bn_param, RUNNING_MISTAKES, "running"))
    else:
        mistakes = [Mistake("test mode normalises with the batch's own mean and variance: at "
                            "test time use bn_param's running_mean and running_var",
                            _sequence(lambda *a: _forward(*a, test_uses_batch=True),
                                      xs, gamma, beta, bn_param))]
        mistakes[0].values.pop("bn_param")
        mistakes += _forward_mistakes(xs, gamma, beta, bn_param, FORWARD_MISTAKES[2:], "out")
    expect = _sequence(_reference, xs, gamma, beta, bn_param)
    return Case(name=name, program=prog, expect=expect, rtol=RTOL, atol=ATOL,
                mistakes=_distinct(mistakes, expect), unchanged=names + ("gamma", "beta"),
                tag=bn_param["mode"], free_shapes=("bn_param",),
                hint="In train mode each column of out should have mean beta and standard "
                     "deviation about |gamma|; after a train-mode call bn_param must hold "
                     "running_mean and running_var, updated as momentum * running + "
                     "(1 - momentum) * batch; test mode uses those running statistics.")


def _raises_case(name, x, gamma, beta, bn_param):
    prog, names = _program([x], gamma, beta, bn_param)
    prog["returns"] = ["out1"]
    return Case(name=name, program=prog, expect={}, raises="ValueError", tag="test")


def forward_cases():
    rng = np.random.default_rng(501)
    D = len(SCALES)
    gamma = rng.uniform(0.5, 2.0, size=D) * np.array([1, -1, 1, 1, 1])
    beta = rng.normal(size=D) * 3

    def given(d=D):
        return dict(running_mean=rng.normal(size=d) + 50, running_var=rng.uniform(0.5, 3, size=d))

    cases = [
        _forward_case("train mode, an (8, 5) batch of mean ~50 with a different scale per "
                      "feature, eps and momentum given, running stats given",
                      [_batch(rng, 8, SCALES)], gamma, beta,
                      dict(mode="train", eps=1e-5, momentum=0.8, **given())),
        _forward_case("train mode with eps and momentum absent (defaults 1e-5 and 0.9)",
                      [_batch(rng, 10, SCALES)], gamma, beta, dict(mode="train", **given())),
        _forward_case("train mode with running_mean and running_var absent from bn_param "
                      "(they start as zeros)", [_batch(rng, 6, SCALES)], gamma, beta,
                      {"mode": "train"}),
        _forward_case("train mode with N = 2 examples", [_batch(rng, 2, SCALES)], gamma, beta,
                      dict(mode="train", momentum=0.9, **given())),
        _forward_case("train mode with D = 1 feature", [_batch(rng, 7, SCALES[:1] * 2)],
                      gamma[:1], beta[:1], dict(mode="train", **given(1))),
        _forward_case("train mode with eps = 1e-3 given explicitly",
                      [_batch(rng, 9, np.array([0.02, 1.0, 0.05]))], gamma[:3], beta[:3],
                      dict(mode="train", eps=1e-3, momentum=0.95, running_mean=np.zeros(3),
                           running_var=np.ones(3))),
    ]
    # several calls in a row sharing one bn_param: the running stats after 1, 2 and 3 calls
    xs = [_batch(rng, 6, SCALES, offset=o) for o in (50.0, 47.0, 53.0)]
    start = dict(mode="train", momentum=0.7, **given())
    for k in (1, 2, 3):
        cases.append(_forward_case(f"{k} train-mode call{'s' if k > 1 else ''} in a row sharing "
                                   f"one bn_param (momentum 0.7)", xs[:k], gamma, beta, start))
    # test mode: the running statistics, never the batch's
    cases += [
        _forward_case("test mode with given running stats and eps = 1e-4", [_batch(rng, 6, SCALES)],
                      gamma, beta, dict(mode="test", eps=1e-4, **given())),
        _forward_case("test mode on a single example, eps absent", [_batch(rng, 1, SCALES)],
                      gamma, beta, dict(mode="test", **given())),
    ]
    # a mode that is neither "train" nor "test"
    for mode in ("eval", "training"):
        cases.append(_raises_case(f'mode "{mode}" (must raise ValueError)', _batch(rng, 4, SCALES),
                                  gamma, beta, dict(mode=mode, **given())))
    return cases


# ---------------------------------------------------------------------------- backward cases

def _upstream(x, gamma, beta, bn_param, dout, backward):
    """The forward's known mistakes, each with what a correct backward pass gives on its cache."""
    derived = []
    for _, flags, diagnosis in FORWARD_MISTAKES:
        param = copy.deepcopy(bn_param)
        wrong_out = _forward(x, gamma, beta, param, **flags)
        if flags.get("axis") == 1:
            continue                    # a cache of per-example statistics: no common form
        mu = x.mean(axis=0)
        var = x.var(axis=0, ddof=flags.get("ddof", 0))
        eps = bn_param.get("eps", 1e-5)
        std = {"inside": np.sqrt(var + eps), "outside": np.sqrt(var) + eps,
               "missing": np.sqrt(var)}[flags.get("eps_at", "inside")]
        dx, dgamma, dbeta = backward(dout, ((x - mu) / std, gamma, std))
        derived.append((diagnosis, wrong_out, {"dx": dx, "dgamma": dgamma, "dbeta": dbeta}))
    return derived


def _backward_mistakes(x, gamma, beta, bn_param, dout):
    """Mistakes of the backward pass itself (a wrong forward is found by Case.upstream)."""
    mistakes = []
    N = x.shape[0]
    _, (x_hat, _, std) = ref.batchnorm_forward(x, gamma, beta, copy.deepcopy(bn_param))
    dx_hat = dout * gamma
    mean_d = dx_hat.mean(axis=0)
    proj = np.sum(dx_hat * x_hat, axis=0)
    mistakes += [
        Mistake("dx is only dout * gamma / std: x also reaches the output through the batch mean "
                "and the batch variance; add both paths (dx must sum to zero over the batch)",
                {"dx": dx_hat / std}),
        Mistake("dx is missing the path through the variance (it has the mean's): add the term "
                "-x_hat * sum(dout * gamma * x_hat) / (N * std). A test with dout = ones cannot "
                "see this: for a constant dout the correct dx is 0, and so is this one",
                {"dx": (dx_hat - mean_d) / std}),
        Mistake("dx is missing the path through the mean (it has the variance's): subtract the "
                "mean over the batch of the upstream gradient, dx must sum to zero over the batch",
                {"dx": (dx_hat - x_hat * proj / N) / std}),
        Mistake("the variance term uses N - 1 where it should use N: the variance is biased, "
                "var = mean((x - mu)**2), so d var / d x_i = 2 (x_i - mu) / N",
                {"dx": (dx_hat - mean_d - x_hat * proj / (N - 1)) / std}),
        Mistake("the prefactor uses N - 1: dx = gamma / (N * std) * (N * dout - sum(dout) - "
                "x_hat * sum(dout * x_hat)), sums over axis 0",
                {"dx": (N * dx_hat - N * mean_d - x_hat * proj) / ((N - 1) * std)}),
        Mistake("dx is missing the factor gamma: the gradient reaching x_hat is dout * gamma",
                {"dx": (dout - dout.mean(axis=0) - x_hat * np.sum(dout * x_hat, axis=0) / N) / std}),
        Mistake("dbeta is summed over the wrong axis: sum dout over the batch, axis=0, giving "
                "shape (D,)", {"dbeta": dout.sum(axis=1)}),
        Mistake("dbeta is summed over every axis: sum over the batch only, axis=0, giving shape (D,)",
                {"dbeta": dout.sum()}),
        Mistake("dbeta is a mean: the gradient of a sum over the batch is a sum, dout.sum(axis=0)",
                {"dbeta": dout.mean(axis=0)}),
        Mistake("dgamma is summed over the wrong axis: sum dout * x_hat over the batch, axis=0, "
                "giving shape (D,)", {"dgamma": np.sum(dout * x_hat, axis=1)}),
        Mistake("dgamma is summed over every axis: sum dout * x_hat over the batch only, axis=0",
                {"dgamma": np.sum(dout * x_hat)}),
        Mistake("dgamma uses x where it should use the normalised x_hat: dgamma = "
                "sum(dout * x_hat, axis=0)", {"dgamma": np.sum(dout * x, axis=0)}),
    ]
    return mistakes


def _normalises(out, beta):
    """Whether out looks like a batch normalization: every column has mean beta."""
    out = np.asarray(out, dtype=float)
    return out.shape[1:] == beta.shape and np.allclose(out.mean(axis=0), beta, rtol=1e-6,
                                                       atol=1e-6)


def _backward_case(fn, name, x, gamma, beta, bn_param, dout):
    inputs = dict(x=x, gamma=gamma, beta=beta, bn_param=bn_param, dout=dout)
    forward_args = ["x", "gamma", "beta", "bn_param"]
    prog = {"inputs": inputs,
            "steps": [{"fn": "batchnorm_forward", "args": forward_args, "out": ["out", "cache"]},
                      {"fn": fn, "args": ["dout", "cache"], "out": ["dx", "dgamma", "dbeta"]},
                      {"numgrad": "batchnorm_forward", "args": forward_args, "pick": 0,
                       "weights": "dout", "fresh": ["bn_param"], "h": 1e-6,
                       "wrt": {"x": "num_dx", "gamma": "num_dgamma", "beta": "num_dbeta"}}],
            "returns": ["dx", "dgamma", "dbeta", "out", "num_dx", "num_dgamma", "num_dbeta"]}
    out, cache = ref.batchnorm_forward(x, gamma, beta, copy.deepcopy(bn_param))
    dx, dgamma, dbeta = ref.batchnorm_backward(dout, cache)
    expect = {"dx": dx, "dgamma": dgamma, "dbeta": dbeta}
    mistakes = _distinct(_backward_mistakes(x, gamma, beta, bn_param, dout), expect)
    upstream = Upstream("batchnorm_forward", "out", out,
                        derived=_upstream(x, gamma, beta, bn_param, dout, ref.batchnorm_backward),
                        numeric={"dx": "num_dx", "dgamma": "num_dgamma", "dbeta": "num_dbeta"},
                        plausible=lambda out: _normalises(out, beta))
    return Case(name=name, program=prog, expect=expect, rtol=RTOL, atol=ATOL, mistakes=mistakes,
                unchanged=("x", "gamma", "beta", "dout"), upstream=upstream,
                hint="Compare dx with a numerical gradient; dx should sum to zero over the batch, "
                     "and so should dx * x_hat; dgamma and dbeta have shape (D,).")


def _backward_cases(fn, seed):
    rng = np.random.default_rng(seed)
    D = len(SCALES)
    gamma = rng.uniform(0.5, 2.0, size=D) * np.array([1, -1, 1, 1, 1])
    beta = rng.normal(size=D) * 3
    dgrad = lambda N, d=D: rng.normal(size=(N, d)) * rng.uniform(0.5, 3, size=d) + rng.normal(size=d)
    cases = []
    for name, x, g, b, param in [
        ("an (8, 5) batch of mean ~50 with a different scale per feature", _batch(rng, 8, SCALES),
         gamma, beta, dict(mode="train")),
        ("N = 2 examples", _batch(rng, 2, SCALES), gamma, beta, dict(mode="train", eps=1e-5)),
        ("D = 1 feature", _batch(rng, 6, SCALES[:1] * 3), gamma[:1], beta[:1], dict(mode="train")),
        ("eps = 1e-3 given, momentum given, running stats given", _batch(rng, 12, SCALES),
         gamma, beta, dict(mode="train", eps=1e-3, momentum=0.8, running_mean=np.zeros(D),
                           running_var=np.ones(D))),
        ("a (32, 3) batch, gamma with a negative entry", _batch(rng, 32, SCALES[[0, 3, 4]], offset=-20.0),
         np.array([0.7, -1.3, 2.2]), np.array([0.1, -0.4, 5.0]), dict(mode="train")),
    ]:
        cases.append(_backward_case(fn, f"{fn}: {name} (non-uniform dout)", x, g, b, param,
                                    dgrad(x.shape[0], x.shape[1])))
    return cases


def backward_cases():
    return _backward_cases("batchnorm_backward", 502)


def backward_alt_cases():
    return _backward_cases("batchnorm_backward_alt", 503)


def _stat(key):
    return lambda bn_param: bn_param[key]


# Points per behaviour (each test cell's points, split). A forward mistake in train mode costs
# the train-mode output and the statistic it spoils, not test mode; a backward pass on a wrong
# forward is judged on that forward (see Upstream), so it keeps what it gets right.
FORWARD = (Behaviour("train mode: the output", 2.0, tags=("train",), outputs=("out",)),
           Behaviour("train mode: the running mean", 0.5, tags=("train",), outputs=("bn_param",),
                     view=_stat("running_mean"), where="['running_mean']", inputs=False),
           Behaviour("train mode: the running variance", 1.0, tags=("train",),
                     outputs=("bn_param",), view=_stat("running_var"), where="['running_var']",
                     inputs=False),
           Behaviour("test mode, and an unknown mode raises", 1.5, tags=("test",)))


def _backward_plan(dx, dgamma, dbeta):
    return (Behaviour("dx", dx, outputs=("dx",)),
            Behaviour("dgamma", dgamma, outputs=("dgamma",), inputs=False),
            Behaviour("dbeta", dbeta, outputs=("dbeta",), inputs=False))


CHECKS = [Check("batchnorm_forward", forward_cases, FORWARD),
          Check("batchnorm_backward", backward_cases, _backward_plan(3.0, 1.0, 1.0)),
          Check("batchnorm_backward_alt", backward_alt_cases, _backward_plan(2.0, 0.5, 0.5))]
