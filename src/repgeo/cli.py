"""Command line: ``repgeo run``, ``repgeo analyze``, ``repgeo studies``, ``repgeo report``,
``repgeo metrics``.

Every command that can fail runs its body inside :func:`cli_errors` and takes ``--debug``
(:data:`DEBUG_OPTION`): an error is one red line and an exit status (see :func:`exit_code`),
and ``--debug`` prints the full traceback as well.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import shlex
import sys
import traceback
from collections.abc import Callable, Iterator
from enum import Enum
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

app = typer.Typer(
    name="repgeo",
    help="Measure the geometry of what neural networks learn: run studies, write reports.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True, soft_wrap=True)


DEBUG_OPTION = typer.Option(False, "--debug", help="Print the full traceback of an error.")

#: Exit statuses: done, a stage (or the report) failed, the invocation or system refused,
#: interrupted by Ctrl-C.
EXIT_OK, EXIT_FAILED, EXIT_REFUSED, EXIT_INTERRUPTED = 0, 1, 2, 130


class _Refused(Exception):
    """An invocation the command refuses (exit 2), raised by the commands themselves."""


def _report_error() -> type:
    from .runs import ReportError

    return ReportError


def exit_code(exc: BaseException) -> int:
    """The exit status for an error: 2 when the invocation or the system refused (bad
    arguments or config, an existing, busy or foreign directory, a damaged file, any OS error
    such as a read-only or full disk); 1 when the work itself failed (an exception inside a
    stage, the report, or repgeo)."""
    from ._io import DamagedFileError

    if isinstance(exc, (OSError, DamagedFileError, _Refused)):
        return EXIT_REFUSED
    if getattr(exc, "repgeo_stage", None) or isinstance(exc, _report_error()):
        return EXIT_FAILED
    if isinstance(exc, (ValueError, TypeError, RuntimeError, LookupError)):
        return EXIT_REFUSED  # raised before any stage ran: the invocation is at fault
    return EXIT_FAILED


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror}{where}"
    text = " ".join(str(exc).split()) or type(exc).__name__
    stage = getattr(exc, "repgeo_stage", None)
    if stage:
        return f"stage {stage!r} failed: {type(exc).__name__}: {text}"
    if exit_code(exc) == EXIT_FAILED and not isinstance(exc, _report_error()):
        return f"{type(exc).__name__}: {text}"
    return text


@contextlib.contextmanager
def cli_errors(debug: bool = False) -> Iterator[None]:
    """Turn an exception into one red line and :func:`exit_code` (with ``debug``, the full
    traceback first); KeyboardInterrupt exits 130."""
    try:
        yield
    except (typer.Exit, typer.Abort):
        raise
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/yellow]")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except Exception as exc:
        code = exit_code(exc)
        if debug:
            console.print(escape("".join(traceback.format_exception(exc))), end="")
        console.print(f"[red]error:[/red] {escape(_one_line(exc))}")
        for note in getattr(exc, "__notes__", ()):
            console.print(f"  {escape(str(note))}")
        if code == EXIT_FAILED and not debug:
            where = " (also in manifest.json)" if getattr(exc, "repgeo_stage", None) else ""
            console.print(f"  add --debug to print the traceback{where}")
        raise typer.Exit(code) from None


class DeviceChoice(str, Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


@app.command()
def studies() -> None:
    """List the available studies, one line each."""
    from .studies import list_studies

    for name, study in list_studies().items():
        typer.echo(f"{name:<18} {study.summary}")


def _run_to_report(run: Callable[[Callable[[str], None]], Path], resume_cmd: str) -> Path:
    """Run ``run(log)`` (a run into a directory, returning its report) with the CLI's handling:
    Ctrl-C prints the exact resume command and exits 130; a failed stage or report gets the
    resume command as a note (then :func:`cli_errors` reports it)."""
    try:
        return run(lambda msg: console.print(f"  {escape(msg)}"))
    except KeyboardInterrupt:
        console.print(
            "[yellow]interrupted[/yellow]: finished stages are kept; complete the run with\n"
            f"  {escape(resume_cmd)}"
        )
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except Exception as exc:
        if getattr(exc, "repgeo_stage", None) or isinstance(exc, _report_error()):
            exc.add_note(f"after fixing the cause, complete the run with: {resume_cmd}")
        raise


def _done(report: Path) -> None:
    console.print(f"[green]done[/green]. Report: {escape(str(report.resolve()))}")
    typer.echo(str(report.resolve()))


def _resume_command(
    study: str, out: Path, seed: int, quick: bool, config: Path | None, device: str
) -> str:
    """The exact command line that completes this run (same study, directory, seed, options)."""
    parts = ["repgeo", "run", study, "--out", str(out), "--seed", str(seed)]
    if quick:
        parts.append("--quick")
    if config is not None:
        parts += ["--config", str(config)]
    if device != "auto":
        parts += ["--device", device]
    return shlex.join([*parts, "--resume"])


@app.command()
def run(
    study: str = typer.Argument("default", help="Study to run (see `repgeo studies`)."),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Run directory [default: runs/<study>-<timestamp>]."
    ),
    seed: int = typer.Option(0, "--seed", min=0, help="Run seed; same seed, same numbers on CPU."),
    config: Path | None = typer.Option(
        None, "--config", help="JSON or TOML file with config sections to override."
    ),
    quick: bool = typer.Option(False, "--quick", help="Reduced configuration (about a minute)."),
    device: DeviceChoice = typer.Option(DeviceChoice.auto, "--device", help="Where to compute."),
    resume: bool = typer.Option(
        False,
        "--resume",
        help="Complete an interrupted run: finished stages whose files verify are kept, "
        "damaged ones are redone.",
    ),
    force: bool = typer.Option(
        False,
        "--force",
        help="Delete repgeo's files of the run in --out and start over (refused for a "
        "directory that is not a repgeo run).",
    ),
    debug: bool = DEBUG_OPTION,
) -> None:
    """Run a study into its own directory and write report.html.

    Exit status: 0 done; 1 a stage (or the report) failed, the traceback is in manifest.json;
    2 the invocation or the system refused (bad config, existing or busy directory, read-only
    or full disk, damaged file); 130 interrupted.
    """
    from .runs import load_config_file, run_study
    from .studies import get_study

    resume_cmd = None
    with cli_errors(debug):
        st = get_study(study)
        overrides = load_config_file(config) if config is not None else None
        if out is None:
            stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
            out = Path("runs") / f"{st.name}-{stamp}"
        resume_cmd = _resume_command(study, out, seed, quick, config, device.value)
        console.print(
            f"[bold]repgeo[/bold] running study [cyan]{escape(st.name)}[/cyan] into "
            f"{escape(str(out))}{' (quick)' if quick else ''}"
        )
        report = _run_to_report(
            lambda log: run_study(
                st,
                out,
                seed=seed,
                quick=quick,
                device=device.value,
                config_overrides=overrides,
                resume=resume,
                force=force,
                log=log,
            ),
            resume_cmd,
        )
    _done(report)


@app.command()
def metrics(
    markdown: bool = typer.Option(
        False, "--markdown", help="Print docs/metrics.md (the generated reference) instead."
    ),
) -> None:
    """List the metric keys runs write: layout, direction and meaning."""
    from .runs.registry import BUILTIN, REGISTRY, metrics_markdown
    from .studies import list_studies

    if markdown:
        typer.echo(metrics_markdown(list_studies()), nl=False)
        return
    better = {True: "higher", False: "lower", None: "-"}
    for key in (k for k in REGISTRY if k in BUILTIN):
        spec = REGISTRY[key]
        typer.echo(f"{key:<38} {better[spec.higher_is_better]:<7} {spec.layout}")


@app.command()
def report(
    run_dir: Path = typer.Argument(..., help="A run directory."), debug: bool = DEBUG_OPTION
) -> None:
    """Re-render report.html of an existing run directory."""
    from .report import render_report

    with cli_errors(debug):
        if not (run_dir / "manifest.json").is_file():
            raise _Refused(f"{run_dir} is not a repgeo run (no manifest.json).")
        path = render_report(run_dir)
    typer.echo(str(path.resolve()))


def _analyze_command(argv: dict[str, object], out: Path) -> str:
    """The exact ``repgeo analyze`` command line that completes this run."""
    parts = ["repgeo", "analyze"]
    if argv.get("embeddings") is not None:
        parts.append(str(argv["embeddings"]))
    for flag, key in (
        ("--model", "model"),
        ("--data", "data"),
        ("--weights", "weights"),
        ("--labels", "labels"),
        ("--compare", "compare"),
        ("--config", "config"),
        ("--image-size", "image_size"),
    ):
        if argv.get(key) is not None:
            parts += [flag, str(argv[key])]
    for layer in argv.get("layers") or []:  # type: ignore[union-attr]
        parts += ["--layers", str(layer)]
    if argv.get("pooling") not in (None, "auto"):
        parts += ["--pooling", str(argv["pooling"])]
    parts += ["--out", str(out), "--seed", str(argv["seed"])]
    if argv.get("quick"):
        parts.append("--quick")
    if argv.get("device") not in (None, "auto"):
        parts += ["--device", str(argv["device"])]
    return shlex.join([*parts, "--resume"])


@app.command()
def analyze(
    embeddings: Path | None = typer.Argument(
        None,
        help="Embeddings: a .npz (one array per layer), .safetensors, .npy, or a directory of "
        "them, one per checkpoint (ordered by the number in each file name).",
    ),
    labels: str | None = typer.Option(
        None, "--labels", help="Labels: the name of an array in EMB (or in --data), or a file."
    ),
    compare: Path | None = typer.Option(
        None, "--compare", help="Other embeddings of the same samples to compare with."
    ),
    layers: list[str] | None = typer.Option(
        None,
        "--layers",
        help="Layers to analyse, repeated or comma-separated [default: every layer of EMB; "
        "every block output of --model].",
    ),
    model: str | None = typer.Option(
        None,
        "--model",
        help="A local Hugging Face or sentence-transformers model directory, or "
        "package.module:factory.",
    ),
    data: Path | None = typer.Option(
        None,
        "--data",
        help="What --model reads: a text file (one sentence per line), a .npz/.npy of inputs, or "
        "a folder of images.",
    ),
    weights: Path | None = typer.Option(
        None, "--weights", help="Weights of a package.module:factory model (.safetensors only)."
    ),
    pooling: str = typer.Option(
        "auto", "--pooling", help="Sequence outputs: mean, cls, last (auto: mean for text)."
    ),
    image_size: int | None = typer.Option(
        None, "--image-size", min=1, help="Resize every image of --data to this size."
    ),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Run directory [default: runs/analyze-<timestamp>]."
    ),
    seed: int = typer.Option(0, "--seed", min=0, help="Run seed; same seed, same numbers on CPU."),
    config: Path | None = typer.Option(
        None, "--config", help="JSON or TOML file with panel options (e.g. [similarity] n_boot)."
    ),
    quick: bool = typer.Option(
        False, "--quick", help="Fewer points and no bootstrap intervals (a quick look)."
    ),
    device: DeviceChoice = typer.Option(DeviceChoice.auto, "--device", help="Where to compute."),
    resume: bool = typer.Option(False, "--resume", help="Complete an interrupted run."),
    force: bool = typer.Option(
        False, "--force", help="Delete repgeo's files of the run in --out and start over."
    ),
    debug: bool = DEBUG_OPTION,
) -> None:
    """Analyse your own embeddings, or your own model's layers, into a run directory.

    Examples: `repgeo analyze emb.npz --labels y`; `repgeo analyze --model ./my-bert --data
    sentences.txt --labels topics.txt`; `repgeo analyze --model mypkg.nets:build --weights
    w.safetensors --data inputs.npz --labels y`. Exit status as for `repgeo run`.
    """
    from .runs import load_config_file
    from .studies.analyze import analyze as run_analyze

    argv = dict(locals())
    argv["device"] = device.value
    resume_cmd = None
    with cli_errors(debug):
        overrides = load_config_file(config) if config is not None else None
        if out is None:
            stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
            out = Path("runs") / f"analyze-{stamp}"
        resume_cmd = _analyze_command(argv, out)
        what = str(embeddings) if embeddings is not None else f"{model} on {data}"
        console.print(
            f"[bold]repgeo[/bold] analyzing [cyan]{escape(what)}[/cyan] into "
            f"{escape(str(out))}{' (quick)' if quick else ''}"
        )
        report = _run_to_report(
            lambda log: run_analyze(
                embeddings,
                out=out,
                labels=labels,
                compare=compare,
                layers=layers,
                model=model,
                data=data,
                weights=weights,
                pooling=pooling,
                image_size=image_size,
                seed=seed,
                quick=quick,
                device=device.value,
                config_overrides=overrides,
                resume=resume,
                force=force,
                log=log,
            ),
            resume_cmd,
        )
    _done(report)


def _parse_only(items: list[str]) -> dict[str, list[str]] | None:
    """``["method=trained,pca"]`` -> ``{"method": ["trained", "pca"]}``."""
    out: dict[str, list[str]] = {}
    for item in items:
        axis, sep, names = item.partition("=")
        values = [n.strip() for n in names.split(",") if n.strip()]
        if not sep or not axis.strip() or not values:
            raise _Refused(f"--only {item!r} must read AXIS=NAME1,NAME2,...")
        out.setdefault(axis.strip(), []).extend(values)
    return out or None


@app.command("sweep")
def sweep_command(
    study: str = typer.Argument(..., help="Study to sweep (see `repgeo studies`)."),
    set_: list[str] = typer.Option(
        [],
        "--set",
        help="SECTION.KEY=V1,V2,... : values to try for one option (repeat for a grid; the cells "
        "are the product × the seeds). Values are JSON or bare words; a scalar for a list "
        "option means a one-element list.",
    ),
    seeds: str = typer.Option("0", "--seeds", help="Seeds of every grid point: 0,1,2 or 0-9."),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Sweep directory (default: runs/sweep-<study>-<timestamp>)."
    ),
    config: Path | None = typer.Option(
        None, "--config", help="JSON or TOML file of overrides applied to every cell."
    ),
    quick: bool = typer.Option(False, "--quick", help="Every cell uses the quick configuration."),
    stage: list[str] = typer.Option(
        [], "--stage", help="Run only this stage of the study in every cell (repeat)."
    ),
    metric: list[str] = typer.Option(
        [],
        "--metric",
        help="Metric key the report summarises (repeat) (default: the study's headline keys).",
    ),
    only: list[str] = typer.Option(
        [], "--only", help="AXIS=NAME1,NAME2 : in the report, keep only these names on an axis."
    ),
    resume: bool = typer.Option(
        False, "--resume", help="Complete the sweep in --out: finished cells are kept."
    ),
    address: str | None = typer.Option(
        None,
        "--address",
        help="Ray cluster: 'auto', 'ray://HOST:PORT' or 'HOST:PORT' (default: a local Ray sized "
        "to this machine).",
    ),
    num_cpus: int | None = typer.Option(
        None, "--num-cpus", min=1, help="CPUs of the local Ray (default: all cores)."
    ),
    cpus_per_cell: float = typer.Option(1.0, "--cpus-per-cell", help="CPUs each cell reserves."),
    gpus_per_cell: float = typer.Option(
        0.0, "--gpus-per-cell", help="GPUs each cell reserves (fractions share a GPU)."
    ),
    device: DeviceChoice = typer.Option(
        DeviceChoice.auto,
        "--device",
        help="Where cells compute (auto: a GPU for cells that reserve one, else the CPU).",
    ),
    debug: bool = DEBUG_OPTION,
) -> None:
    """Run a study over a grid of options × seeds on Ray; one run directory per cell and one
    aggregate report (mean and 95 % interval over seeds per grid point).

    Exit status: 0 every cell complete; 1 a cell (or the report) failed, the sweep went on and
    --resume reruns what did not complete; 2 refused before any cell started (bad --set,
    seeds, config, address, existing directory); 130 interrupted.
    """
    from .runs import load_config_file
    from .studies import get_study
    from .sweep import parse_seeds, parse_set, sweep

    with cli_errors(debug):
        st = get_study(study)
        grid: dict[str, list] = {}
        for item in set_:
            key, values = parse_set(item)
            if key in grid:
                raise _Refused(f"--set {key} is given twice; list all its values in one --set.")
            grid[key] = values
        seed_list = parse_seeds(seeds)
        overrides = load_config_file(config) if config is not None else None
        if out is None:
            stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
            out = Path("runs") / f"sweep-{st.name}-{stamp}"
        parts = ["repgeo", "sweep", study, *[a for s in set_ for a in ("--set", s)]]
        parts += ["--seeds", seeds, "--out", str(out)]
        parts += ["--quick"] if quick else []
        parts += ["--config", str(config)] if config is not None else []
        parts += [a for s in stage for a in ("--stage", s)]
        parts += ["--address", address] if address else []
        parts += ["--num-cpus", str(num_cpus)] if num_cpus is not None else []
        parts += ["--cpus-per-cell", f"{cpus_per_cell:g}"] if cpus_per_cell != 1 else []
        parts += ["--gpus-per-cell", f"{gpus_per_cell:g}"] if gpus_per_cell else []
        parts += ["--device", device.value] if device.value != "auto" else []
        resume_cmd = shlex.join([*parts, "--resume"])
        console.print(
            f"[bold]repgeo[/bold] sweeping study [cyan]{escape(st.name)}[/cyan] into "
            f"{escape(str(out))}{' (quick)' if quick else ''}"
        )
        try:
            result = sweep(
                st,
                grid,
                seed_list,
                out=out,
                quick=quick,
                config=overrides,
                stages=stage or None,
                metrics=metric or None,
                only=_parse_only(only),
                resume=resume,
                address=address,
                num_cpus=num_cpus,
                cpus_per_cell=cpus_per_cell,
                gpus_per_cell=gpus_per_cell,
                device=device.value,
                log=lambda msg: console.print(f"  {escape(msg)}"),
            )
        except KeyboardInterrupt:
            console.print(
                "[yellow]interrupted[/yellow]: finished cells are kept; complete the sweep with\n"
                f"  {escape(resume_cmd)}"
            )
            raise typer.Exit(EXIT_INTERRUPTED) from None
    n = len(result.cells)
    if result.report is not None:
        console.print(f"Report: {escape(str(result.report.resolve()))}")
        typer.echo(str(result.report.resolve()))
    else:
        console.print(f"[red]error:[/red] the report failed: {escape(str(result.report_error))}")
    if result.failed:
        console.print(
            f"[red]{len(result.failed)} of {n} cells failed[/red] (errors in sweep.json and each "
            f"cell's manifest.json): {escape(', '.join(result.failed[:5]))}"
            + (" ..." if len(result.failed) > 5 else "")
            + f"\n  after fixing the cause, complete the sweep with: {escape(resume_cmd)}"
        )
        raise typer.Exit(EXIT_FAILED)
    if result.report is None:
        raise typer.Exit(EXIT_FAILED)
    console.print(f"[green]done[/green]: {n} of {n} cells complete.")


@app.command("sweep-report")
def sweep_report_command(
    sweep_dir: Path = typer.Argument(..., help="A sweep directory (holding sweep.json)."),
    metric: list[str] = typer.Option(
        [], "--metric", help="Metric key to summarise (repeat) (default: the sweep's own)."
    ),
    only: list[str] = typer.Option(
        [], "--only", help="AXIS=NAME1,NAME2 : keep only these names on an axis."
    ),
    debug: bool = DEBUG_OPTION,
) -> None:
    """Re-render report.html (and the aggregate in sweep.json) of a sweep directory."""
    from .sweep import SWEEP_JSON, render_sweep_report

    with cli_errors(debug):
        if not (sweep_dir / SWEEP_JSON).is_file():
            raise _Refused(f"{sweep_dir} is not a repgeo sweep (no {SWEEP_JSON}).")
        path = render_sweep_report(
            sweep_dir, metrics=metric or None, only=_parse_only(only) if only else None
        )
    typer.echo(str(path.resolve()))


def main() -> None:  # pragma: no cover
    app(prog_name="repgeo")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
