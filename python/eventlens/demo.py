"""The whole chain on the built-in default data (``eventlens demo``).

1. generate: Pythia 8 + the CMS-like detector, three independent sample sets of
   the task's processes (seeds 1, 2, 3): training, simulation for the
   prediction, and the source of the pseudo-data;
2. pseudo-data: a cross-section-weighted unweighted mixture (:mod:`.pseudodata`),
   the fit model's signal (tt̄ for DTW) scaled by ``inject_mu`` (default 1);
3. select: the task's coffea processor writes the training table;
4. train: the compact CNN, briefly (or ``--use-shipped-model``);
5. export: ONNX + model card;
6. infer: the model inside the coffea loop on simulation + pseudo-data, with the
   systematic variations: ``histograms.json`` and the combine/pyhf inputs;
7. fit: ``eventlens fit`` measures μ of the signal (pyhf profile likelihood);
8. plot: every figure, and ``index.md`` with the key numbers — the fitted μ ± σ
   next to the injected value.

Every stage reuses what an earlier run left when its inputs are unchanged
(generated files carry a settings hash; selection, training and export are
skipped when their outputs exist), so a second run is quick.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .io import atomic_path
from .modelcard import load_model_card
from .resources import config_dir, models_dir

log = logging.getLogger(__name__)


def _train_config(task: str) -> Path:
    """The compact-CNN training config the demo trains for ``task``."""
    return config_dir() / "train" / f"{task}_compact_cnn.yaml"


def demo_tasks() -> tuple[str, ...]:
    """The registry's tasks the demo can run: those with a compact-CNN training config."""
    from .processors.registry import task_names

    return tuple(t for t in task_names() if _train_config(t).exists())


@dataclass
class DemoSettings:
    output: Path
    task: str = "dtw"
    events_per_process: int = 4000
    epochs: int = 10
    jobs: int = 2
    use_shipped_model: bool = False
    executor: str = "futures"
    inject_mu: float = 1.0


@dataclass
class Stages:
    """Times of each stage, for the index."""

    seconds: dict[str, float] = field(default_factory=dict)

    def run(self, name: str, fn: Callable[[], Any]) -> Any:
        log.info("── %s", name)
        t0 = time.perf_counter()
        result = fn()
        self.seconds[name] = round(time.perf_counter() - t0, 1)
        log.info("   %s done in %.1f s", name, self.seconds[name])
        return result


def _samples(s: DemoSettings, name: str, seed: int) -> Path:
    from .generate.run import GenerationRequest
    from .generate.samples import make_samples

    folder = s.output / "samples" / name
    template = GenerationRequest(
        process="dy",
        events=s.events_per_process,
        seed=seed,
        output=folder / "unused.root",
        jobs=s.jobs,
    )
    return make_samples(s.task, s.events_per_process, folder, template=template)


def _select(s: DemoSettings, fileset: Path) -> Path:
    from .pipeline.select import run_selection
    from .processors.registry import load_config

    out = s.output / "selected" / s.task
    manifest = out / "manifest.json"
    if manifest.exists():
        old = json.loads(manifest.read_text())
        if old.get("selection_config_sha256") == load_config(s.task, None, None).digest():
            log.info("   reusing the table in %s", out)
            return out
    run_selection(s.task, fileset, out, executor=s.executor, workers=s.jobs, overwrite=True)
    return out


def _train(s: DemoSettings, table: Path) -> Path:
    from .training.config import TrainConfig, load_config
    from .training.loop import fit

    run = s.output / "run" / f"{s.task}_compact_cnn"
    if (run / "best.pt").exists() and (run / "metrics.json").exists():
        log.info("   reusing the trained model in %s", run)
        return run
    base = load_config(_train_config(s.task))
    data = base.to_dict()
    data["table"] = str(table)
    data["training"] = {**data["training"], "epochs": s.epochs}
    data["notes"] = f"eventlens demo: {s.epochs} epochs on {s.events_per_process} events/process"
    fit(TrainConfig.from_dict(data), run, resume=(run / "last.pt").exists())
    return run


def _export(s: DemoSettings, run: Path) -> Path:
    from .export import export_checkpoint

    onnx = s.output / "model" / f"{s.task}_demo.onnx"
    if onnx.exists() and onnx.stat().st_mtime > (run / "best.pt").stat().st_mtime:
        log.info("   reusing %s", onnx)
        return onnx
    export_checkpoint(run / "best.pt", onnx)
    return onnx


def _infer(s: DemoSettings, model: Path, mc: Path, pseudo: Any) -> Path:
    from .pipeline.infer import run_inference

    fileset = json.loads(mc.read_text())
    fileset.update(pseudo.fileset_entry())
    out = s.output / "infer"
    run_inference(
        model,
        fileset,
        out,
        executor=s.executor,
        workers=s.jobs,
        overwrite=True,
        luminosity_pb=pseudo.luminosity_pb,
    )
    return out


def demo_signal(task: str) -> str | None:
    """The process whose μ the demo injects and measures: the fit model's signal."""
    from .stats import resolve_fit_model

    return resolve_fit_model(None, task).signal


def _injection(task: str, fileset: Path, mu: float) -> dict[str, float] | None:
    """Scale factors of the pseudo-data's datasets: ``mu`` on each dataset of the
    fit model's signal sample (every tt̄ dataset for DTW), 1 elsewhere."""
    from .stats import resolve_fit_model

    fit_model = resolve_fit_model(None, task)
    if not fit_model.signal:
        return None
    datasets = json.loads(fileset.read_text())
    return {p: mu for p in fit_model.members(fit_model.signal) if p in datasets}


