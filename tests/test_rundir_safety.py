"""Run directories you can trust (issue 13): the lock, --force, checksums, crafted directories,
recovery, config validation up front, names and file modes.

Every study here is tiny (milliseconds per stage), so the whole file runs in seconds; the
races fork worker processes from this one (no fresh interpreter per worker) and release them
together through a shared barrier.
"""

from __future__ import annotations

import base64
import errno
import json
import multiprocessing
import os
import shlex
import signal
import stat
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from repgeo import _io
from repgeo._io import DamagedFileError
from repgeo.cli import app
from repgeo.models import MLP, TrainConfig, train
from repgeo.panels._common import checkpoints
from repgeo.report import render_report
from repgeo.runs import (
    ConfigError,
    Option,
    Panel,
    ReportError,
    RunContext,
    RunExistsError,
    RunLockedError,
    Stage,
    Study,
    run_study,
)
from repgeo.runs.registry import MetricSpec, register

register(
    MetricSpec("safety.value", ("stage",), "float", None, "test: a seeded number per stage"),
    MetricSpec("safety.weights", ("epoch",), "float", None, "test: sum of a checkpoint's weights"),
)


# ----------------------------------------------------------------------------- tiny studies
def counting_study(
    counter: Path | None = None,
    *,
    interrupt_once: Path | None = None,
    interrupt_in: str = "two",
    sleep: float = 0.0,
    fail_in: str | None = None,
) -> Study:
    """Three stages; each appends its name to ``counter``, saves an array derived from the
    config and the seed, and records one seeded metric. ``interrupt_once`` (a flag file) makes
    ``interrupt_in`` raise KeyboardInterrupt the first time only."""

    def make(name):
        def fn(ctx):
            if counter is not None:
                with open(counter, "a") as fh:
                    fh.write(name + "\n")
            if name == interrupt_in and interrupt_once is not None and not interrupt_once.exists():
                interrupt_once.write_text("done")
                raise KeyboardInterrupt
            if name == fail_in:
                raise ValueError(f"boom in {name}")
            if sleep:
                time.sleep(sleep)
            if name != "one":
                prev = ctx.load_arrays("one")["x"]
            else:
                prev = np.zeros(3)
            x = np.arange(3) * ctx.config["s"]["scale"] + ctx.rng(name).random() + prev
            ctx.save_arrays(name, x=x)
            ctx.metric("safety.value", {name: float(x.sum())})
            ctx.text(f"stage {name}")

        return fn

    return Study(
        name="counting",
        summary="test",
        stages=[
            Stage(n, make(n), title=n.upper(), metrics=("safety.value",))
            for n in ("one", "two", "three")
        ],
        config={"s": {"scale": 2, "mode": "a"}},
        quick={"s": {"scale": 1}},
        schema={"s": {"scale": Option(type="int", ge=0), "mode": Option(choices=("a", "b"))}},
    )


def training_study(*, interrupt_once: Path | None = None, pause: Path | None = None) -> Study:
    """A real training stage (checkpoints in safetensors) and an analysis stage that reads
    every checkpoint through the panels' loader."""
    X = np.random.default_rng(0).normal(size=(40, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)

    def fit(ctx):
        train(
            MLP([4, 8, 2], seed=ctx.seed_for("init")),
            X,
            y,
            config=TrainConfig(**ctx.config["train"]),
            random_state=ctx.seed_for("train"),
            device="cpu",
            checkpoint_dir=ctx.checkpoint_dir("net"),
        )
        if pause is not None:  # every checkpoint is written; wait here to be killed
            pause.write_text("ready")
            time.sleep(120)

    def analyse(ctx):
        if interrupt_once is not None and not interrupt_once.exists():
            interrupt_once.write_text("done")
            raise KeyboardInterrupt
        sums = {
            str(e): float(sum(p.detach().double().sum() for p in m.parameters()))
            for e, m in checkpoints(ctx, "net")
        }
        ctx.metric("safety.weights", sums)

    return Study(
        name="training",
        summary="test",
        stages=[
            Stage("fit", fit, title="Fit"),
            Stage("analyse", analyse, title="Analyse", metrics=("safety.weights",)),
        ],
        config={"train": {"epochs": 4, "batch_size": 16, "lr": 0.05, "checkpoints": [0, 2, 4]}},
    )


def _metrics(out: Path) -> bytes:
    return (out / "metrics.json").read_bytes()


def _manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())


