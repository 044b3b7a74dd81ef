"""Process isolation: third-party plugins run in a worker process of their own.

A worker (:mod:`studio.plugins._worker`) is a fresh interpreter started with ``subprocess`` in a
session and process group of its own. Before it imports anything that could start a thread it
cuts itself off the network (its own network namespace, through a user namespace for a normal
user; else an audit hook refusing every socket but a Unix one), takes a PID namespace where the
OS allows (else it is a subreaper), refuses writes outside its folders (Landlock, else an audit
hook) and caps its address space (RLIMIT_AS) and CPU time (RLIMIT_CPU).

Studio and the worker speak over a socket pair through :mod:`studio.plugins.channel`: JSON for
control, raw buffers for arrays. Nothing the worker sends is unpickled.

The worker is kept warm between jobs (one per plugin), so a run costs a round trip, not an
interpreter start. A crash, a kill, a hang past the timeout or a cancel that is not honoured
ends the worker and everything it started; the next run starts a fresh one.

This contains an honest but buggy plugin (crashes, hangs, leaks, stray connections and writes).
It is not a sandbox against malicious native code: a plugin runs with the user's rights.
"""

from __future__ import annotations

import atexit
import collections
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from studio.core.jobs import Cancelled, JobContext
from studio.plugins import channel, guard
from studio.plugins.api import Generator, Param

__all__ = [
    "IsolatedGenerator",
    "IsolationError",
    "WorkerProcess",
    "describe_exit",
    "stop_all_workers",
    "DEFAULT_MEMORY_MB",
]

GRACE_SECONDS = 2.0  # how long a cancelled worker gets to stop before it is killed
START_SECONDS = 60.0  # how long a worker may take to start and report its guards
OUTPUT_KEEP = 16 * 1024  # the last bytes of a worker's own output kept for the error message
DEFAULT_MEMORY_MB = 4096  # address space of a worker whose manifest does not say
#: tests set this to "1" to see the fallbacks a machine without namespaces or Landlock gets
FALLBACK_ENV = "STUDIO_ISOLATION_FALLBACK"
_END = b"\x00studio-output-end\x00"


class IsolationError(RuntimeError):
    """The worker process died, hung or broke the protocol (the message says which)."""


def describe_exit(code: int | None) -> str:
    """An exit code as the artist would want to read it."""
    if code is None:
        return "did not exit"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        why = {
            "SIGSEGV": "crashed (segmentation fault)",
            "SIGABRT": "aborted",
            "SIGKILL": "was killed (out of memory?)",
            "SIGBUS": "crashed (bus error)",
            "SIGFPE": "crashed (arithmetic error)",
            "SIGILL": "crashed (illegal instruction)",
            "SIGTERM": "was terminated",
            "SIGXCPU": "used up its CPU-time limit and was stopped",
        }.get(name, f"died ({name})")
        return why
    return f"exited with status {code}"


class _Output:
    """The worker's stdout and stderr, drained by a thread here that keeps only the last
    :data:`OUTPUT_KEEP` bytes: a plugin that prints gigabytes costs time, not memory."""

    def __init__(self, stream: Any) -> None:
        self._tail: collections.deque[bytes] = collections.deque()
        self._size = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._drain, args=(stream,), daemon=True,
                                        name="plugin-output")  # fmt: skip
        self._thread.start()

    def _drain(self, stream: Any) -> None:
        fd = stream.fileno()
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            with self._lock:
                self._tail.append(chunk)
                self._size += len(chunk)
                while self._size - len(self._tail[0]) >= OUTPUT_KEEP:
                    self._size -= len(self._tail.popleft())
        stream.close()

    def text(self) -> bytes:
        with self._lock:
            return b"".join(self._tail)

    def clear(self) -> None:
        with self._lock:
            self._tail.clear()
            self._size = 0

    def last(self, wait: float = 1.0) -> str:
        """What the worker printed before its error: waits (up to ``wait``) for the end marker
        it writes, since this thread may lag behind."""
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and _END not in self.text():
            if not self._thread.is_alive():
                break
            time.sleep(0.01)
        text = self.text()
        before = text.split(_END)[0] if _END in text else text
        return before.decode(errors="replace")[-OUTPUT_KEEP:]


