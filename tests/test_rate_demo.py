"""The rate-network part of the demo at a tiny size."""

from synapse_madam.rate.demo import RATE_DEMO_LEARNERS, run_rate_demo


def test_rate_demo_small(tmp_path):
    res = run_rate_demo(tmp_path, steps=20, progress=False, print_fn=lambda *a: None)
    assert set(res["results"]) == set(RATE_DEMO_LEARNERS)
    assert res["results"]["Madam"]["sign_violations"] == 0
    assert res["results"]["Madam"]["crossed_total"] == 0  # no projection was ever needed
    assert "| Adam + projection |" in res["report"]


def test_rate_demo_runs_again_into_the_same_folder(tmp_path):
    """A second `synapse-madam demo` reuses the finished runs of the same spec (no refusal, no loss)."""
    first = run_rate_demo(tmp_path, steps=6, progress=False, print_fn=lambda *a: None)
    again = run_rate_demo(tmp_path, steps=6, progress=False, print_fn=lambda *a: None)
    for label in RATE_DEMO_LEARNERS:
        assert again["results"][label]["accuracy"] == first["results"][label]["accuracy"]
