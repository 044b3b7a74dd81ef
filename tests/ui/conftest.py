import pytest

from studio.ui.context import StudioContext
from studio.ui.main_window import MainWindow


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
