"""The default study end to end on a tiny configuration, its report in headless Chromium, the CLI."""

import json
import shutil

import pytest
from typer.testing import CliRunner

from repgeo.cli import app
from repgeo.runs import run_study
from repgeo.studies import get_study, list_studies


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    from conftest import TINY_DEFAULT

    out = tmp_path_factory.mktemp("default") / "run"
    run_study(
        get_study("default"), out, seed=0, quick=True, device="cpu", config_overrides=TINY_DEFAULT
    )
    return out


def test_default_study_outputs(default_run):
    man = json.loads((default_run / "manifest.json").read_text())
    assert man["status"] == "complete"
    metrics = json.loads((default_run / "metrics.json").read_text())
    assert {"manifold", "digits"} <= set(metrics["train.accuracy"])
    assert 0.0 <= metrics["train.final_test_accuracy"]["digits"] <= 1.0
    for name in ("training_curves", "pca_embeddings"):
        assert (default_run / "figures" / f"{name}.png").stat().st_size > 1000
        assert (default_run / "figures" / f"{name}.svg").exists()
    cks = sorted(p.name for p in (default_run / "checkpoints" / "manifold").glob("*.safetensors"))
    assert cks[0] == "epoch_00000.safetensors" and len(cks) >= 2


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.mark.browser
def test_report_opens_in_headless_chromium(default_run):
    exe = _chromium()
    if exe is None:
        pytest.skip(
            "headless Chromium not installed (make test installs Debian's chromium where apt is available)"
        )
    sync_api = pytest.importorskip("playwright.sync_api")
    n_figures = sum(
        item["type"] == "figure"
        for p in (default_run / "stages").glob("*.json")
        for item in json.loads(p.read_text())["items"]
    )
    assert n_figures >= 2
    errors: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=exe,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        page = browser.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto((default_run / "report.html").resolve().as_uri())
        page.wait_for_load_state("load")
        images = page.eval_on_selector_all(
            "img", "els => els.map(e => [e.complete, e.naturalWidth])"
        )
        title = page.title()
        browser.close()
    assert len(images) == n_figures
    assert all(complete and width > 0 for complete, width in images), images
    assert errors == []
    assert "default" in title


def test_cli_help_and_studies():
    runner = CliRunner()
    r = runner.invoke(app, ["--help"])
    assert r.exit_code == 0 and "run" in r.output and "studies" in r.output
    for cmd in ("run", "studies", "report"):
        r = runner.invoke(app, [cmd, "--help"])
        assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["studies"])
    assert r.exit_code == 0
    names = [line.split()[0] for line in r.output.strip().splitlines()]
    assert names[0] == "default" and set(names) == set(list_studies())
    r = runner.invoke(app, ["run", "--help"])
    for opt in ("--out", "--seed", "--config", "--quick", "--device", "--resume", "--force"):
        assert opt in r.output


def test_cli_errors_are_clear(default_run, tmp_path):
    runner = CliRunner()
    r = runner.invoke(app, ["run", "default", "--quick", "--out", str(default_run)])
    assert r.exit_code == 2 and "already exists" in r.output
    r = runner.invoke(app, ["run", "nope", "--out", str(tmp_path / "x")])
    assert r.exit_code == 2 and "unknown study 'nope'" in r.output
    r = runner.invoke(
        app,
        [
            "run",
            "default",
            "--config",
            str(tmp_path / "missing.toml"),
            "--out",
            str(tmp_path / "y"),
        ],
    )
    assert r.exit_code == 2 and "does not exist" in r.output
    r = runner.invoke(app, ["run", "default", "--device", "tpu"])
    assert r.exit_code != 0
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()
    r = runner.invoke(app, ["report", str(tmp_path)])
    assert r.exit_code == 2 and "not a repgeo run" in r.output
    r = runner.invoke(app, ["report", str(default_run)])
    assert r.exit_code == 0 and r.output.strip().endswith("report.html")


def test_pca_project_matches_sklearn():
    import numpy as np
    from sklearn.decomposition import PCA

    from repgeo.latent import pca_project

    rng = np.random.default_rng(0)
    fit = rng.standard_normal((200, 6)) @ np.diag([5.0, 3.0, 1.0, 0.5, 0.2, 0.1])
    X = rng.standard_normal((30, 6))
    ours = pca_project(fit, X, 3)
    ref = PCA(3).fit(fit).transform(X)
    np.testing.assert_allclose(np.abs(ours), np.abs(ref), rtol=1e-8, atol=1e-10)  # axes up to sign