class WorkerProcess:
    """One worker process, started with its guards and kept for as many requests as it lives.

    ``config`` goes to the worker: ``network`` (allowed?), ``writable`` (folders, or None for
    anywhere), ``memory_mb``, ``cpu_seconds``, ``namespaces``/``landlock`` (False to force the
    fallbacks), ``path`` (sys.path). ``hello`` is what it reported about its guards.
    """

    def __init__(self, config: dict[str, Any], env: dict[str, str] | None = None,
                 start_timeout: float = START_SECONDS) -> None:  # fmt: skip
        import json

        import studio

        self.config = dict(config)
        self.config.setdefault("path", list(sys.path))
        here, there = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        environment = dict(os.environ if env is None else env)
        root = str(Path(studio.__file__).resolve().parents[1])
        environment["PYTHONPATH"] = os.pathsep.join(
            [root] + [p for p in environment.get("PYTHONPATH", "").split(os.pathsep) if p]
        )
        environment.setdefault("PYTHONDONTWRITEBYTECODE", "1")
        self.started = time.monotonic()
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "studio.plugins._worker", str(there.fileno()),
                 json.dumps(self.config)],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                pass_fds=(there.fileno(),), start_new_session=True, env=environment,
                close_fds=True,
            )  # fmt: skip
        finally:
            there.close()
        self.sock = here
        self.output = _Output(self.process.stdout)
        self.lock = threading.Lock()  # one request at a time
        self.jobs = 0
        self.plugin_key = ""  # which plugin it serves
        try:
            self.hello = self._receive(time.monotonic() + start_timeout, what="start")
        except BaseException:
            self.kill()
            raise
        if self.hello.get("type") != "hello":
            self.kill()
            raise IsolationError(f"the worker answered {self.hello.get('type')!r} at start")
        self.start_seconds = time.monotonic() - self.started

    # -- life --------------------------------------------------------------------------------------
    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    @property
    def pid(self) -> int:
        return self.process.pid

    def kill(self) -> None:
        """End the worker and everything below it, now."""
        pid = self.process.pid
        if self.process.poll() is None:
            try:
                os.kill(pid, signal.SIGSTOP)  # it forks no more while we look below it
            except ProcessLookupError:
                pass
        guard.kill_descendants(pid)
        try:
            os.killpg(pid, signal.SIGKILL)  # its process group, for good measure
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.process.kill()
        except ProcessLookupError:
            pass
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            pass
        try:
            self.sock.close()
        except OSError:
            pass

    def stop(self, wait: float = 1.0) -> None:
        """Ask the worker to leave; kill it if it does not within ``wait`` seconds."""
        if self.alive:
            try:
                channel.send(self.sock, {"type": "exit"})
                self.process.wait(wait)
            except (OSError, channel.ChannelError, subprocess.TimeoutExpired):
                pass
        self.kill()

    # -- requests ----------------------------------------------------------------------------------
    def _died(self) -> IsolationError:
        try:
            code = self.process.wait(5)
        except subprocess.TimeoutExpired:
            code = None
        self.kill()
        printed = self.output.last(wait=0.2)
        tail = f"\nits last output:\n{printed[-2000:]}" if printed.strip() else ""
        return IsolationError(describe_exit(code) + tail)

    def _receive(self, deadline: float, what: str = "run") -> dict[str, Any]:
        try:
            return channel.recv(self.sock, deadline)
        except channel.Closed:
            raise self._died() from None
        except TimeoutError:
            self.kill()
            raise IsolationError(f"did not {what} in time and was stopped (a hang?)") from None
        except (channel.ChannelError, OSError) as exc:
            self.kill()
            raise IsolationError(f"broke the protocol ({exc}) and was stopped") from None

    def call(self, message: dict[str, Any], ctx: JobContext, timeout: float) -> Any:
        """Send a request and wait for its answer, passing progress and partial results to
        ``ctx`` and a cancel from it to the worker. Raises Cancelled, or IsolationError saying
        what went wrong (the worker is then gone)."""
        with self.lock:
            if not self.alive:
                raise self._died()
            self.output.clear()
            self.jobs += 1
            deadline = time.monotonic() + timeout
            cancel_sent: float | None = None
            try:
                channel.send(self.sock, message)
            except (OSError, channel.ChannelError) as exc:
                if isinstance(exc, channel.ChannelError):
                    raise ValueError(f"the request cannot be sent to the plugin: {exc}") from None
                raise self._died() from None
            while True:
                now = time.monotonic()
                if ctx.cancelled and cancel_sent is None:
                    cancel_sent = now
                    try:
                        channel.send(self.sock, {"type": "cancel"})
                    except OSError:
                        pass
                if cancel_sent is not None and now - cancel_sent > GRACE_SECONDS:
                    self.kill()  # it did not honour the cancel: it goes, and a fresh one comes
                    raise Cancelled()
                if now > deadline:
                    self.kill()
                    raise IsolationError(
                        f"did not finish within {timeout:g} s and was stopped (a hang?)"
                    )
                if not channel.readable(self.sock, 0.05):
                    continue
                answer = self._receive(deadline)
                kind = answer["type"]
                if kind == "progress":
                    ctx.progress(float(answer.get("fraction", 0.0)), str(answer.get("message", "")))
                elif kind == "partial":
                    ctx.partial(answer.get("value"))
                elif kind == "result":
                    if ctx.cancelled:  # cancelled while the answer was on its way: cancel wins
                        raise Cancelled()
                    return answer.get("value")
                elif kind == "cancelled":
                    raise Cancelled()
                elif kind == "error":
                    if answer.get("error") == "ValueError":  # the plugin refusing this input
                        raise ValueError(str(answer.get("message", "")))
                    raise IsolationError(self._error_text(answer))
                else:
                    self.kill()
                    raise IsolationError(f"sent a message of unknown type {kind!r}")

    def _error_text(self, answer: dict[str, Any]) -> str:
        name, text = str(answer.get("error", "Error")), str(answer.get("message", ""))
        first = f"{name}: {text}" if text else name
        if answer.get("memory") is True:  # MemoryError or a subclass (numpy's)
            first = (f"ran out of memory: it may use {self.config.get('memory_mb')} MiB "
                     "(raise 'memory_mb' in its manifest if it needs more)")  # fmt: skip
        printed = self.output.last()
        details = str(answer.get("details", ""))
        return f"{first}\n{details}" + (f"\nits last output:\n{printed}" if printed else "")


