"""Datasets: the IDX parser on files made here (good, truncated, corrupt), the real datasets."""

import gzip
import struct

import numpy as np
import pytest
import torch

from synapse_madam.deep import data


def write_idx(path, array, compress=False):
    array = np.ascontiguousarray(array, dtype=np.uint8)
    raw = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()
    path.write_bytes(gzip.compress(raw) if compress else raw)
    return path


def make_fashion_dir(folder, n_train=12, n_test=5, compress=True):
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28)),
        "train-labels-idx1-ubyte": np.arange(n_train) % 10,
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28)),
        "t10k-labels-idx1-ubyte": np.arange(n_test) % 10,
    }
    for stem, a in arrays.items():
        write_idx(folder / (stem + (".gz" if compress else "")), a, compress)
    return arrays


@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_round_trip(tmp_path, compress):
    a = np.random.default_rng(1).integers(0, 256, (7, 3, 4)).astype(np.uint8)
    out = data.read_idx(write_idx(tmp_path / "a.idx", a, compress))
    assert out.shape == (7, 3, 4) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, a)


def test_truncated_raw_payload_is_an_error(tmp_path):
    p = write_idx(tmp_path / "a", np.zeros((10, 28, 28)))
    p.write_bytes(p.read_bytes()[:-100])
    with pytest.raises(ValueError, match="truncated"):
        data.read_idx(p)


def test_trailing_bytes_are_an_error(tmp_path):
    p = write_idx(tmp_path / "a", np.zeros((4, 2)))
    p.write_bytes(p.read_bytes() + b"\x00\x01")
    with pytest.raises(ValueError, match="trailing"):
        data.read_idx(p)


def test_truncated_gzip_is_an_error(tmp_path):
    p = write_idx(tmp_path / "a.gz", np.arange(5000).reshape(50, 100) % 256, compress=True)
    p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2])
    with pytest.raises(ValueError, match=str(p.name)):
        data.read_idx(p)


def test_corrupt_gzip_and_bad_magic_are_errors(tmp_path):
    p = tmp_path / "bad.gz"
    good = gzip.compress(bytes(1000))
    p.write_bytes(good[:20] + bytes(b ^ 0xFF for b in good[20:40]) + good[40:])
    with pytest.raises(ValueError, match="gzip|IDX"):
        data.read_idx(p)
    q = tmp_path / "notidx"
    q.write_bytes(b"PK\x03\x04" + bytes(100))
    with pytest.raises(ValueError, match="not an IDX file"):
        data.read_idx(q)


@pytest.mark.parametrize("compress", [False, True])
def test_fashion_mnist_from_a_given_folder(tmp_path, compress):
    arrays = make_fashion_dir(tmp_path / "fm", compress=compress)
    ds = data.load_fashion_mnist(tmp_path / "fm")
    assert ds.x_train.shape == (12, 1, 28, 28) and ds.x_test.shape == (5, 1, 28, 28)
    assert ds.y_train.tolist() == arrays["train-labels-idx1-ubyte"].tolist()
    assert abs(float(ds.x_train.mean())) < 1e-5 and abs(float(ds.x_train.std()) - 1) < 1e-3
    # the test split is normalised with the training statistics, not its own
    raw_test = arrays["t10k-images-idx3-ubyte"].astype(np.float32) / 255
    expected = (raw_test - ds.info["mean"]) / ds.info["std"]
    np.testing.assert_allclose(ds.x_test[:, 0].numpy(), expected, rtol=1e-5, atol=1e-5)


def test_fashion_mnist_env_var_is_searched(tmp_path, monkeypatch):
    make_fashion_dir(tmp_path / "d" / "fashion-mnist")
    monkeypatch.setenv("SYNAPSE_MADAM_DATA", str(tmp_path / "d"))
    assert data.find_fashion_mnist()["x_train"].parent == tmp_path / "d" / "fashion-mnist"


def test_a_truncated_fashion_file_is_never_loaded(tmp_path):
    make_fashion_dir(tmp_path / "fm")
    p = tmp_path / "fm" / "train-labels-idx1-ubyte.gz"
    p.write_bytes(p.read_bytes()[:-6])
    with pytest.raises(ValueError, match="train-labels"):
        data.load_fashion_mnist(tmp_path / "fm")


