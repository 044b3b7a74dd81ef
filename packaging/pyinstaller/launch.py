"""The packaged app's entry point: the same `studio` command as the installed package."""

import multiprocessing
import sys

from studio.cli import main

if __name__ == "__main__":
    multiprocessing.freeze_support()  # process-isolated plugins spawn workers
    sys.exit(main())
