"""Waits for Ray made on a Ray task's main thread for a plugin call running on another thread.

Ray lends a blocked task's CPU to the tasks it waits for only while the task's *main* thread
waits (ray-project/ray#57110); a plugin call runs on a thread of its own (its time limit,
:func:`privgate.isolation.call_plugin`). So an attack that sends nested tasks -- shadow fits,
per-secret jobs -- from a Ray worker would hold its CPU while they queue for one, and with
every CPU so held the cluster deadlocks. :func:`plugin_waiter` gives the task's main thread
the call's waits instead (:class:`_MainThreadWaits`); :func:`ray_get` is the ``ray.get`` the
executor's maps and shared values use, routed through it from a plugin's thread.
"""

from __future__ import annotations

import queue
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class _Request:
    """A wait for Ray that a plugin's thread hands to its task's main thread."""

    refs: Any
    done: threading.Event
    value: Any = None
    error: BaseException | None = None


class _MainThreadWaits:
    """Waits for Ray made on a Ray task's main thread for a plugin call running on another.

    Ray lends a blocked task's CPU to the tasks it waits for only while the task's *main*
    thread waits (ray-project/ray#57110); a plugin call runs on a thread of its own (its time
    limit, :func:`privgate.isolation.call_plugin`), so an attack that sends nested tasks --
    shadow fits, per-secret jobs -- from a worker would hold its CPU while they queue for one:
    with every CPU so held, the cluster deadlocks. So while the call runs, the main thread
    takes over its waits: the plugin's thread queues them here and sleeps until served.
    """

    def __init__(self) -> None:
        self.requests: queue.Queue[_Request] = queue.Queue()

    def get(self, refs: Any) -> Any:
        """``ray.get(refs)``, done by the main thread (from a plugin's thread)."""
        request = _Request(refs, threading.Event())
        self.requests.put(request)
        request.done.wait()
        if request.error is not None:
            raise request.error
        return request.value

    def serve(self, thread: threading.Thread, timeout_s: float) -> bool:
        """Wait (on the main thread) for ``thread`` to end, doing its waits for Ray, at most
        ``timeout_s`` seconds; ``False`` when the time is up (the thread is abandoned, as a
        timed-out call is: a wait it queued is never answered)."""
        import ray

        deadline = time.monotonic() + timeout_s
        while thread.is_alive():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            try:
                request = self.requests.get(timeout=min(left, 0.05))
            except queue.Empty:
                continue
            try:
                request.value = ray.get(request.refs, timeout=max(left, 0.001))
            except ray.exceptions.GetTimeoutError:
                return False
            except BaseException as exc:  # noqa: BLE001 -- raised in the plugin's thread
                request.error = exc
            request.done.set()
        return True


#: The waits of the plugin call now running in this Ray task (``None``: none).
_serving: _MainThreadWaits | None = None


def ray_get(refs: Any) -> Any:
    """``ray.get``, by the task's main thread when a plugin's thread asks in a Ray task."""
    import ray

    serving = _serving
    if serving is not None and threading.current_thread() is not threading.main_thread():
        return serving.get(refs)
    return ray.get(refs)


def plugin_waiter() -> Callable[[threading.Thread, float], bool] | None:
    """How a task's main thread waits for a plugin call on another thread
    (:func:`privgate.isolation.call_plugin`'s ``waiter``): in a Ray worker, doing the call's
    waits for Ray meanwhile (:class:`_MainThreadWaits`); ``None`` (a plain join) elsewhere."""
    ray = sys.modules.get("ray")
    if ray is None or not ray.is_initialized() or threading.current_thread() is not (
            threading.main_thread()):
        return None
    if ray.get_runtime_context().worker.mode != ray.WORKER_MODE:
        return None

    def serve(thread: threading.Thread, timeout_s: float) -> bool:
        global _serving
        _serving = waits = _MainThreadWaits()
        try:
            return waits.serve(thread, timeout_s)
        finally:
            _serving = None

    return serve


__all__ = ["plugin_waiter", "ray_get"]
