"""Execute a study into a run directory: lock, manifest, checksums, resume, force, report.

Layout of a run directory::

    manifest.json      format, run id, config, seed, versions, status, per-stage status,
                       seconds, errors (with traceback) and the SHA-256 of every file it wrote
    metrics.json       flat mapping of dotted keys -> values (merged over completed stages)
    report.html        self-contained report (re-rendered after every stage)
    stages/<s>.json    each completed stage's report items, metrics, run identity and files
    arrays/*.npz       arrays shared between stages
    checkpoints/<m>/   model checkpoints (safetensors)
    figures/*.png|svg  figures
    .lock              held (``flock``) by the process running in the directory

Guarantees (see ``docs/runs.md``):

* **One process per directory.** The lock is taken atomically and held for the whole run; a
  second process exits with :class:`RunLockedError` before writing anything. A lock left by a
  killed process is free (the kernel releases it), whatever became of its PID.
* **Never overwrite, delete only what is provably repgeo's.** A directory whose
  ``manifest.json`` lacks repgeo's format marker and run id is not a run: ``force`` refuses it.
  ``force`` deletes only the files repgeo writes (recorded in the manifest or named as repgeo
  names them) and keeps anything else.
* **Checksums.** Every file a stage writes is hashed as it is written (no second read) and
  recorded; ``resume`` verifies every completed stage's files and redoes a stage whose files
  are missing or damaged (and the later stages if its outputs come out different).
* **Recoverable.** A stage is complete only after all its files are written, so Ctrl-C, a kill
  or a full disk lose at most the running stage; a directory holding only a lock or a
  temporary manifest, or a damaged ``manifest.json``, is resumed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import importlib.metadata as _md
import json
import os
import platform
import re
import sys
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .. import _io as io
from .._backend import resolve_device
from .._validation import check_scalar
from .context import RunContext
from .study import Study, config_diff, deep_merge

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "FORMAT",
    "MANIFEST",
    "ReportError",
    "RunExistsError",
    "RunLockedError",
    "is_run_manifest",
    "load_config_file",
    "package_versions",
    "run_study",
]

MANIFEST = "manifest.json"
FORMAT = "repgeo-run"
FORMAT_VERSION = 1
_LOCK = ".lock"
_METRICS = "metrics.json"
_REPORT = "report.html"
_OWN_DIRS = ("stages", "arrays", "checkpoints", "figures")
_RUN_ID = re.compile(r"^[0-9a-f]{32}$")
# what atomic writes leave behind when killed: ".<name>.<8 random chars>.tmp"
_TMP = re.compile(r"^\.(.+)\.[a-z0-9_]{8}\.tmp$")
_MAX_MANIFEST_BYTES = 64 * 2**20
_PART = r"[A-Za-z0-9][A-Za-z0-9_.\-]*"
# the names repgeo gives its files inside its folders (what --force may delete unrecorded)
_OWN_FILE = re.compile(
    rf"^(stages/\.?[A-Za-z0-9_\-]+(\.partial)?\.json"
    rf"|arrays/{_PART}\.npz"
    rf"|figures/{_PART}\.(png|svg)"
    rf"|checkpoints/{_PART}/(epoch_\d+\.safetensors|history\.json|state\.pt))$"
)
_SAFE_REL = re.compile(rf"^({'|'.join(_OWN_DIRS)})(/{_PART})+$")
_TRACEBACK_CHARS = 20_000


class RunExistsError(FileExistsError):
    """The output directory already holds a run (or something else) and the invocation asked
    neither to resume it nor to start over."""


class RunLockedError(RuntimeError):
    """Another process is running in the output directory."""


class ReportError(RuntimeError):
    """Every stage completed but ``report.html`` could not be rendered (recorded in the
    manifest under ``report_error``; ``repgeo report DIR`` renders it again)."""


def package_versions() -> dict[str, str]:
    """Versions of Python, repgeo and the numerical stack, for the manifest."""
    out = {"python": platform.python_version(), "platform": platform.platform()}
    for pkg in (
        "repgeo",
        "torch",
        "numpy",
        "scipy",
        "scikit-learn",
        "matplotlib",
        "faiss-cpu",
        "safetensors",
    ):
        try:
            out[pkg] = _md.version(pkg)
        except _md.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def load_config_file(path: str | os.PathLike) -> dict:
    """Read a JSON or TOML config file into a dict, with clear errors."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file {path} does not exist.")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"config file {path} is not UTF-8 text: {exc}") from None
    if path.suffix.lower() == ".toml":
        if sys.version_info >= (3, 11):
            import tomllib
        else:  # pragma: no cover
            import tomli as tomllib
        try:
            data = tomllib.loads(text)
        except Exception as exc:
            raise ValueError(f"config file {path} is not valid TOML: {exc}") from exc
    elif path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"config file {path} is not valid JSON: {exc}") from exc
    else:
        raise ValueError(f"config file must end in .json or .toml; got {path.name!r}.")
    if not isinstance(data, dict):
        raise ValueError(
            f"config file {path} must hold a mapping of sections; got {type(data).__name__}."
        )
    return data


