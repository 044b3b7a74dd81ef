"""Process-isolated plugins: real worker processes that crash, abort, get killed, hang, spin,
allocate 10 GiB, fork a setsid grandchild, write, remove and rename outside their folders and use
the network; the host survives each and names what happened. Every test runs twice: with the
kernel's guards (namespaces, Landlock) and with the fallbacks a machine without them gets."""

import os
import re
import time

import pytest

from studio.core.jobs import Cancelled, JobContext
from studio.core.media import MidiClip
from studio.plugins import isolation
from studio.plugins.guard import landlock_abi
from studio.plugins.registry import MAX_ISOLATED_FAILURES, PluginError, PluginRegistry, Status
from studio.testing import RecordingContext

from .hostile import LoopbackServers, write_plugin
from .test_registry import FakeDist, FakeEntryPoint

ID = "tp-iso/gen"


def _registry(root, package="tp_iso", **kwargs):
    value = write_plugin(root, package, **kwargs)
    name = package.replace("_", "-")
    registry = PluginRegistry(entry_points=[FakeEntryPoint(package, value, FakeDist(name))],
                              trusted=())  # fmt: skip
    registry.discover()
    return registry


@pytest.fixture(params=["kernel", "fallback"])
def guards(request, monkeypatch):
    if request.param == "fallback":
        monkeypatch.setenv(isolation.FALLBACK_ENV, "1")
    yield request.param
    isolation.stop_all_workers()


@pytest.fixture
def isolated(tmp_path, monkeypatch, guards):
    monkeypatch.syspath_prepend(str(tmp_path))
    return _registry(tmp_path, timeout=6, cpu=1, memory=1024)


SHORT = "tp-short/gen"


@pytest.fixture
def short(tmp_path, monkeypatch, guards):
    """The same plugin with a 2 s timeout, for the hangs (the 6 s above leaves room for the
    1 s CPU limit to act first on a busy machine)."""
    (tmp_path / "short").mkdir()
    monkeypatch.syspath_prepend(str(tmp_path / "short"))
    return _registry(tmp_path / "short", "tp_short", timeout=2, cpu=1, memory=1024)


