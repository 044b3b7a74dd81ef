import pytest

from studio.ui.context import StudioContext
from studio.ui.main_window import MainWindow


@pytest.fixture(autouse=True)
def _no_preload(monkeypatch):
    """Panels do not load their models when shown (tests swap tiny models in; a test of the
    preload turns it back on)."""
    monkeypatch.setenv("STUDIO_PRELOAD", "0")


@pytest.fixture(autouse=True)
def _fixed_seeds(monkeypatch):
    """A generation with a random seed gets 1000, 1001, ... in each test, so a failure reproduces
    (the seed shows in the take either way)."""
    import itertools

    from studio.ui.panels.music import generation

    monkeypatch.setattr(generation, "draw_seed", itertools.count(1000).__next__)


@pytest.fixture
def one_torch_thread():
    """One torch thread while a test trains (use it with ``pytest.mark.usefixtures``): on a
    shared, loaded machine two threads make each step ten times slower."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def context(qapp):
    ctx = StudioContext.create()
    yield ctx
    ctx.runner.shutdown()


@pytest.fixture
def window(qtbot, context):
    win = MainWindow(context)
    qtbot.addWidget(win)
    win.resize(1100, 750)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.close()
