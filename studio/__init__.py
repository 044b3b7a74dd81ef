"""Studio: an offline AI creative studio."""

import os as _os

__all__ = ["__version__"]

__version__ = "0.1.0"

# OpenCV (and the FFmpeg inside it) print a line on stderr for every file they cannot read;
# Studio reports those itself, in one clear message. Set before cv2 is first imported (lazily, by
# the video engines).
_os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
_os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

# OpenMP threads (torch's and ncnn's) wait for each other passively instead of spinning. On two
# cores shared with the window, the job threads and other programs, the spinning took most of the
# CPU: eight bars of chorale took 45-65 s with it and 2.6-2.8 s without, an x4plus upscale 4.1
# times the CPU time (AMD EPYC, 2 cores, load 19-24). Set OMP_WAIT_POLICY to override.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