def _fit(s: DemoSettings, infer: Path) -> dict[str, Any]:
    """``eventlens fit`` of the inference run (no impact ranking: the demo wants μ ± σ);
    a model that cannot be fitted is reported, not raised."""
    from .cli.fit import fit_run
    from .errors import EventLensError

    for name in ("pyhf", "cabinetry"):
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        return fit_run(infer, impacts=False)
    except EventLensError as exc:
        log.error("the fit failed: %s", exc)
        return {"error": str(exc)}


def run_demo(s: DemoSettings) -> Path:
    """Run every stage; returns the index page."""
    from .plotting.report import make_report
    from .pseudodata import make_pseudodata

    if not s.inject_mu >= 0:
        raise ConfigError(f"--inject-mu {s.inject_mu}: a signal strength must be >= 0")
    s.output.mkdir(parents=True, exist_ok=True)
    stages = Stages()
    signal = demo_signal(s.task)
    train_fs = stages.run("generate training samples", lambda: _samples(s, "train", 1))
    mc_fs = stages.run("generate simulation for the prediction", lambda: _samples(s, "mc", 2))
    pd_fs = stages.run("generate the pseudo-data source", lambda: _samples(s, "pseudodata", 3))
    pseudo = stages.run(
        "mix pseudo-data",
        lambda: make_pseudodata(
            pd_fs, s.output / "samples" / "pseudodata.root", seed=3,
            scale=_injection(s.task, pd_fs, s.inject_mu),
        ),
    )
    if s.use_shipped_model:
        model = models_dir() / f"{s.task}_compact_cnn.onnx"
        if not model.exists():
            raise FileNotFoundError(f"{model}: no shipped model for task {s.task}")
        run = None
    else:
        table = stages.run("select (coffea)", lambda: _select(s, train_fs))
        run = stages.run("train the compact CNN", lambda: _train(s, table))
        model = stages.run("export to ONNX", lambda: _export(s, run))
    infer = stages.run("infer in the coffea loop", lambda: _infer(s, model, mc_fs, pseudo))
    fit = stages.run("fit (pyhf)", lambda: _fit(s, infer)) if signal else None
    report = stages.run("plot", lambda: make_report(infer, s.output / "figures"))
    return _index(s, report, model, run, pseudo, stages, signal, fit)


def _measurement_lines(s: DemoSettings, signal: str | None, fit: dict[str, Any] | None) -> list:
    if signal is None or fit is None:
        return ["", "## Measurement", "", f"- task {s.task} has no fit model with a signal"]
    lines = ["", "## Measurement", ""]
    if "error" in fit:
        return [
            *lines,
            f"- μ({signal}), injected **{s.inject_mu:g}**: the fit failed: {fit['error']}",
        ]
    status = "" if fit["status"]["converged"] else " (the fit did **not** converge)"
    lines += [
        f"- μ({signal}) = **{fit['mu']:.3f} +{fit['mu_err_up']:.3f} −{fit['mu_err_down']:.3f}**"
        f" (MINOS; HESSE ±{fit['mu_err']:.3f}), injected **{s.inject_mu:g}**{status}",
        f"- expected uncertainty (Asimov, μ = 1): ±{fit['expected']['mu_err']:.3f}",
        f"- fitted {fit['observable']} in the regions {', '.join(fit['regions'])}; "
        f"model and plots: [infer/fit](infer/fit) (`eventlens fit {s.output / 'infer'}`)",
    ]
    return lines


def _index(
    s: DemoSettings,
    report: Path,
    model: Path,
    run: Path | None,
    pseudo: Any,
    stages: Stages,
    signal: str | None = None,
    fit: dict[str, Any] | None = None,
) -> Path:
    metrics = load_model_card(model).metrics or {}
    lines = [
        f"# eventlens demo: task {s.task}",
        "",
        f"Generated {s.events_per_process} events per process (Pythia 8, CMS-like detector), "
        f"model `{model}`" + (" (shipped)" if run is None else f" trained {s.epochs} epochs") + ".",
        "",
        "## Key numbers",
        "",
        f"- pseudo-data: {pseudo.luminosity_pb:.4g} pb^-1, events per process {pseudo.events}",
    ]
    if metrics:
        lines.append(
            f"- test split ({metrics['n_events']} events): accuracy "
            f"{metrics['accuracy']:.4f}, macro F1 {metrics['macro_f1']:.4f}, "
            f"macro AUC {metrics['macro_auc']:.4f}"
        )
        svb = metrics.get("signal_vs_background")
        if svb:
            lines.append(
                f"- signal-vs-background efficiency ({'+'.join(svb['signal'])} "
                f"signal, 50/50): {svb['efficiency']:.4f}"
            )
    lines += _measurement_lines(s, signal, fit)
    lines += ["", "## Time per stage", ""]
    lines += [f"- {k}: {v} s" for k, v in stages.seconds.items()]
    lines += ["", f"## Figures ([full list]({report.relative_to(s.output)}))", ""]
    for png in sorted(report.parent.glob("*.png")):
        lines.append(f"- [{png.stem}]({png.relative_to(s.output)})")
    index = s.output / "index.md"
    with atomic_path(index) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    log.info("demo finished: %s", index)
    return index
