"""Studio: an offline AI creative studio."""

import os as _os

__all__ = ["__version__"]

__version__ = "0.1.0"

# OpenCV (and the FFmpeg inside it) print a line on stderr for every file they cannot read;
# Studio reports those itself, in one clear message. Set before cv2 is first imported (lazily, by
# the video engines).
_os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
_os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
