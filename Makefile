# Two commands set everything up on a fresh machine:
#   make demo   creates .venv, installs filmcrew, renders the README's example request
#   make test   creates .venv if needed and runs the whole suite (what .ci/run calls)

PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
DEMO_REQUEST ?= A glass of water is knocked off a table and shatters on the floor; slow-motion replay of the fall; tense strings.
DEMO_DIR ?= runs/demo

.PHONY: venv browser instruments demo test lint bench soak clean test-audiocraft

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -c constraints.txt -e ".[dev,ui,ray]"
	touch $@

venv: $(VENV)/.installed

demo: venv instruments
	$(VENV)/bin/filmcrew run "$(DEMO_REQUEST)" --run-dir $(DEMO_DIR) --yes

# Browser tests (the HTML eval report, the web UI) drive the system Chromium headless through
# Playwright; no browser is downloaded. Debian/Ubuntu: installed here if missing.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
	    ($$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null) || \
	    echo "warning: no chromium; the browser tests will be skipped (they fail under CI=true)"; }

# Real instruments for the procedural score: FluidSynth and a General MIDI SoundFont (Debian
# packages; installed here if missing). Optional: without them the numpy synthesizer renders the
# stems, the brief's instruments are approximated and the log says so.
instruments:
	@command -v fluidsynth >/dev/null 2>&1 && ls /usr/share/sounds/sf2/*.sf2 >/dev/null 2>&1 || \
	  { SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
	    ($$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq fluidsynth fluid-soundfont-gm >/dev/null) || \
	    echo "note: no fluidsynth + GM SoundFont; the procedural score uses the numpy synth (instruments approximated)"; }

test: venv browser instruments
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q

lint: venv
	$(VENV)/bin/ruff check .

bench: venv
	$(PY) benchmarks/demo_nodes.py

# The whole request corpus (filmcrew/eval/corpus.py) through the whole crew at a tiny format; the
# last result is recorded in benchmarks/RESULTS.md.
soak: venv
	$(PY) benchmarks/soak.py

# audiocraft pins torch 2.1, so its backend is tested in its own environment, without the main
# constraints; filmcrew itself is used from the source tree (PYTHONPATH), with only what it imports.
# audiocraft 1.3.0 pins av==11.0.0, which PyPI has only as source (needs the FFmpeg dev libraries):
# it is installed without deps and its requirements are listed here with av relaxed to wheels.
AC_VENV ?= .venv-audiocraft
test-audiocraft:
	test -x $(AC_VENV)/bin/python || $(PYTHON) -m venv $(AC_VENV)
	$(AC_VENV)/bin/pip install --quiet --upgrade pip
	$(AC_VENV)/bin/pip install --quiet --no-deps audiocraft==1.3.0
	$(AC_VENV)/bin/pip install --quiet torch==2.1.0 "torchaudio>=2.0.0,<2.1.2" torchvision==0.16.0 \
	  torchtext==0.16.0 "xformers<0.0.23" "numpy<2" "av>=12,<13" einops "flashy>=0.0.1" \
	  "hydra-core>=1.1" hydra_colorlog julius num2words sentencepiece "spacy>=3.6.1" huggingface_hub \
	  tqdm "transformers>=4.31,<4.45" demucs torchmetrics encodec protobuf \
	  "pydantic>=2.7" "pydantic-settings>=2.3" soundfile "librosa>=0.10,<1" soxr safetensors pytest
	PYTHONPATH=. $(AC_VENV)/bin/python -m pytest -q -p no:cacheprovider tests/audiocraft

clean:
	rm -rf $(VENV) .venv-audiocraft runs .pytest_cache .ruff_cache
