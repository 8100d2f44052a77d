"""The spiking part of the demo at a tiny size (numpy target, 1 s of biological time)."""

from synapse_madam.spiking.demo import SPIKING_DEMO_RULES, run_spiking_demo


def test_spiking_demo_small(tmp_path):
    printed = []
    res = run_spiking_demo(tmp_path, duration_s=1.0, target="numpy", progress=False, print_fn=printed.append)
    assert set(res["results"]) == set(SPIKING_DEMO_RULES)
    for (label, summary), line in zip(res["results"].items(), printed):
        digest = summary["weights"]["EE"]
        assert digest["sign_flips"] == 0 and digest["frac_wrong_sign"] == 0.0
        assert f"| {label} |" in res["report"]
        # the time printed is wall-clock time, and is called so
        assert f"wall time {summary['wall_s']:.1f} s for 1 s of biological time" in line and "simulated" not in line
    assert "| wall time (s) |" in res["report"] and "not simulated time" in res["report"]
    assert (tmp_path / "spiking").is_dir()


def test_reward_demo_small(tmp_path):
    """The distal-reward part of the demo: both three-factor rules, a table row each; Madam flips no sign."""
    from synapse_madam.spiking.demo import run_reward_demo

    printed = []
    res = run_reward_demo(tmp_path, duration_s=1.0, print_fn=printed.append)
    assert set(res["results"]) == {"madam", "additive"} and len(printed) == 2
    madam = res["results"]["madam"]["weights"]["EE"]
    assert madam["sign_flips"] == 0 and madam["frac_wrong_sign"] == 0.0
    for s in res["results"].values():
        assert f"| {s['rule']['name']} |" in res["report"] and 0 <= s["results"]["final_percentile"] <= 1
    assert (tmp_path / "spiking_reward" / "madam" / "summary.json").is_file()