def _gone(pid: int, within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        try:  # a zombie (dead, not yet reaped by its parent) is gone too
            with open(f"/proc/{pid}/stat") as fh:
                if fh.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except OSError:
            return True
        time.sleep(0.05)
    return False


def test_an_isolated_plugin_runs_in_its_own_process_with_progress_and_partials(isolated):
    ctx = RecordingContext()
    clip = isolated.run(ID, {"mode": "ok"}, ctx)
    assert isinstance(clip, MidiClip) and len(clip.notes) == 4
    assert clip.provenance["host_pid"] != os.getpid()
    assert ctx.partials == [0, 1, 2, 3] and ctx.fractions[-1] == 1.0


def test_a_third_party_plugin_runs_out_of_process_unless_trusted(tmp_path, monkeypatch, guards):
    import sys

    monkeypatch.syspath_prepend(str(tmp_path))
    # the manifest does not insist on a process; a package name of its own, as it is imported
    # here once trusted
    registry = _registry(tmp_path, "tp_trusted", isolation="thread")
    (record,) = registry.records
    assert registry.isolated(record)
    gen = "tp-trusted/gen"
    try:
        assert registry.run(gen, {"mode": "ns"}).provenance["host_pid"] != os.getpid()
        registry.set_trusted("tp-trusted", True)  # the Plugins dialog's check box
        assert not registry.isolated(record)
        assert registry.run(gen, {"mode": "ns"}).provenance["host_pid"] == os.getpid()
        registry.set_trusted("tp-trusted", False)
        assert registry.run(gen, {"mode": "ns"}).provenance["host_pid"] != os.getpid()
    finally:
        for name in [m for m in sys.modules if m.startswith("tp_trusted")]:
            monkeypatch.delitem(sys.modules, name)


def test_the_worker_is_kept_warm_between_jobs(isolated):
    first = isolated.run(ID, {"mode": "ok"}).provenance["host_pid"]
    second = isolated.run(ID, {"mode": "ok"}).provenance["host_pid"]
    assert first == second  # the same process served both
    generator = isolated.generator(isolated.get(ID))
    assert generator.cold_starts == 1


@pytest.mark.parametrize(
    "mode,message",
    [("segfault", "crashed (segmentation fault)"), ("abort", "aborted"),
     ("kill", "was killed (out of memory?)"), ("raise", "the plugin's own bug"),
     ("spin", "used up its CPU-time limit"),
     ("alloc", "ran out of memory: it may use 1024 MiB"),
     ("alloc_numpy", "ran out of memory: it may use 1024 MiB")],
)  # fmt: skip
def test_crashes_kills_hangs_spins_and_hogs_end_the_job_with_a_message(isolated, mode, message):
    # the message names the cause: for "spin" the 1 s CPU limit, acting before the 6 s timeout
    with pytest.raises(PluginError, match=re.escape(message)):
        isolated.run(ID, {"mode": mode})
    # the app is still here, and so is the plugin (contained failures get a few chances)
    assert isinstance(isolated.run(ID, {"mode": "ok"}), MidiClip)


def test_a_hang_ends_at_the_timeout_with_a_message(short):
    started = time.monotonic()
    with pytest.raises(PluginError, match=re.escape("did not finish within 2 s")):
        short.run(SHORT, {"mode": "hang"})
    assert time.monotonic() - started < 5
    assert isinstance(short.run(SHORT, {"mode": "ok"}), MidiClip)  # a fresh worker serves


def test_a_plugin_refusing_its_input_stays_enabled(isolated):
    for _ in range(MAX_ISOLATED_FAILURES + 1):
        with pytest.raises(ValueError, match="too short"):
            isolated.run(ID, {"mode": "refuse"})
    assert isolated.records[0].ok


def test_repeated_failures_disable_the_plugin(isolated):
    for _ in range(MAX_ISOLATED_FAILURES):
        with pytest.raises(PluginError):
            isolated.run(ID, {"mode": "raise"})
    (record,) = isolated.records
    assert record.status == Status.FAILED
    with pytest.raises(KeyError, match="unavailable"):
        isolated.run(ID, {"mode": "ok"})


def test_tcp_udp_and_dns_are_refused_unless_the_manifest_asks(tmp_path, monkeypatch, guards):
    servers = LoopbackServers()
    try:
        for folder in ("refused", "allowed"):
            (tmp_path / folder).mkdir()
            monkeypatch.syspath_prepend(str(tmp_path / folder))
        refused = _registry(tmp_path / "refused")
        allowed = PluginRegistry(entry_points=[FakeEntryPoint(
            "tp_net", write_plugin(tmp_path / "allowed", "tp_net", network=True),
            FakeDist("tp-net"))], trusted=())  # fmt: skip
        request = {"mode": "net", **servers.ports}
        # the control: with the network allowed each probe gets through, so the test can fail
        open_ = allowed.run("tp-net/gen", request).provenance
        assert open_["tcp"] == "connected" and open_["udp"] == "answered pong"
        assert open_["dns"] == "resolved"
        probes = refused.run(ID, request).provenance
    finally:
        servers.close()
    for kind in ("tcp", "udp", "dns", "getaddrinfo"):
        assert probes[kind].startswith("failed"), (kind, probes[kind])
    generator = refused.generator(refused.get(ID))
    if guards == "kernel" and generator.network_guard.startswith("network namespace"):
        assert probes["net_ns"] != os.readlink("/proc/self/ns/net")
    elif guards == "kernel":  # a machine that refuses namespaces (a container): it says why
        assert "namespaces refused: " in generator.network_guard
        assert "turned off" not in generator.network_guard
    else:
        assert generator.network_guard.startswith("socket refusal")
        assert all("may not use the network" in probes[k] for k in ("tcp", "udp", "dns"))
    assert refused.records[0].network_guard == generator.network_guard  # the dialog shows it


def test_cancel_reaches_the_worker_and_it_stays_warm(isolated):
    import threading

    pid = isolated.run(ID, {"mode": "ok"}).provenance["host_pid"]
    ctx = JobContext()
    threading.Timer(0.5, ctx.cancel).start()
    started = time.monotonic()
    with pytest.raises(Cancelled):
        isolated.run(ID, {"mode": "slow"}, ctx)
    assert time.monotonic() - started < 2  # honoured at its next check, not after the grace
    assert isolated.run(ID, {"mode": "ok"}).provenance["host_pid"] == pid


def test_a_wrong_result_type_is_reported(isolated):
    with pytest.raises(PluginError, match="must return MidiClip"):
        isolated.run(ID, {"mode": "wrong"})


def test_a_flood_of_output_is_contained_and_the_last_of_it_explains_a_failure(isolated):
    import resource

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert isinstance(isolated.run(ID, {"mode": "flood"}), MidiClip)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100_000  # KB
    generator = isolated.generator(isolated.get(ID))
    with pytest.raises(isolation.IsolationError) as failure:
        generator.run({"mode": "printraise"}, JobContext())
    assert "after printing" in str(failure.value)
    assert "the plugin's own words" in str(failure.value)  # its last output explains it


def test_a_setsid_grandchild_does_not_outlive_the_job(isolated):
    clip = isolated.run(ID, {"mode": "fork"})
    grandchild = clip.provenance["grandchild"]
    assert grandchild != os.getpid()
    assert _gone(grandchild), f"the plugin's setsid grandchild {grandchild} is still running"
    # the job is over, the worker is not: it serves the next one
    assert isinstance(isolated.run(ID, {"mode": "ok"}), MidiClip)


def test_a_hung_worker_is_stopped_with_everything_it_started(short):
    ctx = RecordingContext()
    with pytest.raises(PluginError, match="did not finish within 2 s"):
        short.run(SHORT, {"mode": "forkhang"}, ctx)
    (grandchild,) = ctx.partials
    assert _gone(grandchild), f"the hung plugin's setsid grandchild {grandchild} survived"


@pytest.mark.parametrize("mode", ["write", "remove", "rename", "rmtree"])
def test_writes_removes_and_renames_outside_its_folders_are_refused(isolated, tmp_path, mode):
    outside = tmp_path / "outside"
    outside.mkdir()
    target = outside / ("folder" if mode == "rmtree" else "precious.txt")
    if mode == "rmtree":
        target.mkdir()
        (target / "inside.txt").write_text("keep me")
    elif mode != "write":
        target.write_text("keep me")
    with pytest.raises(PluginError, match="PermissionError|may not|Permission denied") as e:
        isolated.run(ID, {"mode": mode, "path": str(target)})
    # its scratch folder was writable; this was not (Landlock stops rmtree at the first file)
    assert target.name in str(e.value) or "inside.txt" in str(e.value)
    if mode == "write":
        assert not target.exists()
    elif mode == "rmtree":
        assert (target / "inside.txt").read_text() == "keep me"
    else:
        assert target.read_text() == "keep me" and not (outside / "precious.txt.moved").exists()
    generator = isolated.generator(isolated.get(ID))
    kernel = os.environ.get(isolation.FALLBACK_ENV) != "1" and landlock_abi() >= 1
    assert generator.file_guard == ("landlock" if kernel else "python audit hook")


def test_no_gpu_unless_the_manifest_asks(isolated):
    clip = isolated.run(ID, {"mode": "env"}, device="cuda")
    assert clip.provenance["cuda"] == ""  # no GPU visible to it
    assert clip.provenance["device"] == "cpu"  # and it was told to use the CPU


def test_release_leaves_a_running_plugin_alone(isolated):
    import threading

    ctx = JobContext()
    outcome = {}

    def job():
        try:
            outcome["clip"] = isolated.run(ID, {"mode": "slow"}, ctx)
        except Cancelled:
            outcome["cancelled"] = True

    thread = threading.Thread(target=job)
    thread.start()
    time.sleep(0.5)  # it is running now
    assert isolated.unload_all() == [ID]  # skipped, not pulled from under its run
    ctx.cancel()
    thread.join(10)
    assert outcome == {"cancelled": True} and isolated.records[0].ok
    assert isolated.unload_all() == []


def test_its_controls_show_without_a_worker_once_its_parameters_are_known(tmp_path, monkeypatch,
                                                                          guards):  # fmt: skip
    """A panel reads a plugin's parameters on the GUI thread: after the first time they come
    from the cache, not from a worker start; an edit to the plugin's files refreshes them."""
    monkeypatch.syspath_prepend(str(tmp_path))
    first = _registry(tmp_path)
    names = [p.name for p in first.generator(first.get(ID)).params]
    isolation.stop_all_workers()
    again = PluginRegistry(entry_points=[FakeEntryPoint(
        "tp_iso", "tp_iso:studio-plugin.toml", FakeDist("tp-iso"))], trusted=())  # fmt: skip
    generator = again.generator(again.get(ID))
    assert [p.name for p in generator.params] == names
    assert generator.cold_starts == 0  # no worker was started for them
    gen = tmp_path / "tp_iso" / "gen.py"
    gen.write_text(
        gen.read_text().replace(
            'Param("dns", "int", 0)', 'Param("dns", "int", 0), Param("extra", "int", 1)'
        )
    )
    changed = PluginRegistry(entry_points=[FakeEntryPoint(
        "tp_iso", "tp_iso:studio-plugin.toml", FakeDist("tp-iso"))], trusted=())  # fmt: skip
    fresh = changed.generator(changed.get(ID))
    assert [p.name for p in fresh.params] == names + ["extra"] and fresh.cold_starts == 1