# ============================================================================= 1. concurrency
def _race(out: Path, n: int, *, force: bool) -> list[tuple[int, str]]:
    """``n`` forked processes, released together by a barrier, each running the counting
    study into ``out`` with its own seed; returns ``(seed, outcome)`` per process."""
    mp = multiprocessing.get_context("fork")
    barrier = mp.Barrier(n)
    results = mp.Queue()

    def worker(seed: int) -> None:
        barrier.wait(timeout=60)
        try:
            run_study(counting_study(sleep=0.02), out, seed=seed, device="cpu", force=force)
            results.put((seed, "ok"))
        except Exception as exc:  # the outcome is the point
            results.put((seed, type(exc).__name__))

    procs = [mp.Process(target=worker, args=(seed,)) for seed in range(1, n + 1)]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    return outcomes


def _assert_consistent(out: Path, tmp_path: Path) -> int:
    """The directory holds exactly one run: manifest, every stage record and metrics.json all
    belong to one seed, and the metrics equal a fresh run with that seed."""
    man = _manifest(out)
    assert man["status"] == "complete"
    seed = man["seed"]
    for name in ("one", "two", "three"):
        record = json.loads((out / "stages" / f"{name}.json").read_text())
        assert record["run"]["seed"] == seed and record["run"]["run_id"] == man["run_id"]
    ref = tmp_path / f"ref-{seed}"
    run_study(counting_study(), ref, seed=seed, device="cpu")
    assert _metrics(out) == _metrics(ref)
    return seed


@pytest.mark.parametrize("force", [False, True], ids=["plain", "force"])
def test_simultaneous_starts_into_one_directory_never_mix(tmp_path, force):
    """24 truly simultaneous starts (issue 13.1: 2 of 6 raced on the old check-then-write
    lock): the directory ends up holding one seed's run, and only lock/exists errors occur."""
    out = tmp_path / "x"
    outcomes = _race(out, 24, force=force)
    kinds = {kind for _, kind in outcomes}
    assert kinds <= {"ok", "RunLockedError", "RunExistsError"}, outcomes
    winners = [seed for seed, kind in outcomes if kind == "ok"]
    assert winners
    if not force:
        assert len(winners) == 1  # nobody overwrote the first run
    seed = _assert_consistent(out, tmp_path)
    assert seed in winners
    assert not (out / ".lock").exists() and not list(out.rglob("*.tmp"))


def test_lock_is_held_for_the_whole_run(tmp_path):
    out = tmp_path / "run"
    seen = []

    def nested(ctx):
        with pytest.raises(RunLockedError, match="in use by process"):
            run_study(counting_study(), out, device="cpu", resume=True)
        seen.append("refused")

    run_study(Study("lockcheck", "t", [Stage("nested", nested)]), out, device="cpu")
    assert seen == ["refused"]


def test_stale_lock_of_a_reused_pid_does_not_block(tmp_path):
    """A .lock naming a live process that does not hold the lock (a PID reused after a kill)."""
    out = tmp_path / "run"
    out.mkdir()
    (out / ".lock").write_text("1\n")  # PID 1 is alive, but holds no lock on the file
    run_study(counting_study(), out, device="cpu")
    assert _manifest(out)["status"] == "complete"


# ============================================================================= 2. --force
def _foreign_project(path: Path) -> dict[str, bytes]:
    (path / "src").mkdir(parents=True)
    (path / ".git").mkdir()
    files = {
        "manifest.json": b'{"name": "my-web-app", "version": 3}',
        "src/main.py": b"print('precious')",
        ".git/config": b"[core]",
    }
    for rel, data in files.items():
        (path / rel).write_bytes(data)
    return files


def test_force_refuses_a_directory_that_is_not_a_repgeo_run(tmp_path):
    out = tmp_path / "project"
    files = _foreign_project(out)
    for kwargs in ({"force": True}, {"resume": True}, {}):
        with pytest.raises(RunExistsError, match="not a repgeo run"):
            run_study(counting_study(), out, device="cpu", **kwargs)
    assert {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()} == set(files)
    assert all((out / rel).read_bytes() == data for rel, data in files.items())


