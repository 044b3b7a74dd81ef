"""Process isolation for plugins whose manifest asks for it (``isolation = "process"``).

The generator runs in a spawned worker process that speaks the JobContext protocol over a pipe:
progress, partial results and the result come back, cancel goes there. A crash (a segfault, an
abort), an out-of-memory kill or a hang past the timeout ends the job with a message saying which;
the app stays up. Network access is refused in the worker unless the manifest asks for it: in a
network namespace of its own where the OS allows (``unshare``), else by refusing socket
connections; the worker says which applied.

This contains an honest but buggy plugin (crashes, hangs, leaks, stray connections). It is not a
sandbox against malicious code: a plugin runs with the user's rights.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time
import traceback
from typing import Any

from studio.core.jobs import Cancelled, JobContext
from studio.plugins.api import Generator, Param

__all__ = ["IsolatedGenerator", "IsolationError", "describe_exit", "network_guard"]

_CLONE_NEWNET = 0x40000000
_CLONE_NEWUSER = 0x10000000
GRACE_SECONDS = 2.0  # how long a cancelled worker gets to stop before it is terminated


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
            "SIGTERM": "was terminated",
        }.get(name, f"died ({name})")
        return why
    return f"exited with status {code}"


def network_guard() -> str:
    """Cut this process off the network: its own network namespace when the OS allows it
    (``unshare``), else a refusal in Python's socket layer. Returns which applied."""
    import ctypes
    import ctypes.util

    libc_name = ctypes.util.find_library("c")
    if libc_name and hasattr(os, "getuid"):
        libc = ctypes.CDLL(libc_name, use_errno=True)
        flags = _CLONE_NEWNET if os.getuid() == 0 else (_CLONE_NEWUSER | _CLONE_NEWNET)
        if libc.unshare(flags) == 0:
            return "network namespace"
    import socket

    def refuse(self, address, *args, **kwargs):
        if self.family == getattr(socket, "AF_UNIX", None):
            return _connect(self, address, *args, **kwargs)
        raise PermissionError(f"this plugin may not use the network (asked for {address!r})")

    _connect = socket.socket.connect
    socket.socket.connect = refuse  # type: ignore[method-assign]
    socket.socket.connect_ex = refuse  # type: ignore[method-assign, assignment]
    return "socket refusal"


# Landlock (Linux 5.13+): the write rights a ruleset takes away outside the allowed folders
_LL_WRITE = (
    (1 << 1)
    | (1 << 4)
    | (1 << 5)
    | (1 << 6)
    | (1 << 7)
    | (1 << 8)
    | (1 << 9)
    | (1 << 10)
    | (1 << 11)
    | (1 << 12)
)
_LL_REFER, _LL_TRUNCATE = 1 << 13, 1 << 14
_SYS_CREATE, _SYS_ADD, _SYS_RESTRICT = 444, 445, 446  # the same numbers on every architecture


def _landlock(allowed: list[str]) -> bool:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    abi = libc.syscall(_SYS_CREATE, None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    if abi < 1:
        return False
    handled = _LL_WRITE | (_LL_REFER if abi >= 2 else 0) | (_LL_TRUNCATE if abi >= 3 else 0)

    class RulesetAttr(ctypes.Structure):
        _fields_ = [("handled_access_fs", ctypes.c_uint64)]

    class PathBeneath(ctypes.Structure):
        _pack_ = 1
        _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]

    attr = RulesetAttr(handled)
    ruleset = libc.syscall(_SYS_CREATE, ctypes.byref(attr), ctypes.c_size_t(ctypes.sizeof(attr)),
                           ctypes.c_uint32(0))  # fmt: skip
    if ruleset < 0:
        return False
    try:
        for folder in allowed:
            if not os.path.isdir(folder):
                continue
            fd = os.open(folder, os.O_PATH | os.O_CLOEXEC)
            try:
                rule = PathBeneath(handled, fd)
                if libc.syscall(_SYS_ADD, ruleset, 1, ctypes.byref(rule), 0) != 0:
                    return False
            finally:
                os.close(fd)
        if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
            return False
        return libc.syscall(_SYS_RESTRICT, ruleset, ctypes.c_uint32(0)) == 0
    finally:
        os.close(ruleset)


