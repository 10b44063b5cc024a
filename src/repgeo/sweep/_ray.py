"""The one place that talks to Ray: import it (lazily, with a clear error), check an address
before connecting, start or join a cluster, and end what this process started."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import socket
from collections.abc import Iterator
from typing import Any

__all__ = ["check_address", "connect", "require_ray"]

INSTALL = 'pip install "repgeo[sweep]"  (or: pip install "ray[client]>=2.9")'
_HOSTPORT = re.compile(r"^(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.\-]+):(?P<port>\d{1,5})$")
# a local Ray reserves 30 % of the memory for its object store by default; a sweep moves only
# metrics through it
_LOCAL_OBJECT_STORE = 256 * 2**20
# Ray lowers its workers' priority (nice 15) to keep the driver responsive; a sweep's workers
# do the work, at the priority `repgeo run` would have
_LOCAL_SYSTEM_CONFIG = {"worker_niceness": 0}


def require_ray() -> Any:
    """``import ray``, or an ImportError that says how to install it."""
    try:
        import ray
    except ImportError as exc:
        raise ImportError(
            f"repgeo sweeps run their cells as Ray tasks, and Ray is not installed ({exc}). "
            f"Install it with: {INSTALL}"
        ) from None
    return ray


def check_address(address: str | None, *, timeout: float = 5.0) -> str | None:
    """Check ``address`` before anything starts: None (start a local Ray), ``"auto"`` (the
    cluster this machine belongs to, found by Ray), ``"ray://host:port"`` (Ray Client) or
    ``"host:port"`` (a cluster's head node). A host:port must accept a TCP connection within
    ``timeout`` seconds (:class:`ConnectionError` otherwise, saying what to do).

    Examples
    --------
    >>> from repgeo.sweep._ray import check_address
    >>> check_address(None), check_address("auto")
    (None, 'auto')
    >>> check_address("ray://nowhere")
    Traceback (most recent call last):
    ...
    ValueError: --address must be 'auto', 'ray://HOST:PORT' or 'HOST:PORT'; got 'ray://nowhere'.
    """
    if address is None or address == "auto":
        return address
    if not isinstance(address, str):
        raise TypeError(f"--address must be a string; got {type(address).__name__}.")
    rest = address.removeprefix("ray://")
    m = _HOSTPORT.match(rest)
    if not m or not 0 < int(m.group("port")) < 65536:
        raise ValueError(
            f"--address must be 'auto', 'ray://HOST:PORT' or 'HOST:PORT'; got {address!r}."
        )
    host, port = m.group("host").strip("[]"), int(m.group("port"))
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
        raise ConnectionError(
            f"cannot reach Ray at {address} ({why}); no cell was started. Start the cluster's "
            "head with `ray start --head` and pass its address (or 'auto' on a node of the "
            "cluster), or leave out --address to run on a local Ray."
        ) from None
    return address


@contextlib.contextmanager
def connect(address: str | None, *, num_cpus: int | None = None) -> Iterator[dict[str, Any]]:
    """Join the cluster at ``address``, or start a local Ray sized to this machine (``num_cpus``
    CPUs, default all); a Ray already initialised in this process is used as it is. Yields a
    description (``address``, ``started``, ``resources``); shuts down only what it started."""
    ray = require_ray()
    if ray.is_initialized():
        if address is not None:
            raise RuntimeError(
                "Ray is already initialised in this process; the sweep uses that session, so "
                f"leave out --address (got {address!r}) or call ray.shutdown() first."
            )
        yield {"address": "this process's Ray session", "started": False,
               "resources": dict(ray.cluster_resources())}  # fmt: skip
        return
    common = {"log_to_driver": False, "logging_level": logging.WARNING}
    try:
        if address is None:
            ray.init(
                num_cpus=int(num_cpus or os.cpu_count() or 1),
                include_dashboard=False,
                object_store_memory=_LOCAL_OBJECT_STORE,
                _system_config=_LOCAL_SYSTEM_CONFIG,
                **common,
            )
        else:
            ray.init(address=address, **common)
    except (ConnectionError, RuntimeError, TimeoutError, ValueError) as exc:
        with contextlib.suppress(Exception):
            ray.shutdown()
        where = "start a local Ray" if address is None else f"connect to Ray at {address}"
        raise ConnectionError(f"could not {where}: {exc}; no cell was started.") from None
    try:
        yield {
            "address": "local" if address is None else address,
            "started": True,
            "resources": dict(ray.cluster_resources()),
        }
    finally:
        with contextlib.suppress(Exception):
            ray.shutdown()