def test_force_deletes_only_repgeos_own_files(tmp_path):
    out = tmp_path / "run"
    run_study(counting_study(), out, seed=1, device="cpu")
    (out / "notes.txt").write_text("mine")
    (out / "figures").mkdir()
    (out / "figures" / "README.md").write_text("mine too")
    (out / "arrays" / "keep").mkdir()
    (out / "arrays" / "keep" / "data.csv").write_text("1,2")
    run_study(counting_study(), out, seed=2, device="cpu", force=True)
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "figures" / "README.md").read_text() == "mine too"
    assert (out / "arrays" / "keep" / "data.csv").read_text() == "1,2"
    assert _manifest(out)["seed"] == 2 and _manifest(out)["status"] == "complete"


def test_crafted_manifest_paths_never_reach_outside(tmp_path):
    """A run manifest whose file records point outside the run: neither --resume nor --force
    reads, hashes or deletes them."""
    outside = tmp_path / "outside.txt"
    outside.write_text("keep me")
    out = tmp_path / "run"
    run_study(counting_study(), out, seed=1, device="cpu")
    man = _manifest(out)
    man["stages"]["one"]["files"]["../outside.txt"] = {"sha256": "0" * 64, "bytes": 7}
    man["stages"]["two"]["files"][str(outside)] = {"sha256": "0" * 64, "bytes": 7}
    (out / "manifest.json").write_text(json.dumps(man))
    run_study(counting_study(), out, seed=1, device="cpu", resume=True)
    assert outside.read_text() == "keep me"
    man = _manifest(out)
    man["stages"]["one"]["files"]["../outside.txt"] = {"sha256": "0" * 64, "bytes": 7}
    (out / "manifest.json").write_text(json.dumps(man))
    run_study(counting_study(), out, seed=1, device="cpu", force=True)
    assert outside.read_text() == "keep me"


# ============================================================================= 3. checksums
def test_manifest_records_the_sha256_of_every_file(tmp_path):
    out = tmp_path / "run"
    run_study(training_study(), out, device="cpu")
    recorded = {}
    for rec in _manifest(out)["stages"].values():
        recorded.update(rec["files"])
    on_disk = {
        p.relative_to(out).as_posix()
        for d in ("stages", "arrays", "checkpoints", "figures")
        for p in (out / d).rglob("*")
        if p.is_file()
    }
    assert on_disk and set(recorded) == on_disk
    for rel, rec in recorded.items():
        assert rec["sha256"] == _io.sha256_file(out / rel) and rec["bytes"] > 0
    assert "checkpoints/net/epoch_00002.safetensors" in recorded


def _flip_bits(path: Path, fraction: float = 0.01) -> None:
    data = bytearray(path.read_bytes())
    header = 8 + int.from_bytes(data[:8], "little")
    rng = np.random.default_rng(0)
    for i in rng.choice(np.arange(header, len(data)), size=max(1, int(fraction * len(data)))):
        data[i] ^= 0x10
    path.write_bytes(bytes(data))


def test_damaged_checkpoint_is_found_and_its_stage_redone_on_resume(tmp_path):
    """Issue 13.3: a bit flip in a checkpoint, then --resume, silently changed the metrics."""
    ref = tmp_path / "ref"
    run_study(training_study(), ref, device="cpu")
    out, flag = tmp_path / "run", tmp_path / "flag"
    with pytest.raises(KeyboardInterrupt):
        run_study(training_study(interrupt_once=flag), out, device="cpu")
    _flip_bits(out / "checkpoints" / "net" / "epoch_00002.safetensors")
    log: list[str] = []
    run_study(training_study(), out, device="cpu", resume=True, log=log.append)
    assert any("epoch_00002.safetensors" in line and "redoing" in line for line in log), log
    assert _metrics(out) == _metrics(ref)


