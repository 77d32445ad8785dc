# The front door. `make book` builds the site, `make test` runs every test; both set up
# what they need on a fresh machine (the virtual environment from the lock file, MathJax
# from package-lock.json, and the Debian packages the grader's sandbox needs).

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-lock
MATHJAX := _assets/mathjax/tex-chtml.js
JB := $(VENV)/bin/jupyter-book
# -W: a warning fails the build; -n: broken references warn (so they fail too).
JB_STRICT := $(JB) build . --builder html -W -n --keep-going

.PHONY: book test env assets sysdeps lock release grade-demo clean

book: env assets
	$(JB_STRICT)

test: env assets sysdeps
	$(PY) -m pytest

env: $(STAMP)

$(STAMP): requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	touch $@

assets: $(MATHJAX)

# MathJax is served from the site itself: copy the parts of the pinned npm package that
# tex-chtml.js loads (fonts, TeX extensions it autoloads, the menu and accessibility parts).
$(MATHJAX): package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	rm -rf _assets/mathjax && mkdir -p _assets/mathjax/output/chtml/fonts _assets/mathjax/input/tex
	cd node_modules/mathjax/es5 && cp -r tex-chtml.js ui a11y sre adaptors ../../../_assets/mathjax/
	cp -r node_modules/mathjax/es5/output/chtml/fonts/woff-v2 _assets/mathjax/output/chtml/fonts/
	cp -r node_modules/mathjax/es5/input/tex/extensions _assets/mathjax/input/tex/

# Debian packages the tests need: bubblewrap (the grader's sandbox), chromium (browser
# tests), postgresql (a real gradebook server). Installed when missing, as root.
SYSDEPS := bwrap:bubblewrap chromium:chromium pg_ctlcluster:postgresql
sysdeps:
	@missing=""; for pair in $(SYSDEPS); do \
	  command -v $${pair%%:*} >/dev/null || missing="$$missing $${pair#*:}"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else echo "missing Debian packages:$$missing (install them, or run as root)" >&2; exit 1; fi; fi

# Regenerate the lock file from requirements.txt (the only hand-edited list).
lock:
	rm -rf /tmp/lock-venv && $(PYTHON) -m venv /tmp/lock-venv
	/tmp/lock-venv/bin/pip install --quiet -r requirements.txt
	/tmp/lock-venv/bin/pip freeze --exclude-editable | sort > requirements.lock

release: env
	$(PY) -m autograder release

grade-demo: env sysdeps
	$(PY) -m autograder demo --workspace _build/grade-demo

clean:
	rm -rf _build _assets
