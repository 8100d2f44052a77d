"""Datasets for the deep-net backend, as in-memory tensors with a fixed train/test split.

Three real datasets, none downloaded at run time:

* ``fashion_mnist``: Fashion-MNIST (Xiao, Rasul, Vollgraf 2017, arXiv:1708.07747), 60 000 train +
  10 000 test 28x28 grey images in 10 classes, read from the standard IDX files (gzip or raw) by
  the small parser :func:`read_idx`. Searched in: the directory the caller gives, ``$SYNAPSE_MADAM_DATA``
  (and its ``fashion-mnist/`` sub-folder), ``data/fashion-mnist`` (in the current folder), and ``/usr/share/datasets/fashion-mnist`` (Debian package ``dataset-fashion-mnist``).
* ``digits``: scikit-learn's 8x8 handwritten digits (1 797 images, UCI ML digits, Alpaydin &
  Kaynak 1998), shipped inside scikit-learn. The embedded default for the demo and the tests.
* ``fortunes``: a real English text corpus for character-level language modelling, the
  BSD fortune-cookie files shipped by Debian's ``fortunes-min`` / ``fortunes`` packages
  (``/usr/share/games/fortunes``). Windows of ``block_size`` characters; the target of every
  position is the next character.

Images are standardised with the training set's mean and standard deviation (one scalar each),
so that the test set never leaks into the normalisation.
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

__all__ = [
    "TensorDataset", "DATASETS", "load_dataset", "read_idx", "find_fashion_mnist",
    "load_fashion_mnist", "load_digits", "load_fortunes", "find_fortunes", "TEXT_VOCAB",
]

FASHION_MNIST_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
FASHION_MNIST_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")
FORTUNES_SYSTEM_DIR = Path("/usr/share/games/fortunes")

# IDX type byte -> (numpy big-endian dtype); LeCun's IDX format (yann.lecun.com/exdb/mnist).
_IDX_DTYPES = {0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"),
               0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


@dataclass
class TensorDataset:
    """A dataset held in memory: inputs and integer targets for a train and a test split.

    ``x_*`` are float32 images of shape (N, C, H, W) or int64 token windows of shape (N, T);
    ``y_*`` are int64 class labels (N,) or next-token targets (N, T). ``num_classes`` is the
    number of classes (or the vocabulary size), ``input_shape`` the shape of one input.
    """

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int
    input_shape: tuple
    info: dict = field(default_factory=dict)

    def subset(self, train: int | None = None, test: int | None = None, seed: int = 0) -> "TensorDataset":
        """A copy with at most ``train``/``test`` examples, drawn by a seeded permutation (0/None: all)."""
        g = torch.Generator().manual_seed(seed)

        def pick(x, y, n):
            if not n or n >= len(x):
                return x, y
            idx = torch.randperm(len(x), generator=g)[:n].sort().values
            return x[idx], y[idx]

        x_tr, y_tr = pick(self.x_train, self.y_train, train)
        x_te, y_te = pick(self.x_test, self.y_test, test)
        info = dict(self.info, train_subset=len(x_tr), test_subset=len(x_te))
        return TensorDataset(self.name, x_tr, y_tr, x_te, y_te, self.num_classes, self.input_shape, info)

    def __repr__(self) -> str:
        return (f"TensorDataset({self.name!r}, train={tuple(self.x_train.shape)}, "
                f"test={tuple(self.x_test.shape)}, classes={self.num_classes})")


# ----------------------------------------------------------------------------------------- IDX


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file (gzip-compressed or raw) into a numpy array of its declared shape.

    IDX layout: two zero bytes, a type byte (0x08 = uint8, ...), a byte with the number of
    dimensions d, d big-endian uint32 sizes, then the data in C order. Anything else (a wrong
    magic number, a truncated or over-long payload, a broken gzip stream) raises ValueError
    naming the file, so a damaged download never becomes a silently wrong dataset.
    """
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as exc:
            raise ValueError(f"{path}: corrupt or truncated gzip stream ({exc}); "
                             "delete the file and install it again.") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(f"{path}: not an IDX file (bad magic number {raw[:4].hex() or 'empty'}); "
                         "expected 0000TTDD with T the type byte and D the number of dimensions.")
    dtype, ndim = _IDX_DTYPES[raw[2]], raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path}: truncated IDX header ({len(raw)} bytes, need {header}).")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    got = len(raw) - header
    if got != expected:
        kind = "truncated" if got < expected else "has trailing bytes"
        raise ValueError(f"{path}: IDX payload {kind}: header declares shape {shape} "
                         f"({expected} bytes) but the file holds {got}; delete it and install it again.")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def _idx_file(folder: Path, stem: str) -> Path | None:
    for name in (stem + ".gz", stem, stem.replace("-idx", ".idx") + ".gz", stem.replace("-idx", ".idx")):
        if (folder / name).is_file():
            return folder / name
    return None