def test_deleted_checkpoint_is_reported_not_skipped(tmp_path):
    ref = tmp_path / "ref"
    run_study(training_study(), ref, device="cpu")
    out, flag = tmp_path / "run", tmp_path / "flag"
    with pytest.raises(KeyboardInterrupt):
        run_study(training_study(interrupt_once=flag), out, device="cpu")
    (out / "checkpoints" / "net" / "epoch_00002.safetensors").unlink()
    # an analysis reading the run directly names the missing file
    man = _manifest(out)
    files = {rel: {**r, "stage": "fit"} for rel, r in man["stages"]["fit"]["files"].items()}
    ctx = RunContext(out, config={}, seed=0, quick=False, device=torch.device("cpu"), files=files)
    with pytest.raises(FileNotFoundError, match="epoch_00002.safetensors"):
        checkpoints(ctx, "net")
    # --resume redoes the training stage and the numbers are the uninterrupted run's
    run_study(training_study(), out, device="cpu", resume=True)
    assert _metrics(out) == _metrics(ref)
    assert json.loads(_metrics(out))["safety.weights"].keys() == {"0", "2", "4"}


def test_files_of_a_stage_killed_mid_way_are_verified_on_resume(tmp_path):
    """kill -9 inside the training stage (checkpoints written, stage not finished), then a
    damaged checkpoint: the stage's journal lets --resume find it instead of training on."""
    ref = tmp_path / "ref"
    run_study(training_study(), ref, device="cpu")
    out, pause = tmp_path / "run", tmp_path / "pause"
    mp = multiprocessing.get_context("fork")
    child = mp.Process(target=lambda: run_study(training_study(pause=pause), out, device="cpu"))
    child.start()
    deadline = time.time() + 60
    while not pause.exists() and time.time() < deadline:
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    child.join()
    assert _manifest(out)["stages"]["fit"]["status"] == "running"
    _flip_bits(out / "checkpoints" / "net" / "epoch_00004.safetensors")
    log: list[str] = []
    run_study(training_study(), out, device="cpu", resume=True, log=log.append)
    assert any("unfinished stage fit" in line and "epoch_00004" in line for line in log), log
    assert _metrics(out) == _metrics(ref)
    assert not list((out / "stages").glob(".*"))  # the journal is gone once the stage completes