def is_run_manifest(obj: Any) -> bool:
    """Whether ``obj`` (a parsed ``manifest.json``) is a repgeo run manifest: repgeo's format
    marker, a run id, a study name and a table of stages."""
    return (
        isinstance(obj, dict)
        and obj.get("format") == FORMAT
        and isinstance(obj.get("run_id"), str)
        and bool(_RUN_ID.match(obj["run_id"]))
        and isinstance(obj.get("study"), str)
        and isinstance(obj.get("stages"), dict)
    )


# ----------------------------------------------------------------------------- the lock
class _Lock:
    """An exclusive lock on ``<out>/.lock`` held for the life of the run.

    POSIX: ``flock`` on the file (the kernel drops it when the holder dies, so a stale lock,
    or a PID reused by another program, never blocks a run); after locking, the file must
    still be the one at the path (another holder may have unlinked it on release), else retry.
    Elsewhere: ``O_CREAT | O_EXCL`` with the holder's PID, a lock whose PID is gone is stale.
    """

    def __init__(self, out: Path) -> None:
        self.path = out / _LOCK
        self.fd: int | None = None

    def _holder(self) -> str:
        try:
            text = self.path.read_text(encoding="ascii", errors="replace").strip()
        except OSError:
            text = ""
        return f"process {text}" if text.isdigit() else "another process"

    def _busy(self) -> RunLockedError:
        return RunLockedError(
            f"run directory {self.path.parent} is in use by {self._holder()}; wait for it to "
            "finish or choose another --out."
        )

    def acquire(self) -> _Lock:
        if fcntl is None:  # pragma: no cover - Windows
            return self._acquire_exclusive_create()
        for _ in range(50):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, io.file_mode())
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                raise self._busy() from None
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if not same:  # the previous holder unlinked it while we waited: try again
                os.close(fd)
                continue
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode("ascii"))
            self.fd = fd
            return self
        raise self._busy()  # pragma: no cover - 50 unlink races in a row

    def _acquire_exclusive_create(self) -> _Lock:  # pragma: no cover - Windows
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, io.file_mode())
            except FileExistsError:
                holder = self._holder()
                pid = int(holder.split()[-1]) if holder.split()[-1].isdigit() else 0
                if pid and _pid_alive(pid):
                    raise self._busy() from None
                self.path.unlink(missing_ok=True)  # stale: its process is gone
                continue
            os.write(fd, f"{os.getpid()}\n".encode("ascii"))
            self.fd = fd
            return self
        raise self._busy()

    def release(self) -> None:
        if self.fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)  # while still holding it (see acquire)
        except OSError:
            pass
        os.close(self.fd)
        self.fd = None


def _pid_alive(pid: int) -> bool:  # pragma: no cover - Windows fallback only
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


# ----------------------------------------------------------------------------- directory state
@dataclass
class _State:
    kind: str  # absent | empty | run | damaged | foreign
    manifest: dict | None = None
    why: str = ""
    leftovers: list[str] = field(default_factory=list)


def _top_tmp(name: str) -> bool:
    """A temporary file an atomic write of one of the runner's own top-level files left."""
    m = _TMP.match(name)
    return bool(m) and m.group(1) in (MANIFEST, _METRICS, _REPORT)


def _inspect(out: Path) -> _State:
    """What ``out`` holds, without changing anything."""
    if not out.exists():
        return _State("absent")
    if not out.is_dir():
        raise NotADirectoryError(f"output path {out} exists and is not a directory.")
    entries = sorted(p.name for p in out.iterdir())
    leftovers = [n for n in entries if n == _LOCK or _top_tmp(n)]
    others = [n for n in entries if n not in leftovers]
    if not others:
        return _State("empty", leftovers=leftovers)
    manifest_path = out / MANIFEST
    if manifest_path.is_file() and not manifest_path.is_symlink():
        try:
            if manifest_path.stat().st_size > _MAX_MANIFEST_BYTES:
                raise io.DamagedFileError(manifest_path, "it is larger than any run manifest")
            manifest = io.read_json(manifest_path)
        except io.DamagedFileError as exc:
            manifest, why = None, f"{MANIFEST} is damaged: {exc.reason}"
        else:
            if is_run_manifest(manifest):
                return _State("run", manifest=manifest)
            legacy = (
                isinstance(manifest, dict)
                and isinstance(manifest.get("versions"), dict)
                and "repgeo" in manifest["versions"]
            )
            return _State(
                "foreign",
                why=f"its {MANIFEST} has no repgeo format marker and run id"
                + (
                    " — a run of an older repgeo? It cannot be verified, so it is neither "
                    "resumed nor deleted; remove it by hand"
                    if legacy
                    else ""
                ),
            )
    else:
        why = f"{MANIFEST} is missing"
    own = {MANIFEST, _METRICS, _REPORT, *_OWN_DIRS}
    strangers = [n for n in others if n not in own]
    if strangers:
        return _State(
            "foreign",
            why=f"it holds {', '.join(strangers[:5])}{' ...' if len(strangers) > 5 else ''}",
        )
    return _State("damaged", why=why, leftovers=leftovers)