_WORKERS: dict[str, WorkerProcess] = {}
_WORKERS_LOCK = threading.Lock()


def _stop_at_exit() -> None:
    try:
        stop_all_workers()
    except Exception:  # noqa: BLE001 - never stop an exit
        pass


atexit.register(_stop_at_exit)


def stop_all_workers() -> int:
    """Stop every warm worker (on quit, or to free memory). Returns how many were stopped."""
    with _WORKERS_LOCK:
        workers = list(_WORKERS.values())
        _WORKERS.clear()
    for worker in workers:
        worker.stop()
        import shutil

        shutil.rmtree(getattr(worker, "scratch", ""), ignore_errors=True)
    return len(workers)


def _cached_params(cache: Path | None, key: str) -> list[dict[str, Any]] | None:
    """The parameter specs a worker reported for ``key`` before, or None."""
    import json

    if cache is None or not key:
        return None
    try:
        specs = json.loads(cache.read_text(encoding="utf-8")).get(key)
    except (OSError, ValueError, AttributeError):
        return None
    return specs if isinstance(specs, list) else None


def _cache_params(cache: Path | None, key: str, specs: Any) -> None:
    """Remember a plugin's parameter specs, so the next session shows its controls without
    starting a worker (the key changes when its files do)."""
    import json

    if cache is None or not key:
        return
    try:
        known = json.loads(cache.read_text(encoding="utf-8")) if cache.exists() else {}
        if not isinstance(known, dict):
            known = {}
        prefix = key.split("|", 1)[0] + "|"
        known = {k: v for k, v in known.items() if not k.startswith(prefix)}  # older versions
        known[key] = specs
        cache.parent.mkdir(parents=True, exist_ok=True)
        from studio.core.atomic import write_text

        write_text(cache, json.dumps(known))
    except (OSError, ValueError):
        pass  # a cache that cannot be written costs a worker start next time, nothing more


def params_key(entry: str, version: str, folder: Path) -> str:
    """What a plugin's parameters depend on: its entry, version and the files of its package
    (their sizes and modification times; nothing is imported)."""
    import hashlib

    digest = hashlib.sha256(f"{entry}|{version}".encode())
    try:
        for path in sorted(folder.rglob("*")):
            if path.suffix in (".py", ".toml", ".json", ".so", ".pyd") and path.is_file():
                stat = path.stat()
                digest.update(f"{path.relative_to(folder)}|{stat.st_size}|{stat.st_mtime_ns}"
                              .encode())  # fmt: skip
    except OSError:
        return ""
    return f"{entry}|{digest.hexdigest()[:32]}"


