"""The native one-pass CPU kernel of Madam (synapse_madam/optim/native.py): equal to rule.py,
the default CPU path, its fallback without a compiler, and the path choice."""

import copy
import os
import stat
import warnings

import pytest
import torch

from synapse_madam import Madam, rule
from synapse_madam.optim import madam_functional, native
from synapse_madam.optim.madam_functional import choose_path

from test_madam_optimizer import SHAPES, TOL, gradient_sequence, make_params, reference_trajectory, run_optimizer

CPU, CUDA = torch.device("cpu"), torch.device("cuda")


def test_the_kernel_builds_here_with_threads():
    assert native.available(), "the test machine has gcc: the native kernel must build"
    info = native.kernel_info()
    assert info["openmp"] and "-O3" in info["flags"] and os.path.isfile(info["library"])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("hyper", [{}, {"maximize": True}, {"eps": 1e-8, "g_bound": 2.0, "beta": 0.9, "p_scale": 1.5}])
def test_native_step_equals_rule_over_100_steps(dtype, hyper):
    params = make_params(SHAPES + [(300, 301)], dtype, seed=2)  # the big tensor spans several chunks and threads
    grad_seq = gradient_sequence(SHAPES + [(300, 301)], 100, dtype, seed=4)
    if hyper.get("maximize"):
        ref_seq = [[-g for g in gs] for gs in grad_seq]
    else:
        ref_seq = grad_seq
    ref_hyper = {k: v for k, v in hyper.items() if k != "maximize"}
    expected, states = reference_trajectory(params, ref_seq, [0.01] * 100, **ref_hyper)
    opt, _ = run_optimizer(params, grad_seq, **hyper)
    for p, w, s in zip(params, expected, states):
        torch.testing.assert_close(p.detach(), w, rtol=TOL[dtype], atol=0)
        torch.testing.assert_close(opt.state[p]["exp_avg_sq"], s.v, rtol=TOL[dtype] * 10, atol=0)
        assert torch.equal(torch.sign(p), torch.sign(w))


def test_the_default_cpu_step_runs_the_native_kernel(monkeypatch):
    calls = []
    real = native.madam_native
    monkeypatch.setattr(native, "madam_native", lambda *a, **k: (calls.append(len(a[0])), real(*a, **k)))
    params = make_params(SHAPES, torch.float32)
    run_optimizer(params, gradient_sequence(SHAPES, 3, torch.float32))
    assert calls == [len(SHAPES)] * 3  # one kernel call per group and step, every tensor in it


def test_non_contiguous_and_half_tensors_take_the_for_loop_beside_the_kernel():
    base = make_params([(6, 8), (5, 7), (9,)], torch.float32)
    w_t = base[0].detach().t().contiguous().t().requires_grad_()  # same values, transposed strides
    assert not w_t.is_contiguous()
    half = base[2].detach().to(torch.float16).requires_grad_()
    params = [w_t, base[1], half]
    grads = gradient_sequence([(6, 8), (5, 7), (9,)], 40, torch.float32, seed=8)
    grads = [[g0.t().contiguous().t(), g1, g2.to(torch.float16)] for g0, g1, g2 in grads]
    expected, _ = reference_trajectory([p.detach().clone() for p in params], grads, [0.01] * 40)
    run_optimizer(params, grads)
    for p, w in zip(params, expected):
        torch.testing.assert_close(p.detach(), w, rtol=TOL[p.dtype], atol=0)


def test_resume_is_exact_on_the_native_path():
    params = make_params(SHAPES, torch.float32)
    grad_seq = gradient_sequence(SHAPES, 20, torch.float32, seed=11)
    opt, _ = run_optimizer(params, grad_seq[:10])
    saved = ([p.detach().clone() for p in params], copy.deepcopy(opt.state_dict()))
    for grads in grad_seq[10:]:
        for p, g in zip(params, grads):
            p.grad = g.clone()
        opt.step()
    twin = [w.clone().requires_grad_() for w in saved[0]]
    opt2 = Madam(twin)
    opt2.load_state_dict(saved[1])
    for grads in grad_seq[10:]:
        for p, g in zip(twin, grads):
            p.grad = g.clone()
        opt2.step()
    for p, q in zip(params, twin):
        assert torch.equal(p, q)


def _fresh_load(monkeypatch, tmp_path, path_dirs):
    monkeypatch.setenv("SYNAPSE_MADAM_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", os.pathsep.join(str(d) for d in path_dirs))
    monkeypatch.delenv("CC", raising=False)
    monkeypatch.setattr(native.tempfile, "gettempdir", lambda: str(tmp_path / "tmp"))
    native._load.cache_clear()