def _check_state(st: _State, out: Path, *, resume: bool, force: bool) -> None:
    if st.kind == "foreign":
        raise RunExistsError(
            f"output directory {out} is not empty and is not a repgeo run ({st.why}); choose "
            "another --out. Nothing was changed."
        )
    if st.kind in ("run", "damaged") and not (resume or force):
        extra = f" ({st.why})" if st.kind == "damaged" else ""
        raise RunExistsError(
            f"run directory {out} already exists{extra}; use --resume to complete it or --force "
            "to start over."
        )
    if resume and (st.kind == "absent" or (st.kind == "empty" and not st.leftovers)):
        raise FileNotFoundError(f"nothing to resume: {out} holds no run ({MANIFEST} missing).")


def _safe_path(out: Path, rel: Any) -> Path | None:
    """``out / rel`` if ``rel`` names a file inside one of repgeo's folders without ``..``,
    absolute parts or symlinks on the way; else None."""
    if not isinstance(rel, str) or not _SAFE_REL.match(rel) or ".." in rel.split("/"):
        return None
    path = out
    for part in rel.split("/"):
        path = path / part
        if path.is_symlink():
            return None
    return path


def _tmp_leftovers(out: Path) -> Iterator[Path]:
    for p in out.iterdir():
        if _top_tmp(p.name) and p.is_file() and not p.is_symlink():
            yield p
    for d in _OWN_DIRS:
        base = out / d
        if base.is_dir() and not base.is_symlink():
            for root, dirs, files in os.walk(base):
                dirs[:] = [x for x in dirs if not os.path.islink(os.path.join(root, x))]
                for f in files:
                    if _TMP.match(f):
                        yield Path(root) / f


def _clear(out: Path, manifest: Mapping | None, say: Callable[[str], None]) -> None:
    """Delete repgeo's own files from a run directory (``--force``); keep everything else."""
    recorded: set[str] = set()
    for rec in (manifest or {}).get("stages", {}).values():
        if isinstance(rec, Mapping) and isinstance(rec.get("files"), Mapping):
            recorded.update(r for r in rec["files"] if isinstance(r, str))
    kept: list[str] = []
    for p in list(_tmp_leftovers(out)):
        p.unlink(missing_ok=True)
    for name in (MANIFEST, _METRICS, _REPORT):
        p = out / name
        if p.is_symlink() or p.is_file():
            p.unlink()
    for d in _OWN_DIRS:
        base = out / d
        if base.is_symlink():
            kept.append(d)
            continue
        if not base.is_dir():
            continue
        for root, dirs, files in os.walk(base, topdown=False):
            for f in files:
                path = Path(root) / f
                rel = path.relative_to(out).as_posix()
                if not path.is_symlink() and (rel in recorded or _OWN_FILE.match(rel)):
                    path.unlink()
                else:
                    kept.append(rel)
            for sub in dirs:
                sp = Path(root) / sub
                if sp.is_symlink():
                    kept.append(sp.relative_to(out).as_posix())
                else:
                    with contextlib.suppress(OSError):
                        sp.rmdir()  # only if empty
        with contextlib.suppress(OSError):
            base.rmdir()
    if kept:
        say(
            f"force: kept {len(kept)} file(s) repgeo did not write: {', '.join(kept[:5])}"
            + (" ..." if len(kept) > 5 else "")
        )


# ----------------------------------------------------------------------------- records
def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _identity(
    run_id: str, study: Study, seed: int, quick: bool, config: Any, inputs: Any = None
) -> dict:
    out = {"run_id": run_id, "study": study.name, "seed": seed, "quick": quick, "config": config}
    if inputs:
        out["inputs"] = inputs
    return out