def file_guard(allowed: list[str]) -> str:
    """Refuse writes outside ``allowed`` folders for the rest of this process: the kernel's
    Landlock where it is there, else a Python audit hook (which sees Python's own opens, not a C
    library's). Returns which applied."""
    allowed = [os.path.realpath(a) for a in allowed]
    try:
        if _landlock(allowed):
            return "landlock"
    except (OSError, AttributeError):
        pass
    import sys

    def hook(event: str, args: tuple) -> None:
        if event != "open" or not args or not isinstance(args[0], (str, bytes)):
            return
        mode = args[1] if len(args) > 1 and isinstance(args[1], str) else ""
        flags = args[2] if len(args) > 2 and isinstance(args[2], int) else 0
        writing = any(c in mode for c in "wax+") or flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT)
        if not writing:
            return
        path = os.path.realpath(os.fsdecode(args[0]))
        if not any(path == a or path.startswith(a + os.sep) for a in allowed):
            raise PermissionError(f"this plugin may not write outside its folders ({path})")

    sys.addaudithook(hook)
    return "python audit hook"


class _PipeContext(JobContext):
    """The worker's JobContext: reports go over the pipe; a "cancel" message cancels."""

    def __init__(self, conn: Any) -> None:
        super().__init__(min_interval=0.05)
        self._conn = conn

    def progress(self, fraction: float, message: str = "") -> None:
        self._poll()
        self._conn.send(("progress", float(fraction), str(message)))

    def partial(self, value: Any) -> None:
        self._poll()
        self._conn.send(("partial", value))

    def check_cancelled(self) -> None:
        self._poll()
        super().check_cancelled()

    def _poll(self) -> None:
        while self._conn.poll():
            if self._conn.recv() == "cancel":
                self.cancel()


def _load(entry: str) -> Any:
    import importlib

    module_name, attr = entry.split(":", 1)
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


OUTPUT_KEEP = 16 * 1024  # the last bytes of a worker's own output kept for the error message


def _capture_output() -> Any:
    """Send the worker's stdout and stderr (file descriptors 1 and 2, so C libraries too) to a
    thread that keeps only the last :data:`OUTPUT_KEEP` bytes: a plugin that prints gigabytes
    costs time, not memory or disk."""
    import collections
    import threading

    read_end, write_end = os.pipe()
    os.dup2(write_end, 1)
    os.dup2(write_end, 2)
    os.close(write_end)
    tail: collections.deque[bytes] = collections.deque()
    size = [0]

    def drain() -> None:
        while chunk := os.read(read_end, 65536):
            tail.append(chunk)
            size[0] += len(chunk)
            while size[0] - len(tail[0]) >= OUTPUT_KEEP:
                size[0] -= len(tail.popleft())

    threading.Thread(target=drain, daemon=True).start()
    return tail


_END = b"\x00studio-output-end\x00"


def _last_output(tail: Any, wait: float = 1.0) -> str:
    """What the worker printed last: Python's buffers flushed, then everything up to an end
    marker drained (the drain thread may lag behind)."""
    import sys

    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    try:
        os.write(1, _END)
    except OSError:
        return ""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and not b"".join(tail).endswith(_END):
        time.sleep(0.01)
    return b"".join(tail).replace(_END, b"").decode(errors="replace")[-OUTPUT_KEEP:]


def _worker(conn: Any, entry: str, action: str, payload: Any, network: bool,
            writable: list[str] | None, devices: tuple[str, ...] = ("cpu",)) -> None:  # fmt: skip
    """The worker process: import the generator, do ``action``, send the answer."""
    os.setpgrp()  # its own process group: whatever it forks is stopped with it
    if "cuda" not in devices:  # no GPU unless its manifest asks for one (set before any import)
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
    output = _capture_output()
    try:
        guard = "allowed by the manifest" if network else network_guard()
        conn.send(("network", guard))
        if writable is not None:
            os.environ["TMPDIR"] = writable[0]  # its scratch folder
            conn.send(("files", file_guard(writable)))
        cls = _load(entry)
        generator = cls()
        if action == "params":
            conn.send(("result", [p.as_dict() for p in generator.params]))
            return
        device, request = payload
        generator.load(device)
        ctx = _PipeContext(conn)
        result = generator.run(request, ctx)
        conn.send(("result", result))
    except Cancelled:
        conn.send(("cancelled",))
    except BaseException as exc:  # noqa: BLE001 - everything goes back to the host as text
        try:
            printed = _last_output(output)
            details = traceback.format_exc() + (f"\nits last output:\n{printed}" if printed else "")
            conn.send(("error", f"{type(exc).__name__}: {exc}", details))
        except Exception:  # noqa: BLE001 - an unpicklable error still ends the worker
            pass
    finally:
        conn.close()


