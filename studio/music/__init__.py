"""Music engines: MIDI generation, MIDI I/O and synthesis. No Qt here."""