def _hash_inputs(inputs: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """``{name: {"path", "sha256", "bytes"}}`` of the files a run reads (a mapping value that
    already carries ``sha256`` — the digest of the bytes its caller read — is kept)."""
    out: dict[str, dict[str, Any]] = {}
    for name, value in (inputs or {}).items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"input names must be non-empty strings; got {name!r}.")
        if isinstance(value, Mapping):
            if not isinstance(value.get("sha256"), str) or "path" not in value:
                raise ValueError(f"input {name!r} must give a path and its sha256; got {value!r}.")
            out[name] = {
                "path": str(value["path"]),
                "sha256": value["sha256"],
                "bytes": value.get("bytes"),
            }
            continue
        path = Path(value)
        if not path.is_file():
            raise FileNotFoundError(f"input {name!r}: {path} is not a file.")
        out[name] = {
            "path": str(path.resolve()),
            "sha256": io.sha256_file(path),
            "bytes": path.stat().st_size,
        }
    return out


def _input_differences(old: Any, new: Mapping[str, Any]) -> list[str]:
    old = old if isinstance(old, Mapping) else {}
    diffs = []
    for name in dict.fromkeys([*old, *new]):
        a, b = old.get(name), new.get(name)
        if a is None or b is None:
            diffs.append(
                f"input {name}: {'(absent)' if a is None else 'recorded'} -> "
                f"{'(absent)' if b is None else 'given'}"
            )
        elif not isinstance(a, Mapping) or a.get("sha256") != b.get("sha256"):
            was = a.get("sha256", "?") if isinstance(a, Mapping) else "?"
            where = "" if b.get("path") in (None, name) else f" ({b.get('path')})"
            diffs.append(
                f"input {name}{where} changed since the run read it: sha256 "
                f"{str(was)[:12]}… -> {str(b.get('sha256'))[:12]}…"
            )
    return diffs


def _differences(
    run: Mapping, study: Study, seed: int, quick: bool, config: Any, inputs: Any = None
) -> list[str]:
    diffs = []
    if run.get("seed") != seed:
        diffs.append(f"seed: {run.get('seed')!r} -> {seed!r}")
    if run.get("quick") != quick:
        diffs.append(f"quick: {run.get('quick')!r} -> {quick!r}")
    diffs.extend(f"config {d}" for d in config_diff(run.get("config"), config))
    if run.get("inputs") or inputs:
        diffs.extend(_input_differences(run.get("inputs"), inputs or {}))
    return diffs


def _refuse_changed(out: Path, diffs: Sequence[str]) -> None:
    shown = "; ".join(diffs[:8]) + (f"; ... ({len(diffs)} differences)" if len(diffs) > 8 else "")
    what = (
        "inputs/config/seed/quick"
        if any(d.startswith("input ") for d in diffs)
        else ("config/seed/quick")
    )
    raise ValueError(
        f"cannot resume {out}: its {what} differ from this invocation (run -> now): "
        f"{shown}. Pass the run's options or use --force to start over."
    )


def _verify(out: Path, files: Any) -> list[str]:
    """Problems with the recorded files (``rel: reason``); empty when all are intact."""
    problems = []
    if not isinstance(files, Mapping):
        return ["no file records"]
    for rel, rec in files.items():
        path = _safe_path(out, rel)
        if path is None:
            problems.append(f"{rel!r}: not a path inside the run's folders")
            continue
        sha = rec.get("sha256") if isinstance(rec, Mapping) else None
        if not path.is_file():
            problems.append(f"{rel}: missing")
            continue
        if not isinstance(sha, str):
            problems.append(f"{rel}: no checksum recorded")
            continue
        try:
            found = io.sha256_file(path)
        except OSError as exc:
            problems.append(f"{rel}: unreadable ({exc.strerror or exc})")
            continue
        if found != sha:
            problems.append(f"{rel}: checksum differs (damaged)")
    return problems


def _journal(out: Path, stage: str) -> Path:
    """Where a running stage journals the files it has written (a SIGKILL skips the manifest
    update, not this), so ``--resume`` can verify a killed stage's files too."""
    return out / "stages" / f".{stage}.partial.json"


def _read_journal(out: Path, stage: str) -> dict:
    path = _journal(out, stage)
    if not path.is_file() or path.is_symlink():
        return {}
    try:
        data = io.read_json(path)
    except io.DamagedFileError:
        return {"(journal)": {"sha256": None}}  # unreadable: treat the stage's files as suspect
    return data if isinstance(data, dict) else {"(journal)": {"sha256": None}}


def _remove(out: Path, files: Any) -> None:
    for rel in files if isinstance(files, Mapping) else ():
        path = _safe_path(out, rel)
        if path is not None and (path.is_file() or path.is_symlink()):
            path.unlink()