@pytest.mark.parametrize("compiler", ["none", "broken"])
def test_without_a_working_compiler_one_warning_and_the_for_loop_path(monkeypatch, tmp_path, compiler):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    if compiler == "broken":  # a cc that exists but cannot build anything
        cc = bin_dir / "cc"
        cc.write_text("#!/bin/sh\necho 'cc: fatal error' >&2\nexit 1\n")
        cc.chmod(cc.stat().st_mode | stat.S_IEXEC)
    _fresh_load(monkeypatch, tmp_path, [bin_dir])
    try:
        params = make_params(SHAPES, torch.float32)
        grad_seq = gradient_sequence(SHAPES, 30, torch.float32)
        expected, _ = reference_trajectory(params, grad_seq, [0.01] * 30)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            run_optimizer(params, grad_seq)
        messages = [str(w.message) for w in caught if issubclass(w.category, native.NativeKernelWarning)]
        assert len(messages) == 1, messages
        assert ("no C compiler" in messages[0]) == (compiler == "none") and "for-loop path" in messages[0]
        assert not native.available()
        for p, w in zip(params, expected):
            torch.testing.assert_close(p.detach(), w, rtol=TOL[torch.float32], atol=0)
    finally:
        native._load.cache_clear()


def test_a_fresh_cache_is_built_once_and_reused(monkeypatch, tmp_path):
    import shutil

    cc_dir = os.path.dirname(shutil.which("cc") or shutil.which("gcc"))
    _fresh_load(monkeypatch, tmp_path, [cc_dir, "/usr/bin", "/bin"])
    try:
        assert native.available()
        built = sorted((tmp_path / "cache").glob("madam_kernel-*.so"))
        assert len(built) == 1
        mtime = built[0].stat().st_mtime_ns
        native._load.cache_clear()
        assert native.available() and built[0].stat().st_mtime_ns == mtime  # loaded, not rebuilt
        assert not list((tmp_path / "cache").glob("tmp*"))  # no half-written library left behind
    finally:
        native._load.cache_clear()


def test_the_path_choice_has_one_owner():
    assert choose_path(CPU, foreach=None, fused=None, terms_on=False) == "native"
    assert choose_path(CUDA, foreach=None, fused=None, terms_on=False) == "foreach"
    assert choose_path(CPU, foreach=None, fused=None, terms_on=False, compiling=True) == "foreach"
    assert choose_path(CPU, foreach=None, fused=True, terms_on=False) == "native"
    assert choose_path(CUDA, foreach=None, fused=True, terms_on=False) == "fused"
    assert choose_path(CPU, foreach=False, fused=None, terms_on=False) == "for_loop"
    assert choose_path(CPU, foreach=True, fused=None, terms_on=False) == "foreach"
    assert choose_path(CPU, foreach=None, fused=True, terms_on=True) == "for_loop"
    assert choose_path(CUDA, foreach=None, fused=None, terms_on=True) == "foreach"


def test_functional_madam_equals_the_class():
    params = make_params(SHAPES, torch.float32)
    grad_seq = gradient_sequence(SHAPES, 25, torch.float32, seed=6)
    expected, _ = reference_trajectory(params, grad_seq, [0.01] * 25)
    ws = [p.detach().clone() for p in params]
    states = [rule.init_state(w) for w in ws]
    vs, steps, w_maxs = [s.v for s in states], [torch.zeros((), dtype=torch.float32) for _ in ws], [s.w_max for s in states]
    for grads in grad_seq:
        madam_functional.madam(ws, grads, vs, steps, w_maxs, lr=0.01, beta=0.999, g_bound=10.0)
    for w, e in zip(ws, expected):
        torch.testing.assert_close(w, e, rtol=TOL[torch.float32], atol=0)
    assert all(float(s) == 25 for s in steps)


def test_fused_on_the_cpu_prints_no_warning():
    """fused=True used to compile with torch.compile on the CPU and print 14 torch.jit
    deprecation warnings; it is now the native kernel."""
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4))
    opt = Madam(model.parameters(), fused=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(3):
            opt.zero_grad()
            model(torch.randn(32, 8)).square().mean().backward()
            opt.step()


def test_the_kernel_bumps_autograd_versions_like_an_in_place_op():
    w = torch.randn(50, requires_grad=True)
    opt = Madam([w])
    y = (w * w).sum()  # saves w for backward
    y.backward(retain_graph=True)
    opt.step()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()
