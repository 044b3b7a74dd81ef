"""The isolation guards hold for a normal user, not only for root.

Studio (the host) and its plugin worker run here as an unprivileged user: the test's own user
when that is not root, else a system user made for it (``studio-ci``, created with useradd when
missing). The worker must get a network namespace of its own (its ``/proc/self/ns/net`` differs
from the host's) and TCP, UDP and DNS must all fail, while the same probes from the host reach
loopback servers, so the test can fail. The hostile plugin's crash, spin, 10 GiB allocation,
setsid grandchild and stray write are each contained and named. Then the same with the fallbacks
(no namespaces, no Landlock).
"""

import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from .hostile import LoopbackServers, write_plugin

USER = "studio-ci"

SCRIPT = r"""
import json, os, sys, time
root, ports = sys.argv[1], json.loads(sys.argv[2])
sys.path.insert(0, root)
from studio.plugins import isolation
from studio.plugins.registry import PluginRegistry
from tp_hostile.gen import probe


class Dist:
    name = "tp-hostile"


class EntryPoint:
    name, value, dist = "tp_hostile", "tp_hostile:studio-plugin.toml", Dist()


def gone(pid):
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                if fh.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except OSError:
            return True
        time.sleep(0.05)
    return False


def attempt(request):
    registry = PluginRegistry(entry_points=[EntryPoint()], trusted=())
    started = time.monotonic()
    try:
        clip = registry.run("tp-hostile/gen", request)
        outcome = {"ok": clip.provenance}
    except Exception as exc:
        outcome = {"error": str(exc).splitlines()[0]}
    outcome["seconds"] = round(time.monotonic() - started, 2)
    generator = registry._loaded.get("tp-hostile/gen")
    if generator is not None:
        outcome["guards"] = generator.generator.worker_info
    return outcome


out = {"uid": os.getuid(), "euid": os.geteuid(), "host_net_ns": os.readlink("/proc/self/ns/net"),
       "control": {k: probe(k, ports[k]) for k in ("tcp", "udp", "dns")}}
for mode in ("kernel", "fallback"):
    if mode == "fallback":
        os.environ[isolation.FALLBACK_ENV] = "1"
    isolation.stop_all_workers()
    res = out[mode] = {"net": attempt({"mode": "net", **ports})}
    for hostile in ("segfault", "spin", "alloc"):
        res[hostile] = attempt({"mode": hostile})
    res["fork"] = attempt({"mode": "fork"})
    if "ok" in res["fork"]:
        res["fork"]["grandchild_gone"] = gone(res["fork"]["ok"]["grandchild"])
    target = os.path.join(root, "outside", "precious.txt")
    res["write"] = attempt({"mode": "write", "path": target})
    res["write"]["target_exists"] = os.path.exists(target)
    isolation.stop_all_workers()
print(json.dumps(out))
"""


def _user() -> tuple[int, int] | None:
    """(uid, gid) to run as; None to run as ourselves (already unprivileged)."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(USER)
    except KeyError:
        made = subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", USER],
            capture_output=True, text=True,
        )  # fmt: skip
        if made.returncode != 0:
            try:
                entry = pwd.getpwnam("nobody")
            except KeyError:
                pytest.skip(f"no unprivileged user: useradd said {made.stderr.strip()!r}")
        else:
            entry = pwd.getpwnam(USER)
    return entry.pw_uid, entry.pw_gid


def _run_as(user, args, env, cwd):
    kwargs = {}
    if user is not None:
        kwargs = {"user": user[0], "group": user[1], "extra_groups": []}
    return subprocess.run(args, capture_output=True, text=True, env=env, cwd=cwd, timeout=240,
                          **kwargs)  # fmt: skip


def _python_path() -> list[str]:
    """The checkout and this environment's site-packages: what Studio imports."""
    import sysconfig

    repo = str(Path(__file__).resolve().parents[2])
    paths = sysconfig.get_paths()
    return list(dict.fromkeys([repo, paths["purelib"], paths["platlib"]]))


def _interpreter(user, env, cwd) -> str:
    """This interpreter, or (where it lives in a folder the user may not enter, as a pyenv
    under /root does) the system's Python of the same version, with this environment's
    packages on its path."""
    tried = []
    candidates = [sys.executable, f"/usr/bin/python{sys.version_info[0]}.{sys.version_info[1]}"]
    for python in candidates:
        try:
            check = _run_as(user, [python, "-c", "import numpy, studio.plugins.isolation"],
                            env, cwd)  # fmt: skip
        except OSError as exc:
            tried.append(f"{python}: {exc}")
            continue
        if check.returncode == 0:
            return python
        tried.append(f"{python}: {check.stderr.strip()[-300:]}")
    pytest.skip("the unprivileged user cannot run Studio here: " + "; ".join(tried))


@pytest.fixture
def workdir():
    base = Path(tempfile.mkdtemp(prefix="studio-unpriv-"))
    yield base
    shutil.rmtree(base, ignore_errors=True)


def test_guards_hold_for_an_unprivileged_user(workdir):
    user = _user()
    root = workdir / "site"
    root.mkdir()
    write_plugin(root, "tp_hostile", timeout=10, cpu=1, memory=1024)
    (root / "outside").mkdir()
    home = workdir / "home"
    home.mkdir()
    (workdir / "probe.py").write_text(SCRIPT)
    for path in [workdir, *workdir.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
        if user is not None:
            os.chown(path, *user)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
           "PYTHONPATH": os.pathsep.join(_python_path()), "PYTHONDONTWRITEBYTECODE": "1",
           "LANG": "C.UTF-8"}  # fmt: skip
    python = _interpreter(user, env, workdir)
    servers = LoopbackServers()
    try:
        done = _run_as(user, [python, str(workdir / "probe.py"), str(root),
                              json.dumps(servers.ports)], env, workdir)  # fmt: skip
    finally:
        servers.close()
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    print(json.dumps(out, indent=1))  # the measured note quotes this
    assert out["euid"] != 0 and out["uid"] != 0
    # the control: the host process reaches every loopback server, so the probes can get through
    assert out["control"] == {"tcp": "connected", "udp": "answered pong", "dns": "resolved"}

    for mode in ("kernel", "fallback"):
        res = out[mode]
        net = res["net"]["ok"]
        for kind in ("tcp", "udp", "dns", "getaddrinfo"):
            assert net[kind].startswith("failed"), (mode, kind, net[kind])
        guards = res["net"]["guards"]
        assert guards["threads_at_guard"] == 1  # guards come before any thread
        assert "crashed (segmentation fault)" in res["segfault"]["error"]
        assert "used up its CPU-time limit" in res["spin"]["error"]
        assert res["spin"]["seconds"] < 8  # the CPU limit stopped it, not the 10 s timeout
        assert "ran out of memory: it may use 1024 MiB" in res["alloc"]["error"]
        assert res["fork"]["grandchild_gone"], res["fork"]
        assert "precious.txt" in res["write"]["error"] and not res["write"]["target_exists"]
        if mode == "fallback":
            assert guards["network"].startswith("socket refusal")
            assert guards["files"] == "python audit hook" and not guards["pid_namespace"]
            assert all("may not use the network" in net[k] for k in ("tcp", "udp", "dns"))
    kernel = out["kernel"]["net"]["guards"]
    if not kernel["network"].startswith("network namespace"):
        pytest.skip(f"this kernel refuses namespaces to a normal user: {kernel['network']}")
    assert kernel["pid_namespace"]
    assert out["kernel"]["net"]["ok"]["net_ns"] != out["host_net_ns"]
