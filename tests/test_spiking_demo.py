"""The spiking part of the demo at a tiny size (numpy target, 1 s of biological time)."""

from synapse_madam.spiking.demo import SPIKING_DEMO_RULES, run_spiking_demo


def test_spiking_demo_small(tmp_path):
    res = run_spiking_demo(tmp_path, duration_s=1.0, target="numpy", progress=False, print_fn=lambda *a: None)
    assert set(res["results"]) == set(SPIKING_DEMO_RULES)
    for label, summary in res["results"].items():
        digest = summary["weights"]["EE"]
        assert digest["sign_flips"] == 0 and digest["frac_wrong_sign"] == 0.0
        assert f"| {label} |" in res["report"]
    assert (tmp_path / "spiking").is_dir()
