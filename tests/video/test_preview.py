import threading
import time

import pytest

from studio.core.jobs import Cancelled, JobContext
from studio.video.effects import Effect
from studio.video.preview import PreviewSession
from studio.video.sources import DemoSource, SourceError

from .test_export import BrightSegmenter


class Running:
    """Runs a session's job on a thread, recording partial notifications."""

    def __init__(self, session):
        self.session = session
        self.notes = 0
        self.error = None
        self.ctx = JobContext(on_partial=self._note)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _note(self, _session):
        self.notes += 1

    def _run(self):
        try:
            self.session.run(None, self.ctx)
        except Cancelled:
            pass
        except Exception as exc:  # noqa: BLE001 - checked by the test
            self.error = exc

    def wait_for(self, predicate, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            frame = self.session.take()
            if frame is not None and predicate(frame):
                return frame
            if self.error:
                raise self.error
            time.sleep(0.01)
        raise AssertionError("the preview never showed the expected frame")

    def stop(self):
        self.ctx.cancel()
        self.thread.join(5)
        assert not self.thread.is_alive()


def _session(**kw):
    source = DemoSource(160, 90, frames=400, fps=200)
    return PreviewSession(source, segmenter=BrightSegmenter(), **kw)


def test_preview_plays_pauses_steps_and_seeks():
    run = Running(_session())
    try:
        run.wait_for(lambda f: f.position > 5)
        run.session.pause()
        time.sleep(0.1)
        run.session.take()
        time.sleep(0.1)
        assert run.session.take() is None  # paused: nothing new
        run.session.seek(7)
        assert run.wait_for(lambda f: True).position == 7
        run.session.step()
        assert run.wait_for(lambda f: True).position == 8
        run.session.configure(effect=Effect("matte"))  # a paused frame is redrawn
        redrawn = run.wait_for(lambda f: True)
        assert redrawn.position == 8 and redrawn.processed.output[..., 0].max() <= 255
        assert redrawn.fps >= 0 and redrawn.latency_ms > 0
    finally:
        run.stop()


def test_a_slow_viewer_gets_the_newest_frame_not_a_queue():
    run = Running(_session())
    try:
        time.sleep(0.4)  # the GUI is busy: it takes nothing
        assert run.notes == 1  # one "there is something new", not one per frame
        newest = run.session.take()
        assert newest.position > 3
        run.wait_for(lambda f: True)
        assert run.notes == 2
    finally:
        run.stop()


def test_a_file_plays_at_its_own_pace():
    slow = PreviewSession(DemoSource(64, 36, frames=400, fps=20), segmenter=BrightSegmenter())
    run = Running(slow)
    try:
        time.sleep(0.5)
        frame = run.wait_for(lambda f: True)
        assert 5 <= frame.position <= 16  # about 10 frames in half a second, not 400
    finally:
        run.stop()


def test_missing_camera_fails_the_job_with_the_reason():
    run = Running(PreviewSession("camera:63"))
    run.thread.join(10)
    assert isinstance(run.error, SourceError)
    assert "no camera at index 63" in str(run.error)


def test_cancel_ends_the_preview_promptly():
    run = Running(_session())
    run.wait_for(lambda f: True)
    began = time.monotonic()
    run.stop()
    assert time.monotonic() - began < 1.0


@pytest.mark.parametrize("loop", [True, False])
def test_end_of_file_loops_or_stops(loop):
    session = PreviewSession(
        DemoSource(64, 36, frames=5, fps=500), segmenter=BrightSegmenter(), loop=loop
    )
    run = Running(session)
    try:
        if loop:
            run.wait_for(lambda f: f.position == 4)
            run.wait_for(lambda f: f.position < 4)  # came round again
        else:
            assert run.wait_for(lambda f: f.ended).position == 4
            assert not session.playing
    finally:
        run.stop()
