import threading

import pytest

from studio.core.jobs import Cancelled, JobContext, JobSpec, describe_error, run_job
from studio.testing import RecordingContext


def counting_job(request, ctx):
    for i in range(request):
        ctx.check_cancelled()
        ctx.progress((i + 1) / request, f"step {i + 1}")
        ctx.partial(i)
    return request * 2


def test_run_job_returns_result_and_reports_progress_in_order():
    ctx = RecordingContext()
    assert run_job(counting_job, 5, ctx) == 10
    assert ctx.fractions == sorted(ctx.fractions)
    assert ctx.fractions[-1] == 1.0
    assert ctx.partials == [0, 1, 2, 3, 4]
    assert ctx.reports[0][1] == "step 1"


def test_run_job_accepts_a_spec():
    assert run_job(JobSpec("double", counting_job, 3)) == 6


def test_cancel_stops_the_job_at_its_next_check():
    ctx = RecordingContext(cancel_after=2)
    with pytest.raises(Cancelled):
        run_job(counting_job, 100, ctx)
    assert len(ctx.reports) == 2


def test_cancelled_context_never_starts_the_job():
    ctx = JobContext()
    ctx.cancel()
    calls = []
    with pytest.raises(Cancelled):
        run_job(lambda r, c: calls.append(1), None, ctx)
    assert calls == []


def test_progress_is_throttled_but_first_and_last_pass():
    seen = []
    ctx = JobContext(lambda f, m: seen.append(f), min_interval=10.0)
    for i in range(1, 101):
        ctx.progress(i / 100)
    assert seen == [0.01, 1.0]


def test_progress_is_clamped():
    seen = []
    ctx = JobContext(lambda f, m: seen.append(f), min_interval=0)
    ctx.progress(-3)
    ctx.progress(7)
    assert seen == [0.0, 1.0]


def test_sleep_wakes_on_cancel_from_another_thread():
    ctx = JobContext()
    threading.Timer(0.05, ctx.cancel).start()
    with pytest.raises(Cancelled):
        ctx.sleep(30)


def test_out_of_memory_gets_an_actionable_message():
    class OutOfMemoryError(RuntimeError):
        pass

    text = describe_error(OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB"))
    assert "Out of memory" in text and "CPU" in text
    assert describe_error(ValueError("bars must be positive")) == (
        "ValueError: bars must be positive"
    )
