import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from studio.core.models import (
    ModelHost,
    ModelIntegrityError,
    ModelStore,
    release_all_hosts,
)
from studio.core.paths import user_models_dir
from studio.core.resources import resources_dir

ROOT = Path(__file__).resolve().parents[2]


def make_model(folder: Path, name="tiny", kind="music", data=b"weights", sha=None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    file = folder / f"{name}.safetensors"
    file.write_bytes(data)
    digest = sha or hashlib.sha256(data).hexdigest()
    (folder / f"{name}.safetensors.card.toml").write_text(
        f'name = "{name}"\nkind = "{kind}"\nfile = "{file.name}"\nsha256 = "{digest}"\n'
        'licence = "CC0-1.0"\nsource = "made in a test"\ncommand = "pytest"\n'
        "[metrics]\nloss = 1.5\n"
    )
    return file


def test_user_models_folder_follows_xdg(isolated_dirs):
    assert user_models_dir() == isolated_dirs["data"] / "studio" / "models"


def test_scan_lists_user_models_with_their_cards(tmp_path):
    make_model(tmp_path / "music")
    (tmp_path / "image").mkdir()
    (tmp_path / "image" / "stray.onnx").write_bytes(b"x")
    store = ModelStore(tmp_path, shipped_dir=tmp_path / "none")
    entries = {e.name: e for e in store.scan()}
    assert entries["tiny"].kind == "music"
    assert entries["tiny"].licence == "CC0-1.0"
    assert entries["tiny"].card.metrics == {"loss": 1.5}
    assert entries["tiny"].size_bytes == len(b"weights")
    assert entries["stray.onnx"].status == "no card"


def test_verify_accepts_a_matching_file(tmp_path):
    make_model(tmp_path / "music")
    store = ModelStore(tmp_path, shipped_dir=tmp_path / "none")
    entry = store.find("tiny")
    assert store.verify(entry).name == "tiny.safetensors"
    assert store.find("tiny").status == "ok"


def test_sha_mismatch_is_reported_by_name(tmp_path):
    make_model(tmp_path / "music", name="broken", sha="0" * 64)
    store = ModelStore(tmp_path, shipped_dir=tmp_path / "none")
    with pytest.raises(ModelIntegrityError, match="broken"):
        store.verify(store.find("broken"))
    assert store.find("broken").status == "sha256 mismatch"


def test_card_with_missing_fields_is_a_problem_not_a_crash(tmp_path):
    (tmp_path / "music").mkdir()
    (tmp_path / "music" / "x.bin.card.toml").write_text('name = "x"\n')
    entries = ModelStore(tmp_path, shipped_dir=tmp_path / "none").scan()
    assert entries[0].problem.startswith("bad card")
    assert "licence" in entries[0].problem


def test_model_host_loads_lazily_keeps_warm_and_releases():
    loads = []

    class Model:
        unloaded = False

        def unload(self):
            Model.unloaded = True

    host = ModelHost("test", lambda device: loads.append(device) or Model())
    assert not host.loaded and loads == []
    first = host.get("cpu")
    assert host.get("cpu") is first and loads == ["cpu"]
    assert release_all_hosts() >= 1
    assert not host.loaded and Model.unloaded
    host.get("cpu")
    assert host.load_count == 2


def test_resources_found_in_checkout():
    assert resources_dir() == ROOT / "resources"


@pytest.mark.slow
def test_resources_found_in_installed_wheel(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path / "dist"),
            str(ROOT),
        ],
        check=True,
    )
    wheel = next((tmp_path / "dist").glob("studio-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "studio/_resources/models/README.md" in names
    assert "studio/_resources/NOTICES.md" in names
    target = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(target)
    out = subprocess.run(
        [sys.executable, "-S", "-c", "import studio.core.resources as r; print(r.resources_dir())"],
        env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert out == str(target / "studio" / "_resources")


class _NotThreadSafe:
    """A model that notices being run from two threads at once (as a LiteRT interpreter would
    corrupt its tensors)."""

    def __init__(self) -> None:
        self.inside = 0
        self.overlaps = 0
        self.calls = 0
        self.released_while_running = False
        self.gone = False

    def run(self) -> None:
        import time

        self.inside += 1
        if self.inside > 1:
            self.overlaps += 1
        time.sleep(0.0005)
        if self.gone:
            self.released_while_running = True
        self.calls += 1
        self.inside -= 1

    def unload(self) -> None:
        self.gone = True


def test_model_host_serializes_previews_and_applies_and_release_skips_a_busy_one():
    """A preview thread and an apply thread hammer one host while another thread keeps asking
    to release models (Tools > Release loaded models), for at least two seconds and until each
    thread has done enough (a release collects garbage, slow in a big test process; at most 20
    s): the model never runs twice at once, and it is never released under a run."""
    import threading
    import time

    from studio.core.models import release_idle_hosts

    models: list[_NotThreadSafe] = []
    host = ModelHost("stress-test", lambda device: models.append(_NotThreadSafe()) or models[-1])
    started = time.monotonic()
    skipped: list[str] = []
    runs = {"preview": 0, "apply": 0}

    def enough() -> bool:
        elapsed = time.monotonic() - started
        done = min(runs.values()) >= 25 and skipped and len(models) > 1
        return elapsed > 20 or (elapsed > 2 and bool(done))

    def worker(name: str) -> None:
        while not enough():
            with host.use("cpu") as model:
                model.run()
            runs[name] += 1
            time.sleep(0.003)  # a preview comes every few milliseconds, not back to back

    def releaser() -> None:
        while not enough():
            skipped.extend(release_idle_hosts().skipped)
            time.sleep(0.005)

    threads = [threading.Thread(target=worker, args=(name,)) for name in runs]
    threads.append(threading.Thread(target=releaser))
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert min(runs.values()) >= 25  # both threads really ran
    assert sum(m.overlaps for m in models) == 0
    assert not any(m.released_while_running for m in models)
    assert "stress-test" in skipped  # it was busy at times, and left alone then
    assert len(models) > 1  # and released when idle (then loaded again on the next use)


def test_release_idle_hosts_reports_what_it_skipped():
    import threading

    from studio.core.models import release_idle_hosts

    host = ModelHost("busy-test", lambda device: object())
    entered, leave = threading.Event(), threading.Event()

    def hold() -> None:
        with host.use():
            entered.set()
            leave.wait(5)

    thread = threading.Thread(target=hold)
    thread.start()
    entered.wait(5)
    try:
        report = release_idle_hosts()
        assert "busy-test" in report.skipped and "busy-test" not in report.released
        assert host.loaded
    finally:
        leave.set()
        thread.join(5)
    assert "busy-test" in release_idle_hosts().released and not host.loaded