class IsolatedGenerator(Generator):
    """Stands in for a plugin's generator in the host: the same ``params`` (so the inherited
    ``resolve`` checks requests here), but every run happens in a fresh worker process."""

    def __init__(self, entry: str, kind: str, timeout: float = 300.0, network: bool = False,
                 file_access: bool = False, folder: str | None = None,
                 devices: tuple[str, ...] = ("cpu",)):  # fmt: skip
        super().__init__()
        self.entry, self.kind = entry, kind
        self.timeout, self.network = float(timeout), network
        self.file_access = file_access
        self.folder = folder  # its own data folder, where it may always write
        self.devices = tuple(devices)  # what its manifest asks for; no GPU is visible otherwise
        self.file_guard = ""
        self.network_guard = ""
        specs = self._call("params", None, JobContext(), timeout=min(60.0, self.timeout))
        self.params = tuple(Param(**{k: v for k, v in spec.items() if k != "label"},
                                  label=spec.get("label", "")) for spec in specs)  # fmt: skip
        self.title = entry

    def load(self, device: str) -> None:
        # a device its manifest does not ask for is not offered: it runs on the CPU
        self.device = device if device in self.devices else "cpu"
        self.loaded = True

    def run(self, request: dict[str, Any], ctx: JobContext) -> Any:
        return self._call("run", (self.device, request), ctx, self.timeout)

    def _call(self, action: str, payload: Any, ctx: JobContext, timeout: float) -> Any:
        import shutil
        import tempfile

        spawn = mp.get_context("spawn")  # a clean interpreter: no Qt, no threads inherited
        parent, child = spawn.Pipe()
        scratch = tempfile.mkdtemp(prefix="studio-plugin-")
        writable = None
        if not self.file_access:  # writes only to its scratch folder, its own folder and /dev
            writable = [scratch, "/dev"] + ([self.folder] if self.folder else [])
            if self.folder:
                os.makedirs(self.folder, exist_ok=True)
        process = spawn.Process(
            target=_worker,
            args=(child, self.entry, action, payload, self.network, writable, self.devices),
            daemon=True,
        )
        process.start()
        child.close()
        deadline = time.monotonic() + timeout
        cancel_sent: float | None = None
        try:
            while True:
                if ctx.cancelled and cancel_sent is None:
                    cancel_sent = time.monotonic()
                    try:
                        parent.send("cancel")
                    except (BrokenPipeError, OSError):
                        pass
                if cancel_sent is not None and time.monotonic() - cancel_sent > GRACE_SECONDS:
                    raise Cancelled()
                if time.monotonic() > deadline:
                    raise IsolationError(
                        f"did not finish within {timeout:g} s and was stopped (a hang?)"
                    )
                if parent.poll(0.05):
                    try:
                        message = parent.recv()
                    except (EOFError, OSError):
                        process.join(5)
                        raise IsolationError(describe_exit(process.exitcode)) from None
                    kind = message[0]
                    if kind == "progress":
                        ctx.progress(message[1], message[2])
                    elif kind == "partial":
                        ctx.partial(message[1])
                    elif kind == "network":
                        self.network_guard = message[1]
                    elif kind == "files":
                        self.file_guard = message[1]
                    elif kind == "result":
                        return message[1]
                    elif kind == "cancelled":
                        raise Cancelled()
                    elif kind == "error":
                        raise IsolationError(f"{message[1]}\n{message[2]}")
                elif not process.is_alive():
                    process.join(1)
                    if not parent.poll():
                        raise IsolationError(describe_exit(process.exitcode))
        finally:
            parent.close()
            if process.is_alive():
                process.terminate()
                process.join(GRACE_SECONDS)
                if process.is_alive():
                    process.kill()
                    process.join(1)
            _kill_group(process.pid)  # anything the plugin forked goes with it
            shutil.rmtree(scratch, ignore_errors=True)


def _kill_group(pid: int | None) -> None:
    if pid is None or not hasattr(os, "killpg"):
        return
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