@pytest.mark.parametrize(
    "damage",
    ["truncate-npz", "garbage-npz", "truncate-stage-json", "delete-npz"],
)
def test_damaged_files_of_finished_stages_are_redone_on_resume(tmp_path, damage):
    """Issue 13.5: a truncated npz or stage json of a finished stage made the run
    unrecoverable (raw BadZipFile / JSONDecodeError naming no file)."""
    ref = tmp_path / "ref"
    run_study(counting_study(), ref, seed=3, device="cpu")
    out, counter, flag = tmp_path / "run", tmp_path / "count", tmp_path / "flag"
    with pytest.raises(KeyboardInterrupt):
        run_study(
            counting_study(counter, interrupt_once=flag, interrupt_in="three"),
            out,
            seed=3,
            device="cpu",
        )
    target = out / ("stages/one.json" if "stage" in damage else "arrays/one.npz")
    if damage.startswith("truncate"):
        target.write_bytes(target.read_bytes()[: len(target.read_bytes()) // 2])
    elif damage == "garbage-npz":
        target.write_bytes(b"this is not a zip file")
    else:
        target.unlink()
    log: list[str] = []
    run_study(counting_study(counter), out, seed=3, device="cpu", resume=True, log=log.append)
    assert any(target.relative_to(out).as_posix() in line for line in log), log
    assert _metrics(out) == _metrics(ref)
    # stage one was redone; its outputs are byte-identical, so stage two was not
    assert counter.read_text().split() == ["one", "two", "three", "one", "three"]


def test_redone_stage_with_different_outputs_redoes_the_later_stages(tmp_path, monkeypatch):
    out, counter = tmp_path / "run", tmp_path / "count"
    run_study(counting_study(counter), out, seed=3, device="cpu")
    (out / "arrays" / "one.npz").write_bytes(b"garbage")
    real = RunContext.save_arrays

    def shifted(self, name, **arrays):  # the redone stage now writes different data
        return real(self, name, **{k: np.asarray(v) + 1 for k, v in arrays.items()})

    monkeypatch.setattr(RunContext, "save_arrays", shifted)
    log: list[str] = []
    run_study(counting_study(counter), out, seed=3, device="cpu", resume=True, log=log.append)
    assert counter.read_text().split()[3:] == ["one", "two", "three"]
    assert any("wrote different data" in line for line in log), log


def test_context_names_a_damaged_array_file(tmp_path):
    out = tmp_path / "run"
    run_study(counting_study(), out, device="cpu")
    man = _manifest(out)
    files = {rel: {**r, "stage": "one"} for rel, r in man["stages"]["one"]["files"].items()}
    ctx = RunContext(out, config={}, seed=0, quick=False, device=torch.device("cpu"), files=files)
    np.testing.assert_array_equal(
        ctx.load_arrays("one")["x"], _io.load_npz(out / "arrays/one.npz")["x"]
    )
    data = bytearray((out / "arrays" / "one.npz").read_bytes())
    data[len(data) // 2] ^= 0x01
    (out / "arrays" / "one.npz").write_bytes(bytes(data))
    with pytest.raises(DamagedFileError, match=r"arrays/one\.npz.*--resume.*'one'"):
        ctx.load_arrays("one")


# ============================================================================= 4. crafted report
def _png(color: int) -> bytes:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1, 1))
    ax.imshow([[color]])
    import io as _pyio

    buf = _pyio.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def test_crafted_run_directory_cannot_leak_local_files_into_the_report(tmp_path):
    """Issue 13.4: "png": "../secret.txt" or "/etc/hostname" got embedded, and
    "svg": "javascript:..." became a clickable link."""
    secret_text = b"TOP-SECRET-TOKEN-123"
    (tmp_path / "secret.txt").write_bytes(secret_text)
    secret_png = _png(7) + secret_text
    (tmp_path / "secret.png").write_bytes(secret_png)
    out = tmp_path / "run"
    run_study(counting_study(), out, device="cpu")
    (out / "figures").mkdir()
    (out / "figures" / "link.png").symlink_to(tmp_path / "secret.png")
    (out / "figures" / "ok.png").write_bytes(_png(1))
    (out / "figures" / "ok.svg").write_text("<svg/>")
    record = json.loads((out / "stages" / "one.json").read_text())
    record["items"] = [
        {"type": "figure", "name": "a", "caption": "", "png": "../secret.txt", "svg": "x.svg"},
        {"type": "figure", "name": "b", "caption": "", "png": "/etc/hostname", "svg": "/etc/x"},
        {"type": "figure", "name": "c", "caption": "", "png": "figures/link.png", "svg": ""},
        {
            "type": "figure",
            "name": "d",
            "png": "figures/../../secret.png",
            "svg": "javascript:alert(1)",
        },
        {
            "type": "figure",
            "name": "e",
            "png": "figures/ok.png",
            "svg": "figures/ok.svg",
            "data": "AAAA",
        },
        {"type": "figure", "name": "<script>alert(1)</script>"},
        {"type": "bogus"},
        "not even a dict",
    ]
    (out / "stages" / "one.json").write_text(json.dumps(record))
    man = _manifest(out)
    man["stages"]["../../secret"] = {"status": "complete", "title": "<b>x</b>"}
    man["stages"]["one"].get("files", {}).pop("stages/one.json", None)  # crafted: no checksum
    (out / "manifest.json").write_text(json.dumps(man))
    html = render_report(out).read_text()
    hostname = Path("/etc/hostname").read_bytes() if Path("/etc/hostname").exists() else b""
    for leaked in (secret_text, secret_png, hostname):
        if leaked:
            assert base64.b64encode(leaked).decode() not in html
    for bad in ("TOP-SECRET", "javascript:", "<script>alert", 'href="/etc', 'href="../'):
        assert bad not in html, bad
    assert 'base64,AAAA"' not in html  # no "data" passed through from the record
    assert html.count("data:image/png;base64,") == 1  # only figures/ok.png
    assert 'href="figures/ok.svg"' in html
    hrefs = [h.split('"')[0] for h in html.split('href="')[1:]]
    assert all(h.startswith("#") or h == "figures/ok.svg" for h in hrefs), hrefs


# ============================================================================= 5. recovery
@pytest.fixture
def tiny_cli(monkeypatch, tmp_path):
    """`repgeo run tiny` runs the counting study (or the one a test sets)."""
    import repgeo.studies

    holder = {"study": counting_study(tmp_path / "count")}
    real = repgeo.studies.get_study
    monkeypatch.setattr(
        repgeo.studies,
        "get_study",
        lambda name: holder["study"] if name == "tiny" else real(name),
    )
    return holder


def test_interrupt_prints_the_exact_command_that_resumes(tmp_path, tiny_cli):
    """Issue 13.5: the printed command omitted --seed, so it failed and pointed to --force."""
    cfg = tmp_path / "my config.toml"
    cfg.write_text("[s]\nscale = 4\n")
    tiny_cli["study"] = counting_study(interrupt_once=tmp_path / "flag")
    out = tmp_path / "my run"
    runner = CliRunner()
    args = ["run", "tiny", "--out", str(out), "--seed", "7", "--quick", "--config", str(cfg)]
    r = runner.invoke(app, args)
    assert r.exit_code == 130, r.output
    line = r.output.strip().splitlines()[-1].strip()
    cmd = shlex.split(line)
    assert cmd[:2] == ["repgeo", "run"] and "--resume" in cmd and "--seed" in cmd
    r = runner.invoke(app, cmd[1:])
    assert r.exit_code == 0, r.output
    assert _manifest(out)["status"] == "complete" and _manifest(out)["seed"] == 7


def test_empty_manifest_is_resumed_from_the_stage_records(tmp_path):
    out, counter = tmp_path / "run", tmp_path / "count"
    run_study(counting_study(counter), out, seed=5, device="cpu")
    before = _metrics(out)
    (out / "manifest.json").write_bytes(b"")
    with pytest.raises(RunExistsError, match="manifest.json is damaged"):
        run_study(counting_study(counter), out, seed=5, device="cpu")
    with pytest.raises(ValueError, match="seed: 5 -> 6"):
        run_study(counting_study(counter), out, seed=6, device="cpu", resume=True)
    run_study(counting_study(counter), out, seed=5, device="cpu", resume=True)
    assert counter.read_text().split() == ["one", "two", "three"]  # nothing redone
    assert _metrics(out) == before and _manifest(out)["status"] == "complete"


@pytest.mark.parametrize("leftover", [".lock", ".manifest.json.k2j4x9q1.tmp"])
@pytest.mark.parametrize("resume", [False, True])
def test_directory_killed_before_its_first_write_is_usable(tmp_path, leftover, resume):
    out = tmp_path / "run"
    out.mkdir()
    (out / leftover).write_text("12345\n" if leftover == ".lock" else '{"stu')
    run_study(counting_study(), out, device="cpu", resume=resume)
    assert _manifest(out)["status"] == "complete"
    assert not list(out.glob(".*.tmp"))


def test_stage_failure_keeps_the_traceback_and_exits_1(tmp_path, tiny_cli):
    """Issue 10: a bug inside a stage was one red line; now the manifest keeps the traceback
    and --debug prints it."""
    tiny_cli["study"] = counting_study(fail_in="two")
    out = tmp_path / "run"
    runner = CliRunner()
    r = runner.invoke(app, ["run", "tiny", "--out", str(out), "--seed", "2"])
    assert r.exit_code == 1, r.output
    assert "stage 'two' failed: ValueError: boom in two" in r.output
    assert "Traceback" not in r.output and "--debug" in r.output
    assert "--seed 2 --resume" in r.output
    rec = _manifest(out)["stages"]["two"]
    assert rec["status"] == "failed" and rec["error"] == "ValueError: boom in two"
    assert "Traceback (most recent call last)" in rec["traceback"]
    assert "in fn" in rec["traceback"] and "boom in two" in rec["traceback"]
    r = runner.invoke(app, ["run", "tiny", "--out", str(out), "--seed", "2", "--resume", "--debug"])
    assert r.exit_code == 1 and "Traceback (most recent call last)" in r.output


def test_os_errors_are_one_line_and_exit_2(tmp_path, tiny_cli, monkeypatch):
    runner = CliRunner()
    real_mkdir = Path.mkdir

    def read_only(self, *args, **kwargs):
        if self.name == "ro":
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(self))
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", read_only)
    r = runner.invoke(app, ["run", "tiny", "--out", str(tmp_path / "ro")])
    assert r.exit_code == 2, r.output
    assert "Read-only file system" in r.output and "Traceback" not in r.output
    monkeypatch.setattr(Path, "mkdir", real_mkdir)

    # the disk fills up while a stage saves its arrays
    full = {"on": False}
    real_fsync = _io.os.fsync

    def fsync(fd):
        if full["on"]:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_fsync(fd)

    monkeypatch.setattr(_io.os, "fsync", fsync)
    real_save = RunContext.save_arrays

    def save(self, name, **arrays):
        full["on"] = name == "two"
        return real_save(self, name, **arrays)

    monkeypatch.setattr(RunContext, "save_arrays", save)
    out = tmp_path / "full"
    r = runner.invoke(app, ["run", "tiny", "--out", str(out)])
    assert r.exit_code == 2, r.output
    assert "No space left on device" in r.output and "Traceback" not in r.output
    assert not list(out.rglob("*.tmp"))
    full["on"] = False
    monkeypatch.setattr(RunContext, "save_arrays", real_save)
    r = runner.invoke(app, ["run", "tiny", "--out", str(out), "--resume"])
    assert r.exit_code == 0, r.output


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_read_only_out_is_one_line(tmp_path, tiny_cli):  # pragma: no cover - not as root
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    r = CliRunner().invoke(app, ["run", "tiny", "--out", str(ro / "run")])
    assert r.exit_code == 2 and "Permission denied" in r.output and "Traceback" not in r.output


