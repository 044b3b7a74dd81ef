import threading

import pytest

from studio.core.jobs import JobSpec
from studio.ui.jobs import JobRunner, JobState


@pytest.fixture
def runner(qapp):
    r = JobRunner()
    yield r
    assert r.shutdown(5000)


class Recorder:
    def __init__(self, handle):
        self.events = []
        handle.started.connect(lambda: self.events.append("started"))
        handle.progressed.connect(lambda f, m: self.events.append("progressed"))
        handle.partial.connect(lambda v: self.events.append("partial"))
        handle.succeeded.connect(lambda r: self.events.append("succeeded"))
        handle.failed.connect(lambda m, t: self.events.append("failed"))
        handle.cancelled.connect(lambda: self.events.append("cancelled"))
        handle.finished.connect(lambda: self.events.append("finished"))


def steps(request, ctx):
    for i in range(request):
        ctx.check_cancelled()
        ctx.partial(i)
        ctx.progress((i + 1) / request, f"step {i}")
        ctx.sleep(0.01)
    return threading.current_thread().name


def test_signals_arrive_in_order_and_work_runs_off_the_gui_thread(qtbot, runner):
    handle = runner.submit(JobSpec("steps", steps, 5))
    rec = Recorder(handle)
    with qtbot.waitSignal(handle.finished, timeout=5000):
        pass
    assert rec.events[0] == "started"
    assert rec.events[-2:] == ["succeeded", "finished"]
    assert "progressed" in rec.events and rec.events.count("partial") == 5
    assert handle.state == JobState.SUCCEEDED
    assert handle.result != threading.current_thread().name
    assert handle.elapsed > 0


def test_failing_job_becomes_a_message(qtbot, runner):
    def boom(request, ctx):
        raise ValueError("the input is empty")

    handle = runner.submit(JobSpec("boom", boom))
    with qtbot.waitSignal(handle.failed, timeout=5000) as blocker:
        pass
    message, tb = blocker.args
    assert message == "ValueError: the input is empty"
    assert "Traceback" in tb
    # the runner keeps working
    ok = runner.submit(JobSpec("after", steps, 1))
    with qtbot.waitSignal(ok.succeeded, timeout=5000):
        pass


def test_cancel_running_job(qtbot, runner):
    handle = runner.submit(JobSpec("long", steps, 10_000))
    with qtbot.waitSignal(handle.progressed, timeout=5000):
        pass
    rec = Recorder(handle)
    with qtbot.waitSignal(handle.cancelled, timeout=5000):
        handle.cancel()
    qtbot.waitUntil(lambda: "finished" in rec.events)
    assert "succeeded" not in rec.events
    assert handle.state == JobState.CANCELLED


def test_family_jobs_share_one_worker_thread(qtbot, runner):
    handles = [runner.submit(JobSpec(f"m{i}", steps, 1, family="music")) for i in range(3)]
    with qtbot.waitSignal(handles[-1].finished, timeout=5000):
        pass
    names = {h.result for h in handles}
    assert names == {"studio-model-music"}


def test_queued_job_cancels_at_once_and_never_runs(qtbot, runner):
    blocker = runner.submit(JobSpec("block", steps, 50, family="solo"))
    queued = runner.submit(JobSpec("queued", steps, 1, family="solo"))
    qtbot.waitUntil(lambda: blocker.state == JobState.RUNNING, timeout=5000)
    rec = Recorder(queued)
    queued.cancel()
    assert rec.events == ["cancelled", "finished"]
    with qtbot.waitSignal(blocker.finished, timeout=5000):
        blocker.cancel()
    qtbot.wait(50)
    assert "started" not in rec.events


def test_new_job_with_same_key_cancels_the_stale_one(qtbot, runner):
    first = runner.submit(JobSpec("first", steps, 10_000, key="panel.generate"))
    qtbot.waitUntil(lambda: first.state == JobState.RUNNING, timeout=5000)
    second = runner.submit(JobSpec("second", steps, 2, key="panel.generate"))
    with qtbot.waitSignal(second.succeeded, timeout=5000):
        pass
    assert first.state == JobState.CANCELLED


def test_shutdown_cancels_and_joins(qapp, qtbot):
    runner = JobRunner()
    handle = runner.submit(JobSpec("long", steps, 10_000))
    qtbot.waitUntil(lambda: handle.state == JobState.RUNNING, timeout=5000)
    assert runner.shutdown(5000)
    assert handle.ctx.cancelled
    with pytest.raises(RuntimeError):
        runner.submit(JobSpec("late", steps, 1))


def test_finished_jobs_and_their_results_are_freed(qtbot, runner):
    import gc
    import weakref

    handle = runner.submit(JobSpec("big", lambda r, c: bytearray(10_000_000)))
    with qtbot.waitSignal(handle.finished, timeout=5000):
        pass
    ref = weakref.ref(handle)
    del handle
    later = runner.submit(JobSpec("next", steps, 1))
    with qtbot.waitSignal(later.finished, timeout=5000):
        pass
    qtbot.wait(20)
    gc.collect()
    assert ref() is None
