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


def fit_run(
    out: Path,
    *,
    signal: str | None = None,
    model: Path | None = None,
    observable: str | None = None,
    output: Path | None = None,
    asimov: bool = False,
    impacts: bool = True,
    impacts_staterror: bool = False,
    plots: bool = True,
) -> dict:
    """The whole ``eventlens fit``: read ``out``'s histograms, fit, write ``fit.json`` (and
    the model files and plots) into ``output`` (default ``out/fit``); returns fit.json's
    content (``status.converged`` says whether the fit converged)."""
    from .. import __version__
    from ..io import write_json
    from ..stats import (
        HISTOGRAMS,
        build_model,
        read_histograms,
        resolve_fit_model,
        write_model_files,
    )
    from ..stats.fit import run_fit
    from ..stats.plots import plot_all
    from ..stats.workspace import workspace_spec

    source = out / HISTOGRAMS if out.is_dir() else out
    hset = read_histograms(source)
    fit_model = resolve_fit_model(model, hset.task)
    stat_model = build_model(hset, fit_model, signal=signal, observable=observable)
    folder = output or (source.parent / FIT_DIR)
    write_model_files(stat_model, folder)
    log.info(
        "model: %d regions, signal %s, backgrounds %s, %d shape systematics",
        len(stat_model.regions),
        stat_model.signal,
        ", ".join(stat_model.backgrounds),
        len(stat_model.shape_systematics),
    )
    meas = run_fit(
        workspace_spec(stat_model),
        asimov=asimov,
        with_impacts=impacts,
        impacts_staterror=impacts_staterror,
    )
    summary = {
        "signal": stat_model.signal,
        "observable": stat_model.observable,
        "regions": [r.name for r in stat_model.regions],
        "processes": stat_model.processes,
        "observation": stat_model.observation,
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
    if plots:
        plot_all(meas, stat_model, folder / "plots")
    write_json(folder / FIT_JSON, summary)
    if not meas.result.converged:
        log.error(
            "fit did not converge (%s); see %s",
            meas.result.status.get("message"),
            folder / FIT_JSON,
        )
        return summary
    log.info(
        "mu(%s) = %.4f +%.4f -%.4f (HESSE ±%.4f); expected ±%.4f  ->  %s",
        stat_model.signal,
        summary["mu"],
        summary["mu_err_up"],
        summary["mu_err_down"],
        summary["mu_err"],
        summary["expected"]["mu_err"],
        folder / FIT_JSON,
    )
    return summary


def run(args: argparse.Namespace) -> int:
    if not getattr(args, "verbose", 0):  # pyhf logs every schema validation at INFO
        for name in ("pyhf", "cabinetry"):
            logging.getLogger(name).setLevel(logging.WARNING)
    summary = fit_run(
        args.out,
        signal=args.signal,
        model=args.model,
        observable=args.observable,
        output=args.output,
        asimov=args.asimov,
        impacts=not args.no_impacts,
        impacts_staterror=args.impacts_staterror,
        plots=not args.no_plots,
    )
    return 0 if summary["status"]["converged"] else 1


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