def test_report_failure_is_recorded_in_the_manifest(tmp_path, monkeypatch, tiny_cli):
    import repgeo.report.html

    def broken(run_dir):
        raise RuntimeError("template exploded")

    monkeypatch.setattr(repgeo.report.html, "render_report", broken)
    out = tmp_path / "run"
    with pytest.raises(ReportError, match="template exploded"):
        run_study(counting_study(), out, device="cpu")
    man = _manifest(out)
    assert man["status"] == "complete"
    assert "template exploded" in man["report_error"]["traceback"]
    assert json.loads(_metrics(out))  # the results stand
    r = CliRunner().invoke(app, ["run", "tiny", "--out", str(tmp_path / "cli")])
    assert r.exit_code == 1 and "report.html could not be rendered" in r.output
    monkeypatch.undo()
    assert CliRunner().invoke(app, ["report", str(out)]).exit_code == 0


# ============================================================================= 6. config
def test_bad_values_are_refused_before_the_first_write(tmp_path):
    st = counting_study()
    out = tmp_path / "run"
    for bad, match in (
        ({"s": {"scale": -1}}, r"s\.scale must be an int >= 0; got -1"),
        ({"s": {"scale": 1.5}}, r"s\.scale must be an int >= 0; got 1\.5 \(number\)"),
        ({"s": {"scale": True}}, r"s\.scale must be an int >= 0; got True \(bool\)"),
        ({"s": {"mode": "c"}}, r"s\.mode must be one of \['a', 'b'\]; got 'c'"),
        ({"s": {"scael": 1}}, r"unknown key 's\.scael' in section 's'"),
    ):
        with pytest.raises(ConfigError, match=match):
            run_study(st, out, device="cpu", config_overrides=bad)
        assert not out.exists()


