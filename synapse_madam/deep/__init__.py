"""Deep-net backend: real datasets, standard nets, one trainer for every optimizer, lr sweeps.

    data     Fashion-MNIST (IDX), scikit-learn digits, fortune-cookie text, as in-memory tensors
    nets     MLP (any depth), small CNN, ResNet for 28x28, causal character Transformer
    trainer  the training loop: CPU/GPU, bf16 autocast, DDP, checkpoints and exact resume
    runner   the "deep" substrate: validate a models/*.toml spec, run it into runs/NAME/
    sweep    optimizer x lr x seed sweeps -> CSV, markdown table, Figure-1-style plot
    demo     untuned Madam vs tuned Adam/SGD on the digits (part of `synapse-madam demo`)

Modules are imported on use (``from synapse_madam.deep import trainer``); nothing here imports Brian2.
"""
