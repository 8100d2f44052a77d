"""Synthetic run records of benchmarks/lns_bits.py, shared by its tests and the summary's."""


def run_record(task, config, lr, seed, acc, status="done"):
    """One raw run file's content: the fields the report and the summary read."""
    return {"id": f"{task}__{config}__lr{lr:g}__s{seed}", "task": task, "config": config, "lr": lr, "seed": seed,
            "status": status, "summary": {"final_test_acc": acc, "state_bytes_per_param": 5.0, "diverged": False,
                                          "epochs": 3}, "curve": [{"test_acc": acc}]}