def test_conventions_and_options_that_take_several_types():
    from repgeo.studies import get_study

    st = get_study("default")
    for ok in (
        {"manifold_train": {"checkpoints": [0, 5, 10]}},
        {"manifold_train": {"checkpoints": 3, "lr": 1}},
        {"diffusion": {"bandwidth": "knn"}},
        {"diffusion": {"bandwidth": 0.5}},
    ):
        st.resolve_config(overrides=ok)
    for bad, match in (
        ({"manifold_train": {"checkpoints": [0, -5]}}, r"checkpoints item 1 must be an int >= 0"),
        ({"manifold_train": {"checkpoints": 1}}, r"checkpoints must be an int >= 2 or a list"),
        ({"manifold_train": {"lr": -0.1}}, r"lr must be a number > 0"),
        ({"manifold_train": {"optimizer": "adma"}}, r"optimizer must be one of"),
        ({"manifold_train": {"epochs": 2.5}}, r"epochs must be an int >= 1"),
        ({"manifold": {"n_classes": 0}}, r"n_classes must be an int >= 1"),
        ({"manifold": {"test_fraction": 1.0}}, r"test_fraction must be a number > 0 and < 1"),
        (
            {"diffusion": {"bandwidth": "mean"}},
            r"bandwidth must be one of \['median', 'knn'\] or a number > 0",
        ),
        ({"diffusion": {"bandwidth": -1}}, r"bandwidth must be .* a number > 0"),
        ({"geometry": {"anchors": ["a"]}}, r"anchors item 0 must be an int"),
        ({"manifold": {"activation": 3}}, r"activation must be a string"),
        ({"manifold_train": {"lr": float("nan")}}, r"lr must be a number > 0 \(finite\)"),
    ):
        with pytest.raises(ConfigError, match=match):
            st.resolve_config(overrides=bad)


