"""No route out for the threads and processes that run caller-supplied SPARQL (defence in depth).

pyoxigraph executes ``SERVICE <url>`` and ``LOAD <url>`` (it opens a TCP connection to any URL it is given) and
has no switch to turn either off. ``threadline.store.safety`` refuses both from a real parse before anything
runs; this module makes a future mismatch between that parser and pyoxigraph's harmless: the code that hands
caller text to pyoxigraph runs under a seccomp filter that makes ``socket(AF_INET|AF_INET6, …)``, ``connect``
and ``io_uring_setup`` fail with EPERM, so the engine cannot reach the network (nor resolve a name) however the
text was spelled.

seccomp filters belong to a thread (and the threads it starts later), and can never be lifted. So:

- a query worker process (``threadline.sparql.worker``) confines itself, with TSYNC, before its first query;
- in the server process, ``confined(fn, …)`` runs ``fn`` on a fresh thread that confines itself first and ends
  with the call (memory-store queries, SPARQL Update on embedded stores). Never confine a pooled thread: the
  event loop's pool also makes legitimate outbound calls (a remote store).

The filter is built with libseccomp (Debian's ``libseccomp.so.2``) through ``pyseccomp``, which is a thin ctypes
binding of the same API as libseccomp's own Python bindings (not published on PyPI). Where seccomp is missing
(another OS, a kernel or container without it) nothing is confined: ``status()`` says so, ``/metrics`` shows
it and a warning is logged once; the parse check still refuses SERVICE and LOAD.
"""

from __future__ import annotations

import errno
import logging
import queue
import socket
import threading
from collections.abc import Callable
from typing import Any, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")

_state: dict[str, str] = {}  # "status": "confined" | "unavailable: why"; set by the first attempt
_lock = threading.Lock()


def _build(tsync: bool) -> Any:
    import pyseccomp as sc

    rules = sc.SyscallFilter(sc.ALLOW)
    for family in (socket.AF_INET, socket.AF_INET6):
        rules.add_rule(sc.ERRNO(errno.EPERM), "socket", sc.Arg(0, sc.EQ, family))
    rules.add_rule(sc.ERRNO(errno.EPERM), "connect")  # also a socket inherited or opened before confinement
    rules.add_rule(sc.ERRNO(errno.EPERM), "io_uring_setup")  # io_uring opens sockets without socket(2)
    if tsync:
        rules.set_attr(sc.Attr.CTL_TSYNC, 1)
    return rules


def confine(*, whole_process: bool = False) -> bool:
    """Deny network sockets to this thread (and threads it starts), or to every thread of the process with
    ``whole_process``. Returns False, after logging why once, where seccomp is not available."""
    try:
        _build(whole_process).load()
    except Exception as exc:  # ImportError, OSError from ctypes/libseccomp, RuntimeError from the kernel
        _record(f"unavailable: {type(exc).__name__}: {exc}")
        return False
    _record("confined")
    return True


def _record(status: str) -> None:
    with _lock:
        first = "status" not in _state
        _state["status"] = status
    if first and status != "confined":
        log.warning(
            "seccomp sandbox %s: SPARQL engine threads can reach the network; only the parse check stops "
            "SERVICE and LOAD",
            status,
        )


def status() -> str:
    """``confined`` when the sandbox works here, else ``unavailable: reason`` (probed once, on a throwaway
    thread, if nothing was confined yet)."""
    if "status" not in _state:
        thread = threading.Thread(target=confine, name="sandbox-probe", daemon=True)
        thread.start()
        thread.join()
    return _state["status"]


def confined(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` on a fresh thread with no network, blocking until it returns or raises."""
    box: queue.Queue[tuple[bool, Any]] = queue.Queue(maxsize=1)

    def work() -> None:
        confine()
        try:
            box.put((True, fn(*args, **kwargs)))
        except BaseException as exc:  # handed to the caller's thread
            box.put((False, exc))

    thread = threading.Thread(target=work, name="sparql-confined", daemon=True)
    thread.start()
    ok, value = box.get()
    thread.join()
    if not ok:
        raise value
    return value
