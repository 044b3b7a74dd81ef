"""An isolated plugin worker: ``python -m studio.plugins._worker FD CONFIG``.

Started by :mod:`studio.plugins.isolation` with one end of a socket pair as ``FD`` and its
settings as JSON. It sets up its guards first, while it is still single-threaded (nothing but
the standard library is imported before them), then serves requests over the typed channel
until the channel closes: ``params``, ``run`` (with ``cancel`` coming in meanwhile), ``unload``
and ``exit``.

With a PID namespace the process tree is ``worker (outside) -> init (PID 1, reaps) -> server``:
when the server ends, init ends, and the kernel kills whatever else is left in the namespace.
Without one, the worker is a subreaper, so a ``setsid`` grandchild stays its descendant, and it
kills them all after every job.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from typing import Any

_END = b"\x00studio-output-end\x00"  # written to stdout before an error, so the host has it all


def _status_code(status: int) -> int:
    """A wait status as an exit code: 128 + N for signal N (an exit above 128 becomes 128)."""
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return min(os.WEXITSTATUS(status), 128) if os.WIFEXITED(status) else 1


def _leave_like(code: int) -> None:
    """Exit as the process we waited for did (re-raise its signal: the host names it)."""
    if code > 128:
        sig = code - 128
        try:
            signal.signal(sig, signal.SIG_DFL)
        except (OSError, ValueError):  # SIGKILL has no handler to reset
            pass
        try:
            os.kill(os.getpid(), sig)
            time.sleep(1)
        except (OSError, ValueError):
            pass
    os._exit(code)


def _namespace_init(fd: int) -> None:
    """Fork into the new PID namespace. Returns only in the server; the outer worker and the
    namespace's init wait and leave as the server did."""
    from studio.plugins import guard

    init = os.fork()
    if init:
        os.close(fd)
        _, status = os.waitpid(init, 0)
        # init passes the server's end on as 128 + signal (as init it cannot die of one)
        _leave_like(os.WEXITSTATUS(status) if os.WIFEXITED(status) else _status_code(status))
    guard.set_parent_death_signal()  # the outer worker killed: init goes, and the namespace
    server = os.fork()
    if server == 0:
        guard.set_parent_death_signal()
        return
    os.close(fd)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(128 + signal.SIGTERM))
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            os._exit(0)
        except InterruptedError:
            continue
        if pid == server:
            os._exit(_status_code(status))


def main(argv: list[str]) -> None:
    fd = int(argv[1])
    config: dict[str, Any] = json.loads(argv[2])
    from studio.plugins import guard  # the standard library only: no thread has started

    threads = guard.thread_count()
    pid_ns = False
    if config.get("network"):
        network = "allowed by the manifest"
        if config.get("namespaces", True):
            pid_ns = guard.pid_namespace()
    else:
        refused = guard.network_guard(namespaces=config.get("namespaces", True))
        network, pid_ns = refused.describe(), refused.pid_namespace
    subreaper = guard.set_subreaper()
    if pid_ns:
        _namespace_init(fd)
    writable = config.get("writable")
    files = "allowed by the manifest"
    if writable is not None:
        os.environ["TMPDIR"] = writable[0]  # its scratch folder
        files = guard.file_guard(writable, landlock=config.get("landlock", True))
    memory = guard.limit_memory(config.get("memory_mb"))
    sys.path[:] = config.get("path", sys.path)
    import socket

    sock = socket.socket(fileno=fd)
    from studio.plugins import channel

    channel.send(sock, {
        "type": "hello", "network": network, "files": files, "memory": memory,
        "pid_namespace": pid_ns, "subreaper": subreaper, "threads_at_guard": threads,
        "net_ns": _readlink("/proc/self/ns/net"), "pid": os.getpid(),
    })  # fmt: skip
    _serve(sock, config, pid_ns)


def _readlink(path: str) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return ""


def _load(entry: str) -> Any:
    import importlib

    module_name, attr = entry.split(":", 1)
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def _end_descendants(pid_ns: bool) -> None:
    """Nothing a job started outlives it."""
    from studio.plugins import guard

    if pid_ns:
        # every process of the namespace but init and this one (pid 2 is the server in its
        # namespace; outside one it is the kernel's kthreadd, never us, so this can never
        # signal the user's other processes)
        if os.getpid() == 2:
            try:
                os.kill(-1, signal.SIGKILL)
            except ProcessLookupError:
                pass
    else:
        guard.kill_descendants(os.getpid())
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            if pid_ns:
                break  # orphans are init's to reap
            time.sleep(0.01)


def _serve(sock: Any, config: dict[str, Any], pid_ns: bool) -> None:
    import traceback

    from studio.core.jobs import Cancelled, JobContext
    from studio.plugins import channel, guard

    class ChannelContext(JobContext):
        """Reports go over the channel; a ``cancel`` message cancels."""

        def __init__(self) -> None:
            super().__init__(self._send_progress, self._send_partial, min_interval=0.05)

        def _send_progress(self, fraction: float, message: str) -> None:
            channel.send(sock, {"type": "progress", "fraction": fraction, "message": message})

        def _send_partial(self, value: Any) -> None:
            self._poll()
            channel.send(sock, {"type": "partial", "value": value})

        def progress(self, fraction: float, message: str = "") -> None:
            self._poll()
            super().progress(fraction, message)

        def check_cancelled(self) -> None:
            self._poll()
            super().check_cancelled()

        def sleep(self, seconds: float) -> None:
            deadline = time.monotonic() + seconds
            while (left := deadline - time.monotonic()) > 0:
                self.check_cancelled()
                if channel.readable(sock, min(left, 0.05)):
                    self._poll()
            self.check_cancelled()

        def _poll(self) -> None:
            while channel.readable(sock, 0):
                if channel.recv(sock).get("type") == "cancel":
                    self.cancel()

    generators: dict[str, Any] = {}
    devices: dict[str, str] = {}

    def generator(entry: str) -> Any:
        if entry not in generators:
            generators[entry] = _load(entry)()
        return generators[entry]

    while True:
        try:
            message = channel.recv(sock)
        except channel.Closed:
            break
        kind = message["type"]
        if kind == "exit":
            break
        if kind == "cancel":  # a cancel that came after the job ended
            continue
        try:
            if kind == "params":
                cls = _load(message["entry"])
                answer: Any = [p.as_dict() for p in cls.params]
            elif kind == "unload":
                for gen in generators.values():
                    gen.unload()
                generators.clear()
                devices.clear()
                answer = None
            elif kind == "run":
                guard.limit_cpu(config.get("cpu_seconds"))
                gen = generator(message["entry"])
                if devices.get(message["entry"]) != message["device"]:
                    gen.load(message["device"])
                    devices[message["entry"]] = message["device"]
                try:
                    answer = gen.run(message["request"], ChannelContext())
                finally:
                    _end_descendants(pid_ns)
            else:
                raise ValueError(f"unknown request {kind!r}")
            channel.send(sock, {"type": "result", "value": answer})
        except Cancelled:
            channel.send(sock, {"type": "cancelled"})
        except BaseException as exc:  # noqa: BLE001 - everything goes back to the host as text
            details = traceback.format_exc()
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except (OSError, ValueError):
                    pass
            try:
                os.write(1, _END)
            except OSError:
                pass
            try:
                channel.send(sock, {"type": "error", "error": type(exc).__name__,
                                    "message": str(exc), "details": details,
                                    "memory": isinstance(exc, MemoryError)})  # fmt: skip
            except (OSError, channel.ChannelError):
                break
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                break


if __name__ == "__main__":
    main(sys.argv)