def test_panel_schema_checks_defaults_quick_and_overrides():
    def fn(ctx, opts):
        pass

    panel = Panel(
        name="p",
        title="P",
        fn=fn,
        config={"t": 1.0, "rule": "median"},
        schema={
            "t": Option(type="number", gt=0),
            "rule": Option(type=("str", "number"), choices=("median",), gt=0),
        },
    )
    t_only = {"t": panel.schema["t"]}
    st = Study("s", "t", [panel])
    assert st.resolve_config(overrides={"p": {"rule": 2}})["p"]["rule"] == 2
    with pytest.raises(ConfigError, match=r"p\.t must be a number > 0; got 0"):
        st.resolve_config(overrides={"p": {"t": 0}})
    with pytest.raises(ConfigError, match="panel 'p' defaults: t must be a number > 0"):
        Panel(name="p", title="P", fn=fn, config={"t": -1.0}, schema=t_only)
    with pytest.raises(ConfigError, match="panel 'p' quick: t must be a number > 0"):
        Panel(name="p", title="P", fn=fn, config={"t": 1.0}, quick={"t": 0}, schema=t_only)
    with pytest.raises(ValueError, match="schema names 'u', which has no default"):
        Panel(name="p", title="P", fn=fn, config={"t": 1.0}, schema={"u": Option()})


def test_resume_says_which_key_differs(tmp_path):
    out = tmp_path / "run"
    run_study(counting_study(), out, seed=4, device="cpu")
    with pytest.raises(ValueError, match=r"config s\.scale: 2 -> 5") as info:
        run_study(
            counting_study(),
            out,
            seed=4,
            device="cpu",
            resume=True,
            config_overrides={"s": {"scale": 5}},
        )
    assert "seed:" not in str(info.value)
    with pytest.raises(
        ValueError, match=r"seed: 4 -> 1; quick: False -> True; config s\.scale: 2 -> 1"
    ):
        run_study(counting_study(), out, seed=1, quick=True, device="cpu", resume=True)


# ============================================================================= 8. names, modes
def _fig():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1, 1))
    ax.plot([0, 1])
    return fig


def test_figure_names_dotted_long_and_duplicate(tmp_path):
    def first(ctx):
        ctx.figure(_fig(), "plot.a")
        ctx.figure(_fig(), "plot.b")
        with pytest.raises(ValueError, match="at most 100 characters"):
            ctx.figure(_fig(), "x" * 300)
        with pytest.raises(ValueError, match="used twice"):
            ctx.figure(_fig(), "PLOT.A")

    def second(ctx):
        ctx.figure(_fig(), "plot.a")

    out = tmp_path / "run"
    with pytest.raises(ValueError, match="'plot.a' is already used by stage 'first'"):
        run_study(
            Study("figs", "t", [Stage("first", first), Stage("second", second)]), out, device="cpu"
        )
    assert sorted(p.name for p in (out / "figures").iterdir()) == [
        "plot.a.png",
        "plot.a.svg",
        "plot.b.png",
        "plot.b.svg",
    ]
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 2


@pytest.mark.parametrize("umask", [0o022, 0o002])
def test_run_files_follow_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        out = tmp_path / "run"
        run_study(training_study(), out, device="cpu")
    finally:
        os.umask(old)
    files = [p for p in out.rglob("*") if p.is_file()]
    assert files
    assert {stat.S_IMODE(p.stat().st_mode) for p in files} == {0o666 & ~umask}
