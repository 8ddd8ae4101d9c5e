"""``eventlens fit OUT``: measure the signal strength from a run's categorised histograms.

Reads ``OUT/histograms.json`` (the histogram contract, :mod:`eventlens.stats.io`)
and the fit model (``--model``, default ``configs/fit/<task>.yaml``), builds
one binned model and fits it with pyhf (profile likelihood, MINUIT, MINOS for
μ).  Writes into ``OUT/fit`` (or ``-o DIR``):

    shapes.root, datacard.txt   the model for combine (``combine -M FitDiagnostics datacard.txt``)
    workspace.json              the same model for pyhf/cabinetry (the one fitted)
    fit.json                    mu, mu_err, mu_err_up/down (MINOS), expected (Asimov) errors,
                                fit status, every parameter's value/pull/constraint, impacts
    plots/                      pre-/post-fit stacks per region, pulls, impact ranking

Exit status 1 when the fit does not converge (fit.json says so).
"""

from __future__ import annotations

import argparse
import hashlib
import logging
from pathlib import Path

log = logging.getLogger(__name__)

FIT_DIR = "fit"
FIT_JSON = "fit.json"


def run(args: argparse.Namespace) -> int:
    from .. import __version__
    from ..io import write_json
    from ..stats import HISTOGRAMS, build_model, read_histograms, resolve_fit_model
    from ..stats.fit import run_fit
    from ..stats.plots import plot_all
    from ..stats.workspace import workspace_spec

    if not getattr(args, "verbose", 0):  # pyhf logs every schema validation at INFO
        for name in ("pyhf", "cabinetry"):
            logging.getLogger(name).setLevel(logging.WARNING)
    source = args.out / HISTOGRAMS if args.out.is_dir() else args.out
    hset = read_histograms(source)
    fit_model = resolve_fit_model(args.model, hset.task)
    model = build_model(hset, fit_model, signal=args.signal, observable=args.observable)
    out = args.output or (source.parent / FIT_DIR)
    from ..stats import write_model_files

    write_model_files(model, out)
    log.info(
        "model: %d regions, signal %s, backgrounds %s, %d shape systematics",
        len(model.regions),
        model.signal,
        ", ".join(model.backgrounds),
        len(model.shape_systematics),
    )
    meas = run_fit(
        workspace_spec(model),
        asimov=args.asimov,
        with_impacts=not args.no_impacts,
        impacts_staterror=args.impacts_staterror,
    )
    summary = {
        "signal": model.signal,
        "observable": model.observable,
        "regions": [r.name for r in model.regions],
        "processes": model.processes,
        "observation": model.observation,
        **meas.summary(),
        "inputs": {
            "histograms": str(source),
            "histograms_sha256": hashlib.sha256(source.read_bytes()).hexdigest(),
            "fit_model": fit_model.to_dict(),
            "fit_model_source": fit_model.source or None,
            "fit_model_sha256": fit_model.digest(),
        },
        "eventlens_version": __version__,
    }
    if not args.no_plots:
        plot_all(meas, model, out / "plots")
    write_json(out / FIT_JSON, summary)
    if not meas.result.converged:
        log.error(
            "fit did not converge (%s); see %s", meas.result.status.get("message"), out / FIT_JSON
        )
        return 1
    s = meas.summary()
    log.info(
        "mu(%s) = %.4f +%.4f -%.4f (HESSE ±%.4f); expected ±%.4f  ->  %s",
        model.signal,
        s["mu"],
        s["mu_err_up"],
        s["mu_err_down"],
        s["mu_err"],
        s["expected"]["mu_err"],
        out / FIT_JSON,
    )
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "fit",
        help="profile-likelihood fit of a signal strength (pyhf) from a run's histograms",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("out", type=Path, help="a run's output folder (or its histograms.json)")
    p.add_argument("--signal", metavar="PROCESS", help="signal process (default: the fit model's)")
    p.add_argument("--asimov", action="store_true", help="fit the Asimov data (mu=1), not the data")
    p.add_argument("--model", type=Path, help="fit model YAML (default configs/fit/<task>.yaml)")
    p.add_argument("--observable", help="which histogram to fit (default: the fit model's)")
    p.add_argument("-o", "--output", type=Path, help="output folder (default OUT/fit)")
    p.add_argument("--no-impacts", action="store_true", help="skip the impact ranking")
    p.add_argument(
        "--impacts-staterror",
        action="store_true",
        help="rank the per-bin MC-statistics parameters too (4 fits each)",
    )
    p.add_argument("--no-plots", action="store_true", help="write fit.json only")
    p.set_defaults(func=run)
