"""Progress bars draw on a terminal only: in a log file or a pipe they write nothing."""

import io

from synapse_madam.deep.data import load_dataset
from synapse_madam.deep.nets import build_net
from synapse_madam.deep.trainer import TrainConfig, train
from synapse_madam.progress import is_terminal, progress_bar


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_bar_writes_only_to_a_terminal():
    log, tty = io.StringIO(), FakeTerminal()
    assert not is_terminal(log) and is_terminal(tty)
    assert list(progress_bar(range(5), desc="x", file=log)) == list(range(5))
    assert log.getvalue() == ""
    list(progress_bar(range(5), desc="x", file=tty))
    assert "5/5" in tty.getvalue()
    list(progress_bar(range(5), desc="x", file=tty, enabled=False))
    assert tty.getvalue().count("5/5") == 1, "enabled=False is silent on a terminal too"


def test_trainer_with_progress_writes_no_bar_to_a_non_terminal(capfd):
    ds = load_dataset("digits", train_subset=200, test_subset=50)
    net = build_net("mlp", ds.input_shape, ds.num_classes, width=16, depth=1)
    train(net, ds, TrainConfig(optimizer="madam", lr=0.01, epochs=1, batch_size=32, progress=True))
    err = capfd.readouterr().err
    assert "\r" not in err and "it/s" not in err, err[-300:]


def test_rate_training_with_progress_writes_no_bar_to_a_non_terminal(capfd, tmp_path):
    from synapse_madam.rate import EIRateRNN
    from synapse_madam.rate.tasks import make_task
    from synapse_madam.rate.train import make_learner
    from synapse_madam.rate.train import train as rate_train

    task = make_task("perceptual_dm", stimulus_ms=[100, 200], delay_ms=0, decision_ms=200)
    net = EIRateRNN(task.n_input, task.n_output, 20, seed=0)
    rate_train(net, task, make_learner(net, "bptt", optimizer="madam"), steps=4, batch_size=4, eval_every=2,
               eval_trials=8, final_eval_trials=8, run_dir=tmp_path, progress=True)
    err = capfd.readouterr().err
    assert "\r" not in err and "it/s" not in err, err[-300:]


def test_a_silent_bar_needs_no_tqdm(monkeypatch):
    """A bar that draws nothing must not import tqdm: GPU hosts with only torch/numpy still train."""
    import sys

    monkeypatch.setitem(sys.modules, "tqdm", None)  # `import tqdm...` now raises ImportError
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    log = io.StringIO()
    bar = progress_bar(range(3), desc="x", file=log)
    assert list(bar) == [0, 1, 2]
    manual = progress_bar(total=4, desc="y", file=log)
    manual.update(1)
    manual.set_postfix(loss="1.0")
    manual.set_postfix_str("z")
    manual.close()
    assert log.getvalue() == ""