def test_missing_fashion_mnist_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SYNAPSE_MADAM_DATA", raising=False)
    monkeypatch.setattr(data, "FASHION_MNIST_SYSTEM_DIR", tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="apt-get install dataset-fashion-mnist"):
        data.find_fashion_mnist(tmp_path / "empty")


def test_partial_folder_names_the_missing_files(tmp_path):
    make_fashion_dir(tmp_path / "fm")
    (tmp_path / "fm" / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError, match="t10k-labels"):
        data.find_fashion_mnist(tmp_path / "fm")


@pytest.mark.skipif(not data.FASHION_MNIST_SYSTEM_DIR.is_dir(), reason="dataset-fashion-mnist not installed")
def test_real_fashion_mnist():
    ds = data.load_fashion_mnist(data.FASHION_MNIST_SYSTEM_DIR)
    assert ds.x_train.shape == (60000, 1, 28, 28) and ds.x_test.shape == (10000, 1, 28, 28)
    assert torch.bincount(ds.y_train).tolist() == [6000] * 10
    assert torch.bincount(ds.y_test).tolist() == [1000] * 10
    assert abs(ds.info["mean"] - 0.2860) < 1e-3 and abs(ds.info["std"] - 0.3530) < 1e-3


def test_digits_split():
    ds = data.load_digits()
    assert len(ds.x_train) + len(ds.x_test) == 1797
    assert ds.x_train.shape[1:] == (1, 8, 8) and ds.input_shape == (1, 8, 8)
    counts = torch.bincount(ds.y_test, minlength=10).float()
    assert counts.min() >= 0.8 * counts.mean()  # stratified
    assert abs(float(ds.x_train.mean())) < 1e-5
    flat_tr = {tuple(r) for r in ds.x_train.reshape(len(ds.x_train), -1).numpy().round(4).tolist()}
    overlap = sum(tuple(r) in flat_tr for r in ds.x_test.reshape(len(ds.x_test), -1).numpy().round(4).tolist())
    assert overlap <= 2  # the digits set holds a couple of duplicate images, nothing more
    assert data.load_digits().y_test.tolist() == ds.y_test.tolist()  # the split is fixed


def test_subset_is_seeded_and_sized():
    ds = data.load_dataset("digits", train_subset=100, test_subset=50, subset_seed=3)
    again = data.load_dataset("digits", train_subset=100, test_subset=50, subset_seed=3)
    assert len(ds.x_train) == 100 and len(ds.x_test) == 50
    assert torch.equal(ds.x_train, again.x_train)


def test_unknown_dataset_and_option():
    with pytest.raises(ValueError, match="allowed values: digits, fashion_mnist, fortunes"):
        data.load_dataset("mnist")
    with pytest.raises(ValueError, match="block_size"):
        data.load_dataset("digits", block_size=3)


def test_text_encoding_round_trip():
    s = "Hello, world!\nThe 2nd line ~"
    assert data.decode_text(data.encode_text(s)) == s


def test_fortunes_from_a_given_file(tmp_path):
    text = "%\n".join(f"Fortune number {i}: a bird in the hand is worth two in the bush.\n" for i in range(40))
    (tmp_path / "f").write_text(text)
    ds = data.load_fortunes(tmp_path / "f", block_size=16)
    assert ds.x_train.shape[1] == 16 and ds.y_train.shape == ds.x_train.shape
    assert torch.equal(ds.x_train[:, 1:], ds.y_train[:, :-1])  # targets are the next character
    assert "bird in the hand" in data.decode_text(ds.x_train.reshape(-1))
    assert "%" not in data.decode_text(ds.x_train.reshape(-1))


def test_missing_text_corpus_names_the_package(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SYNAPSE_MADAM_DATA", raising=False)
    monkeypatch.setattr(data, "FORTUNES_SYSTEM_DIR", tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="apt-get install fortunes-min"):
        data.find_fortunes()


@pytest.mark.skipif(not data.FORTUNES_SYSTEM_DIR.is_dir(), reason="fortunes-min not installed")
def test_real_fortunes():
    ds = data.load_fortunes(block_size=64)
    assert ds.num_classes == len(data.TEXT_VOCAB) and len(ds.x_train) > 500
    text = data.decode_text(ds.x_train[:20].reshape(-1))
    assert sum(c.isalpha() for c in text) > 0.6 * len(text)
