"""The reference data files: complete, sourced, tagged, and internally consistent."""

import math

import pytest

from synapse_madam.biology import available_references, load_references, reference_distribution
from synapse_madam.biology.precision import levels_from_range_cv

REQUIRED = {
    "song2005": {"ln_mu", "ln_sigma", "mean", "median", "mode"},
    "loewenstein2011": {"dynamics", "distribution"},
    "bartol2015": {"distinguishable_levels", "bits"},
    "samavat2024": {"distinguishable_sizes", "bits_low", "bits_high"},
    "dorkenwald2022": {"distribution", "n_connections"},
    "teramae2012": {"ln_sigma", "ln_mu", "mode"},
    "song2000": {"a_plus", "a_minus_over_a_plus", "tau_plus", "tau_minus", "gmax"},
}


@pytest.fixture(scope="module")
def refs():
    return load_references()


def test_required_datasets_and_statistics_present(refs):
    for ds, quantities in REQUIRED.items():
        assert ds in refs, ds
        have = {s.quantity for s in refs[ds].statistics}
        assert quantities <= have, (ds, quantities - have)


def test_every_row_is_sourced_and_tagged(refs):
    for ds in refs.values():
        c = ds.citation
        assert c.authors and c.title and c.journal and 1900 < c.year < 2100
        assert ds.statistics, ds.id
        for s in ds.statistics:
            assert s.confirmed in {"S", "M", "C"}
            assert s.statement and s.source
            if s.value is not None:
                assert s.unit, (ds.id, s.quantity)


def test_song2005_moments_follow_from_mu_sigma(refs):
    song = refs["song2005"]
    mu, sigma = song.value("ln_mu"), song.value("ln_sigma")
    # the paper reports two decimals: agree to half a unit in the last place
    assert math.exp(mu + sigma**2 / 2) == pytest.approx(song.value("mean"), abs=0.005)
    assert math.exp(mu) == pytest.approx(song.value("median"), abs=0.005)
    assert math.exp(mu - sigma**2) == pytest.approx(song.value("mode"), abs=0.005)
    assert sigma**2 == pytest.approx(song.value("ln_sigma2"), abs=5e-5)


def test_derived_rows_match_their_arithmetic(refs):
    bartol = refs["bartol2015"]
    assert math.log2(bartol.value("distinguishable_levels")) == pytest.approx(bartol.value("bits_from_levels"), abs=0.005)
    assert bartol.value("bits") == pytest.approx(bartol.value("bits_from_levels"), abs=0.05)
    p = levels_from_range_cv(bartol.value("size_range"), bartol.value("pair_cv"))
    assert p.levels == pytest.approx(bartol.value("levels_from_range_cv"), abs=0.01)
    ter = refs["teramae2012"]
    s = ter.value("ln_sigma")
    assert ter.value("ln_mu") == pytest.approx(s**2 + math.log(ter.value("mode")), abs=1e-4)
    assert ter.value("mean") == pytest.approx(math.exp(ter.value("ln_mu") + s**2 / 2), abs=1e-3)
    assert all(st.confirmed != "S" or "recalled" not in st.source for d in refs.values() for st in d.statistics)


def test_reference_distribution_song2005():
    r = reference_distribution("song2005")
    assert (r.mu, r.sigma, r.unit, r.confirmed) == (-0.702, 0.9355, "mV", "S")
    assert r.median == pytest.approx(0.496, abs=1e-3)
    assert "10.1371/journal.pbio.0030068" in str(r.citation)
    assert set(available_references()) >= {"song2005", "teramae2012"}


def test_unknown_reference_lists_allowed_names():
    with pytest.raises(ValueError, match="song2005"):
        reference_distribution("song2006")


def test_missing_statistic_names_the_available_ones(refs):
    with pytest.raises(KeyError, match="ln_mu"):
        refs["song2005"].get("nonsense")
    with pytest.raises(ValueError, match="without a number"):
        refs["loewenstein2011"].value("dynamics")


def _write(tmp_path, stats_rows, ds_id="mine"):
    (tmp_path / "datasets.csv").write_text(
        "id,authors,year,title,journal,volume,pages,doi,species,preparation,measure,kind\n"
        f"{ds_id},Me A,2024,My data,My Journal,1,1,,rat,slice,EPSP,measurement\n")
    (tmp_path / "statistics.csv").write_text("dataset,quantity,value,unit,confirmed,statement,source\n" + stats_rows)


def test_user_directory_loads(tmp_path):
    _write(tmp_path, "mine,ln_mu,-1.0,ln(mV),S,mean of ln,table 1\n")
    refs = load_references(tmp_path)
    assert refs["mine"].value("ln_mu") == -1.0


@pytest.mark.parametrize("row, msg", [
    ("mine,ln_mu,-1.0,ln(mV),X,mean,table\n", "confirmed"),
    ("mine,ln_mu,abc,ln(mV),S,mean,table\n", "not a number"),
    ("other,ln_mu,-1.0,ln(mV),S,mean,table\n", "not in datasets.csv"),
])
def test_bad_user_files_fail_clearly(tmp_path, row, msg):
    _write(tmp_path, row)
    with pytest.raises(ValueError, match=msg):
        load_references(tmp_path)


def test_missing_directory(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_references(tmp_path / "nope")
