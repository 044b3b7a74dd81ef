# Studio: `make run` sets up and opens the studio, `make test` sets up and runs the tests.
# Both create (or reuse) the project virtual environment in .venv.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.studio-installed
# A CPU build of torch runs everything. An unpinned or newer torch pulls a multi-GB CUDA build here.
# For a GPU: make setup TORCH_SPEC="torch==2.13.0" TORCH_ARGS="--index-url <your CUDA wheel index>"
TORCH_SPEC ?= torch==2.13.0
TORCH_ARGS ?=
EXTRAS ?= test

# Debian/Ubuntu packages Qt (offscreen and on screen), fonts, audio and video export need.
SYSTEM_PACKAGES := libegl1 libgl1 libfontconfig1 fonts-dejavu-core libdbus-1-3 libglib2.0-0 \
	libxkbcommon0 libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 \
	libxcb-randr0 libxcb-render-util0 libxcb-shape0 libxcb-xfixes0 libxcb-xkb1 libx11-xcb1 \
	libportaudio2 libfluidsynth3 libsndfile1 g++ ffmpeg

.PHONY: setup run test lint bench shots package system-deps clean kill-test stress

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH_SPEC)" $(TORCH_ARGS)
	$(PY) -m pip install -q -e ".[$(EXTRAS)]"
	@touch $(STAMP)

run: setup
	$(VENV)/bin/studio

test: setup
	$(VENV)/bin/ruff check studio tests plugins
	$(VENV)/bin/mypy
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q

# The fuzz targets of tests/fuzz for thousands of random cases each (`make test` runs 40, fixed);
# FUZZ_EXAMPLES=N sets the count. The table (cases, results, messages, slowest, largest) goes to
# build/fuzz/report.json and each failing input to build/fuzz/failures/ (add it to
# tests/fuzz/corpus/).
FUZZ_EXAMPLES ?= 3000
.PHONY: fuzz
fuzz: setup
	@mkdir -p build/fuzz
	STUDIO_FUZZ=fuzz STUDIO_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) STUDIO_FUZZ_REPORT=build/fuzz/report.json \
		STUDIO_FUZZ_SAVE=build/fuzz/failures $(PY) -m pytest -q tests/fuzz

lint: setup
	$(VENV)/bin/ruff check studio tests plugins
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

# the Image panel's previews and applies with model releases, for a minute
stress: setup
	STUDIO_STRESS_SECONDS=60 $(PY) -m pytest -q tests/image/test_stress_previews.py tests/core/test_models.py

# 20 SIGKILLs of the real window at random moments while it edits, autosaves and saves
kill-test: setup
	STUDIO_KILL_RUNS=20 QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q -s tests/test_project_kill.py

bench: setup
	QT_QPA_PLATFORM=offscreen $(VENV)/bin/studio bench

shots: setup
	@mkdir -p docs/shots
	for p in music image video voice library; do \
		$(VENV)/bin/studio shot $$p -o docs/shots/$$p.png --size 1200x760 --theme light; done
	$(VENV)/bin/studio shot music --menu file -o docs/shots/file-menu.png --size 1200x760 --theme light
	$(PY) -m studio.ui._demo_recovery && $(VENV)/bin/studio shot music --restore \
		-o docs/shots/restored.png --size 1200x760 --theme light

# The one-folder desktop app in dist/studio (and a tarball): PyInstaller, launcher files, licences,
# a size report. Check it offline with: unshare -n dist/studio/studio --selftest
package: setup
	$(PY) -m pip install -q "pyinstaller>=6.10,<7"
	$(PY) packaging/build.py

# Installs the system libraries above (uses sudo unless run as root).
system-deps:
	$$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get update -qq
	$$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get install -y -qq --no-install-recommends $(SYSTEM_PACKAGES)

clean:
	rm -rf $(VENV) build dist .pytest_cache .ruff_cache .import_linter_cache