def _unrecorded(out: Path, known: set[str]) -> dict[str, dict[str, Any]]:
    """Files in repgeo's folders that no record names (written outside :func:`io.recording`,
    or by an attempt of the stage that was killed), hashed now."""
    found: dict[str, dict[str, Any]] = {}
    for d in _OWN_DIRS:
        base = out / d
        if not base.is_dir() or base.is_symlink():
            continue
        for root, dirs, files in os.walk(base):
            dirs[:] = sorted(x for x in dirs if not os.path.islink(os.path.join(root, x)))
            for f in sorted(files):
                path = Path(root) / f
                rel = path.relative_to(out).as_posix()
                if rel in known or _TMP.match(f) or path.is_symlink() or not _SAFE_REL.match(rel):
                    continue
                found[rel] = {"sha256": io.sha256_file(path), "bytes": path.stat().st_size}
    return found


def _data_files(files: Mapping) -> dict[str, Any]:
    """The files later stages may read (not figures, not stage records), with their digests."""
    return {
        rel: rec.get("sha256")
        for rel, rec in files.items()
        if not rel.startswith(("figures/", "stages/"))
    }


def _merged_metrics(out: Path, manifest: Mapping, stage_names: Sequence[str]) -> dict[str, Any]:
    metrics: dict[str, Any] = {}
    for name in stage_names:
        rec = manifest["stages"].get(name, {})
        if rec.get("status") != "complete":
            continue
        rel = f"stages/{name}.json"
        record = io.read_json(out / rel, sha256=rec.get("files", {}).get(rel, {}).get("sha256"))
        for k, v in record.get("metrics", {}).items():
            if isinstance(v, dict) and isinstance(metrics.get(k), dict):
                metrics[k] = deep_merge(metrics[k], v)
            else:
                metrics[k] = v
    return dict(sorted(metrics.items()))


def _traceback(exc: BaseException) -> str:
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return text if len(text) <= _TRACEBACK_CHARS else "...\n" + text[-_TRACEBACK_CHARS:]


def _new_manifest(
    study: Study, seed: int, quick: bool, dev: Any, config: Any, inputs: Any = None
) -> dict:
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "run_id": uuid.uuid4().hex,
        "study": study.name,
        "seed": seed,
        "quick": quick,
        "device": str(dev),
        "config": config,
        "versions": package_versions(),
        "command": sys.argv,
        "created_at": _now(),
        "status": "running",
        "stages": {s.name: {"status": "pending", "title": s.title} for s in study.stages},
    }
    if inputs:
        manifest["inputs"] = inputs
    return manifest


def _rebuild(
    out: Path,
    study: Study,
    seed: int,
    quick: bool,
    dev: Any,
    config: Any,
    say: Callable[[str], None],
    inputs: Any = None,
) -> dict:
    """A new manifest for a run whose ``manifest.json`` is lost or damaged, from the
    self-describing stage records: a stage is complete if its record belongs to this
    invocation's run and its files are intact."""
    manifest = _new_manifest(study, seed, quick, dev, config, inputs)
    run_ids = set()
    for stage in study.stages:
        rel = f"stages/{stage.name}.json"
        path = out / rel
        if not path.is_file() or path.is_symlink():
            continue
        try:
            record = io.read_json(path)
        except io.DamagedFileError as exc:
            say(f"check  {rel} is damaged ({exc.reason}); stage {stage.name} will be redone")
            continue
        run = record.get("run") if isinstance(record, dict) else None
        if not isinstance(run, dict) or record.get("format") != FORMAT:
            say(f"check  {rel} is not a repgeo stage record; stage {stage.name} will be redone")
            continue
        if run.get("study") != study.name:
            raise ValueError(
                f"cannot resume: {out} holds a run of study {run.get('study')!r}, not {study.name!r}."
            )
        diffs = _differences(run, study, seed, quick, config, inputs)
        if diffs:
            _refuse_changed(out, diffs)
        files = record.get("files")
        if not isinstance(files, dict):
            say(f"check  {rel} lists no files; stage {stage.name} will be redone")
            continue
        files = dict(files)
        problems = _verify(out, files)
        if problems:
            say(f"check  stage {stage.name}: {problems[0]}; it will be redone")
            _remove(out, files)
            continue
        files[rel] = {"sha256": io.sha256_file(path), "bytes": path.stat().st_size}
        run_ids.add(run.get("run_id"))
        manifest["stages"][stage.name].update(
            status="complete", seconds=record.get("seconds"), files=files
        )
    if len(run_ids) == 1 and isinstance(next(iter(run_ids)), str):
        manifest["run_id"] = next(iter(run_ids))
    manifest["recovered_at"] = _now()
    return manifest


