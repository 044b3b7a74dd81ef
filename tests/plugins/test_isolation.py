"""Process-isolated plugins: real worker processes that crash, abort, get killed, hang, use the
network or run fine; the host survives each and says what happened."""

import re

import pytest

from studio.core.jobs import Cancelled, JobContext
from studio.core.media import MidiClip
from studio.plugins.registry import MAX_ISOLATED_FAILURES, PluginError, PluginRegistry, Status
from studio.testing import RecordingContext

from .test_registry import FakeDist, FakeEntryPoint  # noqa: F401 - the plugin_root fixture's kin

MANIFEST = """
[plugin]
name = "{name}"
version = "0.1.0"
api_version = "1.0"
isolation = "process"
timeout = {timeout}

[capabilities]
network = {network}

[[contributions]]
id = "gen"
kind = "midi"
title = "Isolated generator"
entry = "{package}.gen:Gen"
"""

GEN = """
import os, time
from studio.plugins.api import Generator, MidiClip, Note, Param

MODES = ("ok", "segfault", "abort", "kill", "hang", "raise", "socket", "wrong", "slow", "flood",
         "fork", "printraise", "write", "env")


class Gen(Generator):
    kind = "midi"
    params = (Param("mode", "choice", "ok", choices=MODES), Param("path", "str", ""))

    def run(self, request, ctx):
        mode = request["mode"]
        if mode == "segfault":
            import ctypes
            ctypes.string_at(0)
        if mode == "abort":
            os.abort()
        if mode == "kill":
            os.kill(os.getpid(), 9)
        if mode == "hang":
            time.sleep(600)
        if mode == "raise":
            raise RuntimeError("the plugin's own bug")
        if mode == "socket":
            import socket
            socket.create_connection(("192.0.2.1", 80), timeout=2)
        if mode == "wrong":
            return "not a clip"
        if mode == "flood":
            chunk = "x" * 1_000_000 + "\\n"
            for _ in range(200):  # 200 MB on stdout
                print(chunk, end="")
        if mode == "printraise":
            print("about to fail: the plugin's own words")
            raise RuntimeError("after printing")
        if mode == "write":
            import tempfile
            with open(os.path.join(tempfile.gettempdir(), "scratch.txt"), "w") as fh:
                fh.write("fine: its scratch folder")
            with open(request["path"], "w") as fh:
                fh.write("a stray write")
        if mode == "env":
            return MidiClip([Note(0.0, 60, 1.0)], provenance={{
                "cuda": os.environ.get("CUDA_VISIBLE_DEVICES"), "device": self.device}})
        if mode == "fork":
            child = os.fork()
            if child == 0:
                time.sleep(600)
                os._exit(0)
            return MidiClip([Note(0.0, 60, 1.0)], provenance={{"child": child}})
        notes = []
        for i in range(4 if mode == "ok" else 400):
            ctx.check_cancelled()
            ctx.partial(i)
            ctx.progress((i + 1) / 4, f"note {{i}}")
            notes.append(Note(float(i), 60 + i % 12, 1.0))
            if mode == "slow":
                time.sleep(0.05)
        return MidiClip(notes, provenance={{"pid": os.getpid()}})
"""


def _plugin(root, package, timeout=30, network=False):
    pkg = root / package
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "gen.py").write_text(GEN.replace("{{", "{").replace("}}", "}"))
    (pkg / "studio-plugin.toml").write_text(MANIFEST.format(
        name=package.replace("_", "-"), package=package, timeout=timeout,
        network=str(network).lower()))  # fmt: skip
    return FakeEntryPoint(package, f"{package}:studio-plugin.toml", FakeDist(package))


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = PluginRegistry(entry_points=[_plugin(tmp_path, "tp_iso", timeout=4)])
    registry.discover()
    return registry


