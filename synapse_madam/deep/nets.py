"""Standard networks for the deep-net backend: MLP, small CNN, ResNet, causal character Transformer,
and a spiking MLP of LIF neurons trained by surrogate gradients (:mod:`.spiking`).

All are plain ``torch.nn.Module`` s. :func:`build_net` builds one by name and, unless asked not
to, re-initialises every all-zero parameter tensor (biases, norm shifts) with small noise:
Madam's multiplicative step w <- w * exp(-eta * sign(w) * g_hat) never moves an exact zero
(Bernstein et al., NeurIPS 2020, who re-initialised such tensors the same way).
"""

from __future__ import annotations

import inspect
import math

import torch
from torch import nn
from torch.nn import functional as F

from ..optim import constant_magnitude_, reinit_zero_tensors
from .spiking import SpikingMLP

__all__ = ["MLP", "SmallCNN", "ResNet", "CharTransformer", "SpikingMLP", "NETS", "INITS", "build_net"]

INITS = {
    "default": "the net's own initialisation (PyTorch's: uniform weights and biases)",
    "constant_magnitude": "the default init with every tensor's magnitudes set to its RMS (same RMS, signs kept)",
}


class MLP(nn.Module):
    """Multilayer perceptron: flatten, ``depth`` hidden layers of ``width`` units, a linear readout.

    ``depth`` counts hidden layers (depth=0 is a linear classifier); deep stacks (tens of layers)
    are what the paper's descent lemma is about: the relative step per layer multiplies along
    depth. Default init is PyTorch's (Kaiming-uniform weights, uniform biases).
    """

    def __init__(self, input_shape, num_classes: int, width: int = 256, depth: int = 2,
                 activation: str = "relu", bias: bool = True, dropout: float = 0.0):
        super().__init__()
        acts = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU}
        if activation not in acts:
            raise ValueError(f"MLP: activation {activation!r} unknown; allowed values: {', '.join(acts)}.")
        _check_int("MLP", "width", width, 1)
        _check_int("MLP", "depth", depth, 0)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"MLP: dropout must be in [0, 1), got {dropout!r}.")
        layers, n_in = [nn.Flatten()], math.prod(input_shape)
        for _ in range(depth):
            layers += [nn.Linear(n_in, width, bias=bias), acts[activation]()]
            if dropout:
                layers.append(nn.Dropout(dropout))
            n_in = width
        layers.append(nn.Linear(n_in, num_classes, bias=bias))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


class SmallCNN(nn.Module):
    """Two 3x3 conv + ReLU + 2x2 max-pool stages (``channels`` and 2*``channels``), then an MLP head."""

    def __init__(self, input_shape, num_classes: int, channels: int = 32, hidden: int = 128):
        super().__init__()
        _check_int("SmallCNN", "channels", channels, 1)
        _check_int("SmallCNN", "hidden", hidden, 1)
        c, h, w = input_shape
        self.features = nn.Sequential(
            nn.Conv2d(c, channels, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(channels, 2 * channels, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        )
        n_flat = 2 * channels * (h // 4) * (w // 4)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(n_flat, hidden), nn.ReLU(), nn.Linear(hidden, num_classes))

    def forward(self, x):
        return self.head(self.features(x))


class _BasicBlock(nn.Module):
    def __init__(self, c_in, c_out, stride, affine):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out, affine=affine)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out, affine=affine)
        self.shortcut = nn.Sequential()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False),
                                          nn.BatchNorm2d(c_out, affine=affine))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class ResNet(nn.Module):
    """A ResNet for small images (He et al. 2016, the CIFAR variant): a 3x3 stem, three stages of
    ``blocks`` basic blocks with ``width``, 2*``width``, 4*``width`` channels (stride 2 between
    stages), global average pooling and a linear readout. 28x28 -> 28, 14, 7.

    ``bn_affine=False`` removes BatchNorm's learned scale and shift (the paper trained such
    ResNets with Madam); with it on, the zero-initialised shifts are re-initialised by build_net.
    """

    def __init__(self, input_shape, num_classes: int, width: int = 16, blocks: int = 2, bn_affine: bool = True):
        super().__init__()
        _check_int("ResNet", "width", width, 1)
        _check_int("ResNet", "blocks", blocks, 1)
        c = input_shape[0]
        self.stem = nn.Sequential(nn.Conv2d(c, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width, affine=bn_affine), nn.ReLU())
        stages, c_in = [], width
        for i, c_out in enumerate((width, 2 * width, 4 * width)):
            for b in range(blocks):
                stages.append(_BasicBlock(c_in, c_out, 2 if (i > 0 and b == 0) else 1, bn_affine))
                c_in = c_out
        self.stages = nn.Sequential(*stages)
        self.fc = nn.Linear(c_in, num_classes)

    def forward(self, x):
        x = self.stages(self.stem(x))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class _CausalBlock(nn.Module):
    def __init__(self, d_model, n_heads, dropout):
        super().__init__()
        self.ln1 = nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.ln2 = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(nn.Linear(d_model, 4 * d_model), nn.GELU(), nn.Linear(4 * d_model, d_model))
        self.n_heads, self.dropout = n_heads, dropout

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(b, t, 3, self.n_heads, d // self.n_heads).permute(2, 0, 3, 1, 4)
        att = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=self.dropout if self.training else 0.0)
        x = x + self.proj(att.transpose(1, 2).reshape(b, t, d))
        return x + self.mlp(self.ln2(x))