# ----------------------------------------------------------------------------- the runner
def run_study(
    study: Study,
    out: str | os.PathLike,
    *,
    seed: int = 0,
    quick: bool = False,
    device: str | torch.device = "auto",
    config_overrides: Mapping[str, Any] | None = None,
    resume: bool = False,
    force: bool = False,
    log: Callable[[str], None] | None = None,
    inputs: Mapping[str, Any] | None = None,
    stages: Sequence[str] | None = None,
) -> Path:
    """Run ``study`` into the directory ``out`` and return the path of ``report.html``.

    Parameters
    ----------
    study : Study
        What to run.
    out : path
        Run directory. Created if missing. If it already holds a run, ``resume=True`` skips the
        completed stages whose files are intact (the configuration must match) and
        ``force=True`` deletes repgeo's files in it and starts over; with neither,
        :class:`RunExistsError` is raised and nothing is touched. A directory that is not a
        repgeo run is never written to.
    seed : int, default=0
        Run seed; every stage derives its randomness from it (same seed, same numbers on CPU).
    quick : bool, default=False
        Use the study's reduced configuration.
    device : {"auto", "cpu", "cuda"} or torch.device, default="auto"
    config_overrides : mapping, optional
        Sections deep-merged over the study's configuration (from ``--config FILE``). Every key
        and value is checked before anything is written.
    resume, force : bool
        See ``out``. They are mutually exclusive.
    log : callable, optional
        Receives one line per event (stage started/skipped/finished/redone).
    inputs : mapping of str to path, optional
        Files outside the run directory the study reads (a user's embeddings, say): their
        SHA-256 is recorded in ``manifest.json`` (and in every stage record), and ``resume``
        refuses a run whose inputs changed. A value may be ``{"path", "sha256"}`` already
        hashed by the caller (from the very bytes it read).
    stages : sequence of str, optional
        Run only these stages (in the study's order); default all. The manifest lists the
        selection under ``stages_selected`` and records only these stages; a later
        ``resume=True`` with more (or all) stages runs the rest and keeps the completed ones.
        A selected stage that reads the files of an unselected stage that never ran fails
        like any stage whose input is missing.

    Raises
    ------
    RunExistsError
        ``out`` holds a run (and neither ``resume`` nor ``force``) or is not a repgeo run.
    RunLockedError
        Another process is running in ``out``.
    ConfigError
        The configuration has an unknown key or a bad value.
    ReportError
        Every stage completed but the report could not be rendered.

    An exception raised inside a stage propagates unchanged after the stage is recorded as
    failed (with the traceback) in ``manifest.json``; it carries the stage's name as
    ``exc.repgeo_stage``.
    """
    say = log or (lambda msg: None)
    if resume and force:
        raise ValueError(
            "resume and force are mutually exclusive: resume keeps the run, force deletes it."
        )
    check_scalar(seed, "seed", kind=int, min_val=0)
    order = [s.name for s in study.stages]
    selected = None if stages is None else _select_stages(study, stages)
    if selected is not None:
        study = dataclasses.replace(
            study, stages=tuple(s for s in study.stages if s.name in selected)
        )
    dev = resolve_device(device)
    config = io.jsonable(study.resolve_config(quick=quick, overrides=config_overrides))
    out = Path(out)
    recorded = _hash_inputs(inputs)

    _check_state(_inspect(out), out, resume=resume, force=force)  # nothing written yet
    out.mkdir(parents=True, exist_ok=True)
    lock = _Lock(out).acquire()
    try:
        st = _inspect(out)  # again, now that no other process can change it
        _check_state(st, out, resume=resume, force=force)
        if force and st.kind in ("run", "damaged"):
            say("force  deleting the existing run's files")
            _clear(out, st.manifest, say)
            st = _State("empty")
        for p in list(_tmp_leftovers(out)):
            p.unlink(missing_ok=True)
        redo: dict[str, dict] = {}
        if st.kind == "run" and resume:
            manifest = st.manifest
            assert manifest is not None
            if manifest.get("study") != study.name:
                raise ValueError(
                    f"cannot resume: {out} holds a run of study {manifest.get('study')!r}, "
                    f"not {study.name!r}."
                )
            diffs = _differences(manifest, study, seed, quick, config, recorded)
            if diffs:
                _refuse_changed(out, diffs)
            for name, rec in list(manifest["stages"].items()):  # a hand-edited record
                if not isinstance(rec, dict) or not isinstance(rec.get("files", {}), dict):
                    say(f"check  the manifest's record of stage {name} is malformed; redoing it")
                    manifest["stages"][name] = {"status": "pending", "title": str(name)}
            redo = _check_files(out, manifest, study, say)
            manifest["resumed_at"] = [*manifest.get("resumed_at", []), _now()]
        elif st.kind == "damaged" and resume:
            say(f"check  {st.why}; rebuilding it from the stage records")
            manifest = _rebuild(out, study, seed, quick, dev, config, say, recorded)
        else:
            if resume:
                say("resume: the directory holds no stage yet; starting the run")
            manifest = _new_manifest(study, seed, quick, dev, config, recorded)
        if selected is not None:
            manifest["stages_selected"] = [s.name for s in study.stages]
        else:
            manifest.pop("stages_selected", None)
        return _execute(study, out, manifest, redo, config, seed, quick, dev, say, order)
    finally:
        lock.release()