def test_an_isolated_plugin_runs_in_its_own_process_with_progress_and_partials(isolated):
    import os

    ctx = RecordingContext()
    clip = isolated.run("tp-iso/gen", {"mode": "ok"}, ctx)
    assert isinstance(clip, MidiClip) and len(clip.notes) == 4
    assert clip.provenance["pid"] != os.getpid()
    assert ctx.partials == [0, 1, 2, 3] and ctx.fractions[-1] == 1.0


@pytest.mark.parametrize(
    "mode,message",
    [("segfault", "segmentation fault"), ("abort", "aborted"), ("kill", "killed (out of memory?)"),
     ("raise", "the plugin's own bug"), ("hang", "did not finish within 4 s")],
)  # fmt: skip
def test_crashes_kills_and_hangs_end_the_job_with_a_message(isolated, mode, message):
    with pytest.raises(PluginError, match=re.escape(message)):
        isolated.run("tp-iso/gen", {"mode": mode})
    # the app is still here, and so is the plugin (contained failures get a few chances)
    assert isinstance(isolated.run("tp-iso/gen", {"mode": "ok"}), MidiClip)


def test_repeated_failures_disable_the_plugin(isolated):
    for _ in range(MAX_ISOLATED_FAILURES):
        with pytest.raises(PluginError):
            isolated.run("tp-iso/gen", {"mode": "raise"})
    (record,) = isolated.records
    assert record.status == Status.FAILED
    with pytest.raises(KeyError, match="unavailable"):
        isolated.run("tp-iso/gen", {"mode": "ok"})


def test_the_network_is_refused_unless_the_manifest_asks(isolated):
    with pytest.raises(PluginError, match="network|unreachable|Network"):
        isolated.run("tp-iso/gen", {"mode": "socket"})
    generator = isolated.generator(isolated.get("tp-iso/gen"))
    assert generator.network_guard in ("network namespace", "socket refusal")
    assert isolated.records[0].network_guard == generator.network_guard  # the dialog shows it


def test_cancel_reaches_the_worker(isolated):
    import threading

    ctx = JobContext()
    threading.Timer(1.5, ctx.cancel).start()
    with pytest.raises(Cancelled):
        isolated.run("tp-iso/gen", {"mode": "slow"}, ctx)


def test_a_wrong_result_type_is_reported(isolated):
    with pytest.raises(PluginError, match="must return MidiClip"):
        isolated.run("tp-iso/gen", {"mode": "wrong"})


def test_a_flood_of_output_is_contained_and_the_last_of_it_explains_a_failure(isolated):
    import resource

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert isinstance(isolated.run("tp-iso/gen", {"mode": "flood"}), MidiClip)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100_000  # KB
    from studio.plugins.isolation import IsolationError

    generator = isolated.generator(isolated.get("tp-iso/gen"))
    with pytest.raises(IsolationError) as failure:
        generator.run({"mode": "printraise"}, JobContext())
    assert "after printing" in str(failure.value)
    assert "the plugin's own words" in str(failure.value)  # its last output explains it


def test_what_a_plugin_forks_is_stopped_with_it(isolated):
    import os
    import time

    clip = isolated.run("tp-iso/gen", {"mode": "fork"})
    child = clip.provenance["child"]
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        pytest.fail(f"the plugin's forked process {child} is still running")


def test_writes_outside_its_folders_are_refused(isolated, tmp_path):
    target = tmp_path / "stray.txt"
    with pytest.raises(PluginError, match="PermissionError|may not write|Permission denied") as e:
        isolated.run("tp-iso/gen", {"mode": "write", "path": str(target)})
    assert "stray.txt" in str(e.value)  # its scratch folder was writable; this was not
    assert not target.exists()
    generator = isolated.generator(isolated.get("tp-iso/gen"))
    assert generator.file_guard in ("landlock", "python audit hook")
    print("file guard:", generator.file_guard, "network guard:", generator.network_guard)


def test_no_gpu_unless_the_manifest_asks(isolated):
    clip = isolated.run("tp-iso/gen", {"mode": "env"}, device="cuda")
    assert clip.provenance["cuda"] == ""  # no GPU visible to it
    assert clip.provenance["device"] == "cpu"  # and it was told to use the CPU
