"""Command line: ``repgeo run``, ``repgeo studies``, ``repgeo report``."""

from __future__ import annotations

import datetime as _dt
import sys
from enum import Enum
from pathlib import Path

import typer
from rich.console import Console

app = typer.Typer(
    name="repgeo",
    help="Measure the geometry of what neural networks learn: run studies, write reports.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True, soft_wrap=True)


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
        False, "--resume", help="Complete an interrupted run, skipping finished stages."
    ),
    force: bool = typer.Option(
        False, "--force", help="Delete an existing run in --out and start over."
    ),
) -> None:
    """Run a study into its own directory and write report.html."""
    from .runs import RunExistsError, load_config_file, run_study
    from .studies import get_study

    try:
        st = get_study(study)
        overrides = load_config_file(config) if config is not None else None
        if out is None:
            stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
            out = Path("runs") / f"{st.name}-{stamp}"
        console.print(
            f"[bold]repgeo[/bold] running study [cyan]{st.name}[/cyan] into {out}{' (quick)' if quick else ''}"
        )
        report = run_study(
            st,
            out,
            seed=seed,
            quick=quick,
            device=device.value,
            config_overrides=overrides,
            resume=resume,
            force=force,
            log=lambda msg: console.print(f"  {msg}"),
        )
    except KeyboardInterrupt:
        console.print(
            f"[yellow]interrupted[/yellow]: finished stages are kept; complete with\n  repgeo run {study} --out {out} --resume"
            + (" --quick" if quick else "")
        )
        raise typer.Exit(130) from None
    except (
        RunExistsError,
        FileNotFoundError,
        NotADirectoryError,
        ValueError,
        TypeError,
        RuntimeError,
    ) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    console.print(f"[green]done[/green]. Report: {report.resolve()}")
    typer.echo(str(report.resolve()))


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
def report(run_dir: Path = typer.Argument(..., help="A run directory.")) -> None:
    """Re-render report.html of an existing run directory."""
    from .report import render_report

    if not (run_dir / "manifest.json").exists():
        console.print(f"[red]error:[/red] {run_dir} is not a repgeo run (no manifest.json).")
        raise typer.Exit(2)
    typer.echo(str(render_report(run_dir).resolve()))


def main() -> None:  # pragma: no cover
    app(prog_name="repgeo")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
