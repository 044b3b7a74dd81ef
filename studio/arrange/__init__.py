"""Arrange: the music, the sung and spoken takes and the video on one timeline, mixed with
effects, mastered to a loudness target and exported as audio, stems or a music video. No Qt."""