def fashion_mnist_search_path(data_dir: str | os.PathLike | None = None) -> list[Path]:
    """The folders searched for the Fashion-MNIST IDX files, in order."""
    folders = []
    if data_dir:
        folders += [Path(data_dir), Path(data_dir) / "fashion-mnist"]
    env = os.environ.get("SYNAPSE_MADAM_DATA")
    if env:
        folders += [Path(env), Path(env) / "fashion-mnist"]
    folders += [Path("data/fashion-mnist"), FASHION_MNIST_SYSTEM_DIR]
    seen, out = set(), []
    for f in folders:
        key = str(f.resolve()) if f.exists() else str(f)
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


def find_fashion_mnist(data_dir: str | os.PathLike | None = None) -> dict[str, Path]:
    """Locate the four Fashion-MNIST IDX files; FileNotFoundError says where it looked and how to get them.

    A given ``data_dir`` is the only place looked at (``data_dir`` or ``data_dir/fashion-mnist``):
    a wrong one is an error, never a silent fall-back to another copy."""
    if data_dir:
        for folder in (Path(data_dir), Path(data_dir) / "fashion-mnist"):
            files = {k: _idx_file(folder, stem) for k, stem in FASHION_MNIST_FILES.items()}
            if all(files.values()):
                return files
            if any(files.values()):
                missing = [FASHION_MNIST_FILES[k] + "[.gz]" for k, v in files.items() if v is None]
                raise FileNotFoundError(f"Fashion-MNIST in {folder}: missing {', '.join(missing)}.")
        raise FileNotFoundError(f"data_dir {str(data_dir)!r}: no Fashion-MNIST IDX files there (nor in its "
                                "fashion-mnist/ subfolder); fix data_dir, or leave it out to search the default "
                                "places. " + _HOW_TO_GET_FASHION)
    for folder in fashion_mnist_search_path(data_dir):
        files = {k: _idx_file(folder, stem) for k, stem in FASHION_MNIST_FILES.items()}
        if all(files.values()):
            return files
    looked = ", ".join(str(f) for f in fashion_mnist_search_path(data_dir))
    raise FileNotFoundError("Fashion-MNIST not found (looked in: " + looked + "). " + _HOW_TO_GET_FASHION)


_HOW_TO_GET_FASHION = (
    "Get it with `apt-get install dataset-fashion-mnist` (Debian/Ubuntu, installs /usr/share/datasets/fashion-mnist), "
    "or copy the four IDX files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, "
    "t10k-labels-idx1-ubyte.gz from github.com/zalandoresearch/fashion-mnist) into data/fashion-mnist/ "
    "or a folder named by $SYNAPSE_MADAM_DATA or data_dir.")


def _standardise(x_train: np.ndarray, x_test: np.ndarray):
    mean, std = float(x_train.mean()), float(x_train.std())
    return (x_train - mean) / std, (x_test - mean) / std, mean, std


def load_fashion_mnist(data_dir: str | os.PathLike | None = None) -> TensorDataset:
    """Fashion-MNIST (Xiao et al. 2017): 60 000 / 10 000 images (1, 28, 28), standardised, 10 classes."""
    files = find_fashion_mnist(data_dir)
    arrays = {k: read_idx(p) for k, p in files.items()}
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise ValueError(f"Fashion-MNIST {split} split: images {x.shape} and labels {y.shape} do not match "
                             f"({files['x_' + split]}, {files['y_' + split]}).")
        if y.size and (y.min() < 0 or y.max() > 9):
            raise ValueError(f"{files['y_' + split]}: labels outside 0..9; the file is not Fashion-MNIST labels.")
    x_train, x_test, mean, std = _standardise(arrays["x_train"].astype(np.float32) / 255.0,
                                              arrays["x_test"].astype(np.float32) / 255.0)
    return TensorDataset(
        "fashion_mnist",
        torch.from_numpy(x_train[:, None].copy()), torch.from_numpy(arrays["y_train"].astype(np.int64)),
        torch.from_numpy(x_test[:, None].copy()), torch.from_numpy(arrays["y_test"].astype(np.int64)),
        10, (1, 28, 28), {"source": str(files["x_train"].parent), "mean": mean, "std": std,
                          "files": [str(p) for p in files.values()]},
    )


