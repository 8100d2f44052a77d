"""Standard nets: shapes, no all-zero tensors left for Madam, causality of the Transformer."""

import warnings

import pytest
import torch

from synapse_madam import Madam, ZeroParameterWarning
from synapse_madam.deep.nets import NETS, build_net

CASES = {
    "mlp": ((1, 8, 8), {"width": 32, "depth": 3}),
    "cnn": ((1, 28, 28), {"channels": 4, "hidden": 16}),
    "resnet": ((1, 28, 28), {"width": 4, "blocks": 1}),
    "transformer": ((16,), {"d_model": 32, "layers": 2, "heads": 4}),
}


def example_input(name, shape, n=3):
    if NETS[name][1] == "tokens":
        return torch.randint(0, 96, (n, *shape))
    return torch.randn(n, *shape)


@pytest.mark.parametrize("name", list(CASES))
def test_forward_shape_and_madam_trains_every_tensor(name):
    shape, opts = CASES[name]
    classes = 96 if name == "transformer" else 10
    net = build_net(name, shape, classes, seed=0, **opts)
    x = example_input(name, shape)
    out = net(x)
    assert out.shape == ((3, shape[0], classes) if name == "transformer" else (3, classes))
    for n, p in net.named_parameters():
        assert torch.any(p != 0), f"{n} is all zeros"
    before = {n: p.detach().clone() for n, p in net.named_parameters()}
    opt = Madam(net.named_parameters(), lr=0.01)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ZeroParameterWarning)
        out = net(x)
        target = torch.randint(0, classes, out.shape[:-1])
        torch.nn.functional.cross_entropy(out.reshape(-1, classes), target.reshape(-1)).backward()
        opt.step()
    moved = [n for n, p in net.named_parameters() if not torch.equal(p, before[n])]
    assert len(moved) == len(before)  # every tensor moved: none was left at exact zero


def test_zero_init_is_kept_when_asked():
    net = build_net("resnet", (1, 28, 28), 10, seed=0, allow_zero_init=True, width=4, blocks=1)
    zeros = [n for n, p in net.named_parameters() if not torch.any(p)]
    assert zeros and all(n.endswith("bias") for n in zeros)  # BatchNorm shifts start at 0


def test_bn_affine_switch_removes_norm_parameters():
    with_affine = build_net("resnet", (1, 28, 28), 10, width=4, blocks=1, bn_affine=True)
    without = build_net("resnet", (1, 28, 28), 10, width=4, blocks=1, bn_affine=False)
    assert any(".bn" in n or "stem.1" in n for n, _ in with_affine.named_parameters())
    assert not any(".bn" in n or "stem.1" in n for n, _ in without.named_parameters())


def test_seed_makes_init_reproducible():
    a = build_net("mlp", (1, 8, 8), 10, seed=5, width=8, depth=2)
    b = build_net("mlp", (1, 8, 8), 10, seed=5, width=8, depth=2)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_deep_mlp_depth():
    net = build_net("mlp", (1, 28, 28), 10, width=16, depth=32)
    assert sum(isinstance(m, torch.nn.Linear) for m in net.modules()) == 33


def test_transformer_is_causal():
    net = build_net("transformer", (16,), 96, seed=0, d_model=32, layers=2, heads=4).eval()
    x = torch.randint(0, 96, (1, 16))
    y = x.clone()
    y[0, 10:] = (y[0, 10:] + 7) % 96
    with torch.no_grad():
        a, b = net(x), net(y)
    assert torch.allclose(a[0, :10], b[0, :10], atol=1e-5)
    assert not torch.allclose(a[0, 10:], b[0, 10:])


def test_bad_net_options():
    with pytest.raises(ValueError, match="allowed values: mlp, cnn, resnet, transformer"):
        build_net("vgg", (1, 8, 8), 10)
    with pytest.raises(ValueError, match="allowed: width, depth"):
        build_net("mlp", (1, 8, 8), 10, widht=3)
    with pytest.raises(ValueError, match="depth must be an integer"):
        build_net("mlp", (1, 8, 8), 10, depth=-1)
    with pytest.raises(ValueError, match="takes token sequences"):
        build_net("transformer", (1, 8, 8), 10)
    with pytest.raises(ValueError, match="divisible"):
        build_net("transformer", (16,), 96, d_model=30, heads=4)