def _select_stages(study: Study, stages: Any) -> list[str]:
    """The stage names of ``stages`` (checked: known, unique, at least one)."""
    if isinstance(stages, str) or not isinstance(stages, Sequence):
        raise TypeError(
            f"stages must be a sequence of stage names; got {type(stages).__name__} {stages!r}."
        )
    names = [s.name for s in study.stages]
    bad = [s for s in stages if not isinstance(s, str) or s not in names]
    if bad:
        raise ValueError(f"study {study.name!r} has no stage(s) {bad}; its stages are {names}.")
    if not stages:
        raise ValueError(f"stages is empty; choose among {names} (or pass None for all).")
    if len(set(stages)) != len(stages):
        raise ValueError(f"stages names a stage twice: {list(stages)}.")
    return list(stages)


def _check_files(
    out: Path, manifest: dict, study: Study, say: Callable[[str], None]
) -> dict[str, dict]:
    """Verify the recorded files of every stage; return the completed stages to redo (with
    the file records they had), after removing their damaged files. A partial stage's
    damaged files are removed too."""
    redo: dict[str, dict] = {}
    for stage in study.stages:
        rec = manifest["stages"].get(stage.name)
        if not isinstance(rec, dict):
            continue
        complete = rec.get("status") == "complete"
        files = rec.get("files")
        if not complete:
            files = {**_read_journal(out, stage.name), **(files or {})}
            if not files:
                continue
        problems = _verify(out, files)
        if not problems:
            continue
        more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
        if complete:
            say(f"check  stage {stage.name}: {problems[0]}{more}; redoing it")
            redo[stage.name] = dict(files)
            rec["status"] = "pending"
        else:
            say(f"check  unfinished stage {stage.name}: {problems[0]}{more}; starting it afresh")
        _remove(out, files)
        _journal(out, stage.name).unlink(missing_ok=True)
        rec["files"] = {}
    return redo