# -------------------------------------------------------------------------------------- digits


def load_digits(test_fraction: float = 0.2, split_seed: int = 0) -> TensorDataset:
    """scikit-learn's 8x8 digits (1 797 images, 10 classes), a seeded stratified train/test split.

    Pixel values 0..16 are scaled to [0, 1] and standardised with the training split's statistics.
    """
    if not 0 < test_fraction < 1:
        raise ValueError(f"load_digits: test_fraction must be in (0, 1), got {test_fraction!r}.")
    from sklearn.datasets import load_digits as sk_load_digits

    bunch = sk_load_digits()
    x = bunch.images.astype(np.float32) / 16.0
    y = bunch.target.astype(np.int64)
    rng = np.random.default_rng(split_seed)
    test_idx = []
    for c in range(10):  # stratified: the same fraction of every class in the test split
        idx = np.flatnonzero(y == c)
        test_idx.append(rng.permutation(idx)[: int(round(test_fraction * len(idx)))])
    is_test = np.zeros(len(y), dtype=bool)
    is_test[np.concatenate(test_idx)] = True
    x_train, x_test, mean, std = _standardise(x[~is_test], x[is_test])
    return TensorDataset(
        "digits",
        torch.from_numpy(x_train[:, None].copy()), torch.from_numpy(y[~is_test]),
        torch.from_numpy(x_test[:, None].copy()), torch.from_numpy(y[is_test]),
        10, (1, 8, 8), {"source": "sklearn.datasets.load_digits", "mean": mean, "std": std,
                        "files": _sklearn_digits_files()},
    )


def _sklearn_digits_files() -> list[str]:
    """The file scikit-learn reads the digits from (for the run's data checksums)."""
    import sklearn.datasets

    f = Path(sklearn.datasets.__file__).parent / "data" / "digits.csv.gz"
    return [str(f)] if f.is_file() else []


# ---------------------------------------------------------------------------------------- text

# Printable ASCII and newline: a fixed vocabulary, so token ids mean the same for every corpus.
TEXT_VOCAB = "\n" + "".join(chr(c) for c in range(32, 127))
_UNKNOWN = TEXT_VOCAB.index(" ")


def find_fortunes(path: str | os.PathLike | None = None) -> list[Path]:
    """The fortune text files to read (a given file or folder, else /usr/share/games/fortunes)."""
    candidates = [Path(path)] if path else []
    env = os.environ.get("SYNAPSE_MADAM_DATA")
    if env:
        candidates.append(Path(env) / "fortunes")
    candidates += [Path("data/fortunes"), FORTUNES_SYSTEM_DIR]
    for c in candidates:
        if c.is_file():
            return [c]
        if c.is_dir():
            files = sorted(f for f in c.iterdir() if f.is_file() and not f.is_symlink()
                           and f.suffix not in (".dat", ".u8") and not f.name.startswith("."))
            if files:
                return files
        if path and c == Path(path):
            raise FileNotFoundError(f"text corpus {c} not found (give a text file or a folder of fortune files).")
    raise FileNotFoundError(
        "no English text corpus found (looked in: " + ", ".join(map(str, candidates)) + "). Install the "
        "fortune files with `apt-get install fortunes-min` (or the larger `fortunes`), or put plain-text "
        "files into data/fortunes/ or $SYNAPSE_MADAM_DATA/fortunes/."
    )


def encode_text(text: str) -> np.ndarray:
    """Map characters to ids in TEXT_VOCAB (anything outside printable ASCII becomes a space)."""
    lut = np.full(256, _UNKNOWN, dtype=np.int64)
    for i, ch in enumerate(TEXT_VOCAB):
        lut[ord(ch)] = i
    codes = np.frombuffer(text.encode("latin-1", errors="replace"), dtype=np.uint8)
    return lut[codes]