class CharTransformer(nn.Module):
    """A small causal (GPT-style, pre-LayerNorm) Transformer language model over characters.

    Input: token ids (B, T) with T <= ``block_size``; output: next-token logits (B, T, vocab).
    Token and learned position embeddings, ``layers`` blocks of causal multi-head
    self-attention and a GELU MLP, a final LayerNorm and a linear readout.
    """

    def __init__(self, input_shape, num_classes: int, d_model: int = 128, layers: int = 2, heads: int = 4,
                 dropout: float = 0.0):
        super().__init__()
        _check_int("CharTransformer", "d_model", d_model, 1)
        _check_int("CharTransformer", "layers", layers, 1)
        _check_int("CharTransformer", "heads", heads, 1)
        if d_model % heads:
            raise ValueError(f"CharTransformer: d_model={d_model} must be divisible by heads={heads}.")
        self.block_size = input_shape[0]
        self.tok = nn.Embedding(num_classes, d_model)
        self.pos = nn.Parameter(0.02 * torch.randn(self.block_size, d_model))
        self.blocks = nn.Sequential(*[_CausalBlock(d_model, heads, dropout) for _ in range(layers)])
        self.ln_f = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, num_classes)

    def forward(self, idx):
        t = idx.shape[1]
        if t > self.block_size:
            raise ValueError(f"CharTransformer: sequence length {t} > block_size {self.block_size}.")
        x = self.tok(idx) + self.pos[:t]
        return self.head(self.ln_f(self.blocks(x)))


def _check_int(net, key, value, minimum):
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{net}: {key} must be an integer >= {minimum}, got {value!r}.")


# name -> (class, the input kind it takes: "image" or "tokens")
NETS = {"mlp": (MLP, "image"), "cnn": (SmallCNN, "image"), "resnet": (ResNet, "image"),
        "transformer": (CharTransformer, "tokens"), "snn": (SpikingMLP, "image")}


def net_options(name: str) -> dict:
    """The keyword options of net ``name`` with their defaults."""
    cls = NETS[name][0]
    params = list(inspect.signature(cls.__init__).parameters.values())[3:]
    return {p.name: p.default for p in params}


def build_net(name: str, input_shape, num_classes: int, *, seed: int | None = None,
              allow_zero_init: bool = False, zero_init_std: float = 0.01, init: str = "default",
              **options) -> nn.Module:
    """Build the net called ``name`` (see NETS) for inputs of ``input_shape`` and ``num_classes`` outputs.

    With ``seed`` the initial weights are reproducible (torch's global RNG is seeded). Unless
    ``allow_zero_init``, every parameter tensor that is all zeros afterwards is refilled with
    N(0, ``zero_init_std``^2) noise (:func:`synapse_madam.reinit_zero_tensors`). ``init`` picks
    the initial distribution (see INITS): "constant_magnitude" keeps signs and each tensor's RMS
    but gives all its entries that RMS as magnitude (:func:`synapse_madam.optim.constant_magnitude_`).
    """
    if init not in INITS:
        raise ValueError(f"unknown init {init!r}; allowed values: {', '.join(INITS)}.")
    if name not in NETS:
        raise ValueError(f"unknown net {name!r}; allowed values: {', '.join(NETS)}.")
    allowed = net_options(name)
    bad = sorted(set(options) - set(allowed))
    if bad:
        raise ValueError(f"net {name!r}: unknown option(s) {', '.join(bad)}; allowed: {', '.join(allowed)}.")
    if NETS[name][1] == "image" and len(input_shape) != 3:
        raise ValueError(f"net {name!r} takes images (C, H, W), but the dataset gives inputs of shape {tuple(input_shape)}.")
    if NETS[name][1] == "tokens" and len(input_shape) != 1:
        raise ValueError(f"net {name!r} takes token sequences, but the dataset gives inputs of shape "
                         f"{tuple(input_shape)}; use dataset 'fortunes'.")
    if seed is not None:
        torch.manual_seed(seed)
    model = NETS[name][0](tuple(input_shape), num_classes, **options)
    if not allow_zero_init:
        reinit_zero_tensors(model, std=zero_init_std)
    if init == "constant_magnitude":
        constant_magnitude_(model)
    return model
