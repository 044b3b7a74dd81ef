"""Music engines: MIDI generation, MIDI I/O and synthesis. No Qt here.

Importing this package is light (no torch): heavy modules load when an engine runs.
"""

#: The shipped music model, in ``resources/models/music/``.
DEFAULT_MODEL = "studio-music-small"