def _execute(
    study: Study,
    out: Path,
    manifest: dict,
    redo: dict[str, dict],
    config: Any,
    seed: int,
    quick: bool,
    dev: Any,
    say: Callable[[str], None],
    order: Sequence[str],
) -> Path:
    """Run the stages of ``study`` not complete in ``manifest``; ``order`` names every stage
    of the full study (``study`` may hold a selection of them): metrics merge over all of
    them, and a redone stage that writes different data marks every later one pending."""
    from ..report.html import render_report

    manifest_path = out / MANIFEST
    manifest["status"] = "running"
    manifest["device"] = str(dev)
    io.atomic_write_json(manifest_path, manifest)
    stage_names = list(order)
    identity = _identity(manifest["run_id"], study, seed, quick, config, manifest.get("inputs"))

    def render() -> None:
        try:
            render_report(out)
        except Exception as exc:  # the run's results stand; the failure is recorded
            manifest["report_error"] = {
                "error": f"{type(exc).__name__}: {exc}"[:2000],
                "traceback": _traceback(exc),
                "at": _now(),
            }
            say(f"report could not be rendered: {type(exc).__name__}: {exc}")
        else:
            manifest.pop("report_error", None)
        io.atomic_write_json(manifest_path, manifest)

    started = time.perf_counter()
    try:
        for stage in study.stages:
            rec = manifest["stages"].setdefault(
                stage.name, {"status": "pending", "title": stage.title}
            )
            if rec.get("status") == "complete" and stage.name not in redo:
                say(f"skip   {stage.name} (complete, files verified)")
                continue
            old_files = redo.get(stage.name)
            if stage.name in redo:  # start clean: no file of the old attempt may linger
                _remove(out, rec.get("files"))
                rec["files"] = {}
            say(f"stage  {stage.name}: {stage.title}")
            done_files = {
                rel: {**r, "stage": name}
                for name, other in manifest["stages"].items()
                if name != stage.name and other.get("status") == "complete"
                for rel, r in (other.get("files") or {}).items()
                if isinstance(r, Mapping)
            }
            # files an earlier, unfinished attempt of this stage left (verified by --resume)
            previous = {**_read_journal(out, stage.name), **(rec.get("files") or {})}
            previous = {
                rel: {"sha256": r["sha256"], "bytes": r.get("bytes")}
                for rel, r in previous.items()
                if isinstance(r, Mapping)
                and isinstance(r.get("sha256"), str)
                and (path := _safe_path(out, rel)) is not None
                and path.is_file()
            }
            t0 = time.perf_counter()
            rec.update(status="running", started_at=_now())
            for key in ("error", "traceback", "seconds", "finished_at"):
                rec.pop(key, None)
            io.atomic_write_json(manifest_path, manifest)
            journal = _journal(out, stage.name)

            def note(written: dict, journal: Path = journal) -> None:
                io.atomic_write_bytes(journal, json.dumps(written).encode(), record=False)

            with io.recording(out, on_write=note) as written:
                written.update(previous)
                ctx = RunContext(
                    out,
                    config=config,
                    seed=seed,
                    quick=quick,
                    device=dev,
                    stage=stage.name,
                    metrics=stage.metrics,
                    files=done_files,
                    written=written,
                )
                try:
                    torch.manual_seed(ctx.seed_for(f"torch:{stage.name}"))
                    stage.fn(ctx)
                    seconds = time.perf_counter() - t0
                    known = set(written) | {
                        r
                        for name, other in manifest["stages"].items()
                        if name != stage.name
                        for r in other.get("files") or {}
                    }
                    files = {
                        k: {"sha256": v["sha256"], "bytes": v["bytes"]}
                        for k, v in {**_unrecorded(out, known), **written}.items()
                    }
                    io.atomic_write_json(
                        out / "stages" / f"{stage.name}.json",
                        {
                            "format": FORMAT,
                            "name": stage.name,
                            "title": stage.title,
                            "seconds": seconds,
                            "items": ctx.items,
                            "metrics": ctx.metrics,
                            "run": identity,
                            "files": files,
                        },
                    )
                except BaseException as exc:
                    interrupted = isinstance(exc, KeyboardInterrupt)
                    rec.update(
                        status="interrupted" if interrupted else "failed",
                        files={
                            k: {"sha256": v["sha256"], "bytes": v["bytes"]}
                            for k, v in written.items()
                        },
                    )
                    if not interrupted:
                        rec["error"] = f"{type(exc).__name__}: {exc}"[:2000]
                        rec["traceback"] = _traceback(exc)
                        with contextlib.suppress(Exception):
                            exc.repgeo_stage = stage.name  # type: ignore[attr-defined]
                    raise
                record_rel = f"stages/{stage.name}.json"
                files[record_rel] = {
                    "sha256": written[record_rel]["sha256"],
                    "bytes": written[record_rel]["bytes"],
                }
            for name, other in manifest["stages"].items():  # a file belongs to its last writer
                if name != stage.name and other.get("files"):
                    other["files"] = {k: v for k, v in other["files"].items() if k not in files}
            rec.update(
                status="complete", seconds=round(seconds, 3), finished_at=_now(), files=files
            )
            journal.unlink(missing_ok=True)
            if old_files is not None and _data_files(old_files) != _data_files(files):
                later = [
                    n
                    for n in stage_names[stage_names.index(stage.name) + 1 :]
                    if manifest["stages"].get(n, {}).get("status") == "complete"
                ]
                if later:
                    say(
                        f"check  stage {stage.name} wrote different data; redoing {', '.join(later)}"
                    )
                    for n in later:
                        redo[n] = dict(manifest["stages"][n].get("files") or {})
                        manifest["stages"][n]["status"] = "pending"
            io.atomic_write_json(manifest_path, manifest)
            io.atomic_write_json(out / _METRICS, _merged_metrics(out, manifest, stage_names))
            render()
            say(f"done   {stage.name} in {seconds:.1f} s")
    except BaseException as exc:
        manifest["status"] = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        try:
            io.atomic_write_json(manifest_path, manifest)
        except Exception as exc2:  # e.g. the disk is full: keep the original error
            say(f"could not record the failure in {MANIFEST}: {type(exc2).__name__}: {exc2}")
        raise
    manifest["status"] = "complete"
    manifest["finished_at"] = _now()
    manifest["seconds_this_invocation"] = round(time.perf_counter() - started, 3)
    io.atomic_write_json(manifest_path, manifest)
    io.atomic_write_json(out / _METRICS, _merged_metrics(out, manifest, stage_names))
    render()
    if "report_error" in manifest:
        raise ReportError(
            f"every stage of {out} completed and metrics.json is written, but report.html could "
            f"not be rendered: {manifest['report_error']['error']} (traceback in {MANIFEST}; "
            f"re-render with `repgeo report {out}`)."
        )
    return out / _REPORT
