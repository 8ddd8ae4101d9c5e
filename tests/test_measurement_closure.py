"""Closure on the real pipeline (issue 15): pseudo-data with μ(tt̄) = 0.5 and 1.5 injected is
fitted back within 2σ.

Real Pythia 8 samples of the DTW processes (small, MPI off for speed: simulation and
pseudo-data are made alike, which is all closure needs), the shipped DTW CNN in the
coffea loop with every systematic variation, ``histograms.json`` → pyhf fit
(``eventlens fit``'s code).  Independent seeds for the simulation and the pseudo-data
source; the same luminosity for both injected values.
"""

from __future__ import annotations

import json

import pytest

from conftest import REPO

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:Missing cross-reference index:RuntimeWarning"),
]

EVENTS = 2500


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    from eventlens.generate.run import GenerationRequest
    from eventlens.generate.samples import make_samples

    base = tmp_path_factory.mktemp("closure")

    def make(name: str, seed: int, events: int):
        template = GenerationRequest(
            process="dy", events=events, seed=seed, output=base / name / "unused.root",
            mpi=False, jobs=2, progress=False,
        )
        return make_samples("dtw", events, base / name, template=template)

    # twice the pseudo-data source in simulation: templates whose statistical noise
    # rivals the data's let a shape systematic fit that noise (JES ran into its bound)
    return base, make("mc", 21, 2 * EVENTS), make("pseudodata", 22, EVENTS)


@pytest.mark.parametrize("mu", [0.5, 1.5])
def test_injected_signal_strength_is_fitted_back(samples, mu):
    from eventlens.cli.fit import fit_run
    from eventlens.pipeline.infer import run_inference
    from eventlens.pseudodata import make_pseudodata
    from eventlens.stats import resolve_fit_model

    base, mc_fs, pd_fs = samples
    source = json.loads(pd_fs.read_text())
    signal = set(resolve_fit_model(None, "dtw").members("ttbar")) & set(source)
    assert signal >= {"ttbar", "ttbar_enu"}  # both lepton flavours are injected
    # one luminosity for both values: what the source serves at the largest injection
    lumi = 0.8 * min(
        len_ / (d["metadata"]["xsec"] * (1.5 if name in signal else 1.0))
        for name, d in source.items()
        for len_ in [d["metadata"]["nevents"]]
    )
    pseudo = make_pseudodata(
        pd_fs, base / f"pseudo_{mu}.root", luminosity_pb=lumi, seed=5,
        scale=dict.fromkeys(signal, mu),
    )
    fileset = json.loads(mc_fs.read_text())
    fileset.update(pseudo.fileset_entry())
    out = base / f"infer_{mu}"
    run_inference(
        REPO / "onnx_models" / "dtw_compact_cnn.onnx",
        fileset,
        out,
        luminosity_pb=lumi,
        status=False,
        overwrite=True,
    )
    fit = fit_run(out, impacts=False, plots=False)
    assert fit["status"]["converged"], fit["status"]
    assert fit["observation"] == "data"
    err = fit["mu_err_up"] if fit["mu"] < mu else fit["mu_err_down"]
    print(f"closure: injected {mu}, fitted {fit['mu']:.3f} +{fit['mu_err_up']:.3f} "
          f"-{fit['mu_err_down']:.3f}, L = {lumi:.3g} pb^-1")
    assert abs(fit["mu"] - mu) < 2 * err, (fit["mu"], fit["mu_err_up"], fit["mu_err_down"], mu)
    assert 0 < err < 0.5  # a measurement, not a shrug
    # every systematic of the run made it into the fitted model
    params = set(fit["parameters"])
    assert {"jes", "jer", "met_unclustered", "muon_id", "btag_bc", "lumi"} <= params