class IsolatedGenerator(Generator):
    """Stands in for a plugin's generator in the host: the same ``params`` (so the inherited
    ``resolve`` checks requests here), while every run happens in the plugin's warm worker."""

    def __init__(self, entry: str, kind: str, timeout: float = 300.0, network: bool = False,
                 file_access: bool = False, folder: str | None = None,
                 devices: tuple[str, ...] = ("cpu",), memory_mb: int | None = None,
                 cpu_seconds: float | None = None, key: str | None = None,
                 params_cache: Path | None = None, params_key: str = ""):  # fmt: skip
        super().__init__()
        self.entry, self.kind = entry, kind
        self.timeout, self.network = float(timeout), network
        self.file_access = file_access
        self.folder = folder  # its own data folder, where it may always write
        self.devices = tuple(devices)  # what its manifest asks for; no GPU is visible otherwise
        if memory_mb is None:
            # CUDA reserves far more address space than it uses: RLIMIT_AS would break it
            memory_mb = 0 if "cuda" in self.devices else DEFAULT_MEMORY_MB
        self.memory_mb = memory_mb
        self.cpu_seconds = cpu_seconds or self.timeout * (os.cpu_count() or 1)
        self.key = key or entry  # plugins share a worker per key (one per plugin)
        self.file_guard = ""
        self.network_guard = ""
        self.worker_info: dict[str, Any] = {}
        self.cold_starts = 0
        specs = _cached_params(params_cache, params_key)
        if specs is None:
            specs = self._worker().call({"type": "params", "entry": entry}, JobContext(),
                                        timeout=min(60.0, self.timeout))  # fmt: skip
            _cache_params(params_cache, params_key, specs)
        self.params = tuple(Param(**{k: v for k, v in spec.items() if k != "label"},
                                  label=spec.get("label", "")) for spec in specs)  # fmt: skip
        self.title = entry

    def _config(self, scratch: str) -> dict[str, Any]:
        fallback = os.environ.get(FALLBACK_ENV) == "1"
        writable = None
        if not self.file_access:  # writes only to its scratch folder, its own folder and /dev
            writable = [scratch, "/dev"] + ([self.folder] if self.folder else [])
            if self.folder:
                os.makedirs(self.folder, exist_ok=True)
        return {"network": self.network, "writable": writable, "memory_mb": self.memory_mb,
                "cpu_seconds": self.cpu_seconds, "namespaces": not fallback,
                "landlock": not fallback}  # fmt: skip

    def _worker_key(self) -> str:
        """Workers are shared by generators of one plugin with the same settings and path."""
        import json

        return json.dumps([self.key, self.network, self.file_access, self.folder,
                           self.memory_mb, self.cpu_seconds, self.devices,
                           os.environ.get(FALLBACK_ENV), sys.path])  # fmt: skip

    def _worker(self) -> WorkerProcess:
        import shutil
        import tempfile

        key = self._worker_key()
        with _WORKERS_LOCK:
            worker = _WORKERS.get(key)
            if worker is not None and worker.alive:
                return self._note(worker)
            # a dead worker, and this plugin's workers for other settings or paths, go
            stale = [k for k, w in _WORKERS.items() if k == key or w.plugin_key == self.key]
            for old in [_WORKERS.pop(k) for k in stale]:
                old.kill()
                shutil.rmtree(getattr(old, "scratch", ""), ignore_errors=True)
            scratch = tempfile.mkdtemp(prefix="studio-plugin-")
            env = dict(os.environ)
            if "cuda" not in self.devices:  # no GPU unless its manifest asks for one
                env["CUDA_VISIBLE_DEVICES"] = ""
            env["TMPDIR"] = scratch
            if self.memory_mb:  # glibc reserves 64 MiB of address space per thread's arena
                env.setdefault("MALLOC_ARENA_MAX", "2")
            try:
                worker = WorkerProcess(self._config(scratch), env=env)
            except BaseException:
                shutil.rmtree(scratch, ignore_errors=True)
                raise
            worker.scratch = scratch  # type: ignore[attr-defined]
            worker.plugin_key = self.key
            self.cold_starts += 1
            _WORKERS[key] = worker
        return self._note(worker)

    def _note(self, worker: WorkerProcess) -> WorkerProcess:
        """Keep what the worker said about its guards (the Plugins dialog shows it)."""
        hello = worker.hello
        self.network_guard = str(hello.get("network", ""))
        self.file_guard = str(hello.get("files", ""))
        self.worker_info = dict(hello)
        return worker

    def load(self, device: str) -> None:
        # a device its manifest does not ask for is not offered: it runs on the CPU
        self.device = device if device in self.devices else "cpu"
        self.loaded = True

    def unload(self) -> None:
        """Stop the plugin's worker: all its memory goes back. The next run starts a new one."""
        import shutil

        with _WORKERS_LOCK:
            worker = _WORKERS.pop(self._worker_key(), None)
        if worker is not None:
            worker.stop()
            shutil.rmtree(getattr(worker, "scratch", ""), ignore_errors=True)
        self.loaded = False

    @property
    def busy(self) -> bool:
        worker = _WORKERS.get(self._worker_key())
        return worker is not None and worker.lock.locked()

    def run(self, request: dict[str, Any], ctx: JobContext) -> Any:
        message = {"type": "run", "entry": self.entry, "device": self.device, "request": request}
        return self._worker().call(message, ctx, self.timeout)