def decode_text(ids) -> str:
    """Inverse of :func:`encode_text`."""
    return "".join(TEXT_VOCAB[int(i)] for i in ids)


def load_fortunes(path: str | os.PathLike | None = None, block_size: int = 64,
                  test_fraction: float = 0.1) -> TensorDataset:
    """Character-level language-modelling data from the fortune-cookie files.

    The fortunes are joined (the ``%`` separator lines become blank lines), encoded with
    :data:`TEXT_VOCAB` and cut into non-overlapping windows of ``block_size + 1`` characters:
    inputs are the first ``block_size``, targets the next character at every position. The last
    ``test_fraction`` of the text (whole fortunes, never a window shared with training) is the
    test split.
    """
    if not isinstance(block_size, int) or block_size < 2:
        raise ValueError(f"load_fortunes: block_size must be an integer >= 2, got {block_size!r}.")
    files = find_fortunes(path)
    texts = []
    for f in files:
        t = f.read_text(encoding="utf-8", errors="replace")
        texts.append("\n".join("" if line.strip() == "%" else line for line in t.splitlines()))
    text = "\n\n".join(texts)
    ids = encode_text(text)
    n_test = int(len(ids) * test_fraction)
    splits = {"train": ids[: len(ids) - n_test], "test": ids[len(ids) - n_test:]}
    out = {}
    for name, s in splits.items():
        n = (len(s) - 1) // block_size
        if n < 1:
            raise ValueError(f"text corpus {files[0].parent}: too short for block_size={block_size} "
                             f"({len(ids)} characters).")
        windows = np.lib.stride_tricks.sliding_window_view(s, block_size + 1)[::block_size][:n]
        out[name] = torch.from_numpy(np.ascontiguousarray(windows))
    return TensorDataset(
        "fortunes", out["train"][:, :-1].contiguous(), out["train"][:, 1:].contiguous(),
        out["test"][:, :-1].contiguous(), out["test"][:, 1:].contiguous(),
        len(TEXT_VOCAB), (block_size,),
        {"source": str(files[0].parent), "characters": int(len(ids)), "files": [str(f) for f in files]},
    )


# -------------------------------------------------------------------------------------- registry

# name -> (loader, the keyword options it accepts, description)
DATASETS = {
    "digits": (lambda **kw: load_digits(**kw), ("test_fraction", "split_seed"),
               "sklearn 8x8 digits, 1 437 train / 360 test (embedded)"),
    "fashion_mnist": (lambda data_dir=None, **kw: load_fashion_mnist(data_dir), ("data_dir",),
                      "Fashion-MNIST 60 000 / 10 000, 28x28 (IDX files)"),
    "fortunes": (lambda data_dir=None, **kw: load_fortunes(data_dir, **kw), ("data_dir", "block_size", "test_fraction"),
                 "fortune-cookie English text, next-character prediction"),
}


_CACHE: dict = {}  # the loaded datasets of this process (never modified in place by the trainer)


def load_dataset(name: str, *, train_subset: int | None = None, test_subset: int | None = None,
                 subset_seed: int = 0, **options) -> TensorDataset:
    """Load the dataset called ``name`` (see DATASETS), optionally a seeded subset of each split."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; allowed values: {', '.join(DATASETS)}.")
    loader, allowed, _ = DATASETS[name]
    bad = sorted(set(options) - set(allowed))
    if bad:
        raise ValueError(f"dataset {name!r}: unknown option(s) {', '.join(bad)}; allowed: {', '.join(allowed) or 'none'}.")
    key = (name, tuple(sorted((k, str(v)) for k, v in options.items())), os.environ.get("SYNAPSE_MADAM_DATA"))
    ds = _CACHE.get(key)
    if ds is None:  # parsing Fashion-MNIST takes seconds; a sweep loads it once per process
        ds = _CACHE[key] = loader(**options)
        while len(_CACHE) > 3:
            _CACHE.pop(next(iter(_CACHE)))
    if train_subset or test_subset:
        ds = ds.subset(train_subset, test_subset, seed=subset_seed)
    return ds
