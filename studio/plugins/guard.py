"""The guards an isolated plugin worker sets up on itself before it imports anything else.

Only the standard library is imported here, and nothing that starts a thread: the kernel refuses
``unshare(CLONE_NEWUSER)`` to a process that already has a second thread (numpy's BLAS pool
starts some on import), so these run first in the worker.

- :func:`network_guard`: a network namespace of its own (with a user namespace for a normal
  user), so TCP, UDP and DNS have nowhere to go; where the OS refuses namespaces, an audit hook
  that refuses to create any socket but a Unix one and to resolve names.
- :func:`file_guard`: Landlock refuses writes outside the allowed folders; where the kernel lacks
  it, an audit hook refuses Python's opens for writing, removes, renames, rmtree and the like.
- :func:`limit_memory`, :func:`limit_cpu`: RLIMIT_AS and RLIMIT_CPU.
- :func:`kill_descendants`: ends every process below a pid (a subreaper keeps orphans there).

This contains an honest but buggy plugin. It is not a sandbox against malicious native code.
"""

from __future__ import annotations

import os
import signal
import sys

__all__ = [
    "NetworkGuard",
    "network_guard",
    "file_guard",
    "limit_memory",
    "limit_cpu",
    "pid_namespace",
    "set_subreaper",
    "set_parent_death_signal",
    "descendants",
    "kill_descendants",
    "thread_count",
    "expected_guards",
    "landlock_abi",
]

CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38

NAMESPACE = "network namespace"
SOCKET_REFUSAL = "socket refusal (Python audit hook)"


def _libc():
    import ctypes

    return ctypes.CDLL(None, use_errno=True)


