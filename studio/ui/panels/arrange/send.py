"""The "Send to Arrange" button the other panels add to their controls: one call makes it,
named ``<panel>.send_to_arrange`` with a tooltip, and a click puts what the panel holds on a new
lane of the Arrange panel at its playhead (through the Qt-free
:func:`studio.arrange.send.send_to_arrange`), says so in the panel's status line and raises the
Arrange panel. Edit ▸ Undo in Arrange takes it back.

    from studio.ui.panels.arrange.send import send_button
    layout.addWidget(send_button(self, "voice"))                      # the selected take
    layout.addWidget(send_button(self, "library", lambda: self.document.selected or None))
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QPushButton, QWidget

__all__ = ["send_button", "send_from"]

TIPS = {
    "music": "Put the clip on the Arrange panel, one lane per track, at its playhead",
    "voice": "Put the selected take on a new Arrange lane at its playhead; a sung take stays on "
    "its melody when the tempo changes",
    "image": "Put the picture on the Arrange panel's video lane at its playhead",
    "video": "Put the last export on the Arrange panel's video lane at its playhead",
    "library": "Put the selected file on a new Arrange lane at its playhead",
}


def send_from(panel: QWidget, kind: str, item: Any = None) -> list:
    """Send ``item`` (None: what the panel's document holds) from ``panel`` (a PanelBase) to
    Arrange; the outcome goes to the panel's status line. Returns the clips made."""
    from studio.arrange.send import send_to_arrange
    from studio.core.document import DocumentError

    status = getattr(panel, "status", None)
    try:
        clips = send_to_arrange(panel.context.project, kind, item)
    except (DocumentError, ValueError, OSError) as exc:
        if status is not None:
            status.setText(f"⚠ {exc}")
        return []
    if status is not None:
        status.setText(f"Sent to Arrange: {len(clips)} lane{'s' * (len(clips) != 1)} at its "
                       "playhead (Edit ▸ Undo there takes it back).")  # fmt: skip
    window = panel.window()
    # panel_docks lists every panel; ``panels`` only the ones built so far (Arrange may not be yet)
    if hasattr(window, "raise_panel") and "arrange" in getattr(window, "panel_docks", {}):
        window.raise_panel("arrange")
    return clips


def send_button(panel: QWidget, kind: str, item: Callable[[], Any] | None = None,
                text: str = "Send to Arrange") -> QPushButton:  # fmt: skip
    """A button named ``<panel_id>.send_to_arrange`` that sends ``item()`` (None: what the
    document holds) from ``panel`` to Arrange."""
    button = QPushButton(text)
    button.setObjectName(f"{panel.panel_id}.send_to_arrange")
    button.setToolTip(TIPS.get(kind, "Put this on the Arrange panel at its playhead"))
    button.clicked.connect(lambda _=False: send_from(panel, kind, item() if item else None))
    return button
