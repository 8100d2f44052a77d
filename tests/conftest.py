import pytest


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False, help="run tests marked slow")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow"):
        return
    skip_slow = pytest.mark.skip(reason="slow: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip_slow)


@pytest.fixture
def train_digits_mlp():
    """train(make_optimizer, epochs=15) -> (test accuracy, model): a 64-128-10 MLP trained on
    scikit-learn's 8x8 digits (1400 train / 397 test, seeded), batch 32."""
    import torch
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = torch.tensor(digits.data / 16.0, dtype=torch.float32)
    y = torch.tensor(digits.target)

    def train(make_optimizer, epochs=15):
        gen = torch.Generator().manual_seed(0)
        perm = torch.randperm(len(y), generator=gen)
        train_idx, test_idx = perm[:1400], perm[1400:]
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
        opt = make_optimizer(model)
        for _ in range(epochs):
            for idx in train_idx[torch.randperm(len(train_idx), generator=gen)].split(32):
                opt.zero_grad()
                torch.nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
                opt.step()
        with torch.no_grad():
            accuracy = (model(x[test_idx]).argmax(1) == y[test_idx]).float().mean().item()
        return accuracy, model

    return train
