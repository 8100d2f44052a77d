"""Rate-based E/I networks trained on cognitive tasks with Madam (Dale's law by construction).

    from synapse_madam.rate import EIRateRNN, make_task, train
    task = make_task("perceptual_dm")
    net = EIRateRNN(task.n_input, task.n_output, n_rec=100)
    result = train(net, task, learner="bptt", optimizer="madam", steps=500)

Modules, one job each: ``network`` (the E/I rate RNN, projection for additive optimizers),
``tasks`` (trial generators, masked loss, accuracy, psychometric curves), ``train`` (the
training loop: BPTT learners, seeds, metrics, checkpoints, resume), ``local`` (a backprop-free
three-factor rule: node perturbation driving Madam's normalised log-space step), ``analysis``
(weight statistics per E/I group), ``runner`` (the "rate" substrate of ``synapse-madam run``).
"""

from .network import ACTIVATIONS, GROUPS, INITS, EIRateRNN

__all__ = ["ACTIVATIONS", "GROUPS", "INITS", "EIRateRNN"]