def thread_count() -> int:
    """Threads of this process (the kernel's count)."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        import threading

        return threading.active_count()


class NetworkGuard:
    """Which network guard applied, whether a PID namespace came with it, and why a namespace
    was refused (empty when it was not)."""

    def __init__(self, name: str, pid_namespace: bool = False, refused: str = "") -> None:
        self.name, self.pid_namespace, self.refused = name, pid_namespace, refused

    def describe(self) -> str:
        if self.name == NAMESPACE:
            return NAMESPACE + (" (with its own PID namespace)" if self.pid_namespace else "")
        return self.name + (f"; namespaces refused: {self.refused}" if self.refused else "")


def _write(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _unshare(pid: bool, net: bool = True) -> str:
    """unshare a network (and PID) namespace; '' on success, else why not."""
    libc = _libc()
    uid, gid = os.getuid(), os.getgid()
    flags = (CLONE_NEWNET if net else 0) | (CLONE_NEWPID if pid else 0)
    if uid != 0:
        flags |= CLONE_NEWUSER
    if libc.unshare(flags) != 0:
        errno = __import__("ctypes").get_errno()
        return os.strerror(errno) + (
            f" (this process has {thread_count()} threads)" if thread_count() > 1 else ""
        )
    if uid != 0:  # keep our own uid and gid inside, so files look the same
        try:
            _write("/proc/self/setgroups", "deny")
            _write("/proc/self/uid_map", f"{uid} {uid} 1")
            _write("/proc/self/gid_map", f"{gid} {gid} 1")
        except OSError:
            pass
    return ""


def network_guard(*, namespaces: bool = True, pid_namespace: bool = True) -> NetworkGuard:
    """Cut this process off the network for the rest of its life.

    Call it before any thread starts. Tries a network namespace (and a PID namespace for the
    children, when ``pid_namespace``), as root or through a user namespace as a normal user;
    where that is refused (or ``namespaces`` is False) installs an audit hook that refuses
    creating sockets of any family but AF_UNIX and resolving names. Returns what applied.
    """
    refused = "turned off"
    if namespaces and sys.platform.startswith("linux"):
        refused = _unshare(pid=True) if pid_namespace else "PID namespace not asked for"
        if not refused:
            return NetworkGuard(NAMESPACE, pid_namespace=True)
        first = refused
        refused = _unshare(pid=False)
        if not refused:
            return NetworkGuard(NAMESPACE, pid_namespace=False, refused="")
        refused = first if first == refused else f"{first}; {refused}"
    _socket_refusal()
    return NetworkGuard(SOCKET_REFUSAL, refused=refused)


def pid_namespace() -> bool:
    """A PID namespace for this process's children, without touching the network (for a
    plugin whose manifest allows the network). Call it before any thread starts."""
    if not sys.platform.startswith("linux"):
        return False
    return not _unshare(pid=True, net=False)


_UNIX = 1  # AF_UNIX on every POSIX system


def _socket_refusal() -> None:
    import socket as _socket_module

    unix = getattr(_socket_module, "AF_UNIX", _UNIX)

    def hook(event: str, args: tuple) -> None:
        if event == "socket.__new__":
            family = args[1] if len(args) > 1 else None
            if family != unix and family != -1:
                raise PermissionError(
                    f"this plugin may not use the network (a socket of family {family})"
                )
        elif event in ("socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyname_ex",
                       "socket.gethostbyaddr", "socket.getnameinfo"):  # fmt: skip
            raise PermissionError(f"this plugin may not use the network (looking up {args[0]!r})")

    sys.addaudithook(hook)


# -- files --------------------------------------------------------------------------------------
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

    libc = _libc()
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
        if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            return False
        return libc.syscall(_SYS_RESTRICT, ruleset, ctypes.c_uint32(0)) == 0
    finally:
        os.close(ruleset)


LANDLOCK = "landlock"
AUDIT_HOOK = "python audit hook"

#: audit events that change the file system, and which of their arguments are paths
_PATH_EVENTS: dict[str, tuple[int, ...]] = {
    "os.remove": (0,),
    "os.rmdir": (0,),
    "os.rename": (0, 1),  # os.replace too
    "os.mkdir": (0,),
    "os.truncate": (0,),
    "os.link": (0, 1),
    "os.symlink": (1,),
    "os.chmod": (0,),
    "os.chown": (0,),
    "os.utime": (0,),
    "shutil.rmtree": (0,),
    "shutil.copyfile": (1,),
    "shutil.move": (0, 1),
}


def file_guard(allowed: list[str], *, landlock: bool = True) -> str:
    """Refuse writes outside ``allowed`` folders for the rest of this process: the kernel's
    Landlock where it is there (and ``landlock``), else a Python audit hook that sees Python's
    own opens for writing, removes, renames, rmtree and the like (not a C library's). Returns
    which applied."""
    allowed = [os.path.realpath(a) for a in allowed]
    if landlock:
        try:
            if _landlock(allowed):
                return LANDLOCK
        except (OSError, AttributeError):
            pass

    def inside(raw: object) -> bool:
        if not isinstance(raw, (str, bytes, os.PathLike)):
            return True  # a file descriptor: opened (and so checked) before
        path = os.path.realpath(os.fsdecode(raw))
        return any(path == a or path.startswith(a + os.sep) for a in allowed)

    def refuse(raw: object, what: str) -> None:
        path = os.path.realpath(os.fsdecode(raw))  # type: ignore[arg-type]
        raise PermissionError(f"this plugin may not {what} outside its folders ({path})")

    def hook(event: str, args: tuple) -> None:
        if event == "open":
            if not args or not isinstance(args[0], (str, bytes)):
                return
            mode = args[1] if len(args) > 1 and isinstance(args[1], str) else ""
            flags = args[2] if len(args) > 2 and isinstance(args[2], int) else 0
            writing = any(c in mode for c in "wax+") or flags & (
                os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC
            )
            if writing and not inside(args[0]):
                refuse(args[0], "write")
            return
        positions = _PATH_EVENTS.get(event)
        if positions is None:
            return
        for i in positions:
            if i < len(args) and not inside(args[i]):
                refuse(args[i], event.split(".", 1)[1].replace("rmtree", "remove a tree"))

    sys.addaudithook(hook)
    return AUDIT_HOOK


# -- limits -------------------------------------------------------------------------------------
def limit_memory(megabytes: int | None) -> str:
    """Cap this process's address space (RLIMIT_AS) at ``megabytes``; None or 0 leaves it."""
    import resource

    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a crash leaves no core file behind
    if not megabytes:
        return "none"
    limit = int(megabytes) * 1024 * 1024
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    return f"{limit // (1024 * 1024)} MiB address space"


def limit_cpu(seconds: float | None) -> None:
    """Allow ``seconds`` more CPU time from now (RLIMIT_CPU: SIGXCPU at the soft limit, SIGKILL
    a few seconds later)."""
    import math
    import resource

    if not seconds:
        return
    usage = resource.getrusage(resource.RUSAGE_SELF)
    used = usage.ru_utime + usage.ru_stime
    soft = int(math.ceil(used + seconds))
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    want_hard = soft + 5
    if hard != resource.RLIM_INFINITY and hard < want_hard:
        want_hard = hard
        soft = min(soft, hard)
    try:
        resource.setrlimit(resource.RLIMIT_CPU, (soft, want_hard))
    except ValueError:  # the hard limit cannot be raised again once lowered
        resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


# -- processes ----------------------------------------------------------------------------------
def set_subreaper() -> bool:
    """Make orphaned descendants of this process its children (not init's), so a ``setsid``
    grandchild stays where :func:`kill_descendants` finds it."""
    try:
        return _libc().prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def set_parent_death_signal(sig: int = signal.SIGKILL) -> None:
    try:
        _libc().prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as fh:
                found += [int(p) for p in fh.read().split()]
        except (OSError, ValueError):
            pass
    return found


def descendants(pid: int) -> list[int]:
    """Every process below ``pid``, parents before children."""
    out: list[int] = []
    todo = [pid]
    while todo:
        for child in _children(todo.pop()):
            if child not in out:
                out.append(child)
                todo.append(child)
    return out


def kill_descendants(pid: int, *, rounds: int = 20) -> int:
    """Stop, then kill, every process below ``pid``; repeat while new ones appear (one may
    fork while we look). Returns how many were killed."""
    killed: set[int] = set()
    for _ in range(rounds):
        found = [p for p in descendants(pid) if p not in killed]
        if not found:
            break
        for p in found:  # stopped first, so none forks or reparents while we go
            try:
                os.kill(p, signal.SIGSTOP)
            except (ProcessLookupError, PermissionError):
                pass
        for p in found:
            try:
                os.kill(p, signal.SIGKILL)
                killed.add(p)
            except (ProcessLookupError, PermissionError):
                pass
    return len(killed)


def expected_guards() -> dict[str, str]:
    """What a worker started now would most likely get, read cheaply from the kernel's
    settings without starting one (the Plugins dialog shows it before a plugin has run)."""

    def read(path: str) -> str:
        try:
            with open(path) as fh:
                return fh.read().strip()
        except OSError:
            return ""

    network = NAMESPACE
    if not sys.platform.startswith("linux"):
        network = SOCKET_REFUSAL
    elif os.getuid() != 0:
        if read("/proc/sys/user/max_user_namespaces") == "0":
            network = SOCKET_REFUSAL + " (user namespaces are off: user.max_user_namespaces=0)"
        elif read("/proc/sys/kernel/unprivileged_userns_clone") == "0":
            network = SOCKET_REFUSAL + " (kernel.unprivileged_userns_clone=0)"
        elif read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") == "1":
            network = SOCKET_REFUSAL + " (AppArmor restricts user namespaces)"
    return {"network": network, "files": LANDLOCK if landlock_abi() >= 1 else AUDIT_HOOK}


def landlock_abi() -> int:
    """The kernel's Landlock ABI version; 0 where there is none (or it is blocked)."""
    try:
        import ctypes

        libc = _libc()
        libc.syscall.restype = ctypes.c_long
        abi = libc.syscall(_SYS_CREATE, None, ctypes.c_size_t(0), ctypes.c_uint32(1))
        return max(0, int(abi))
    except (OSError, AttributeError):
        return 0
