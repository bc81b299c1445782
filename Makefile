# kfed: the two commands a new user needs are `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export KFED_DATA_DIR ?= $(CURDIR)/.kfed
DEBS   := bind9 bind9-utils knot knot-dnsutils dnsutils etcd-server dnsperf unbound nsd

.PHONY: run test bench lint deps sysdeps clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

deps: $(STAMP)

# Debian packages for the real DNS and etcd peers the tests start on 127.0.0.1 (on free ports).
# Right after installing, the packaged services that Debian starts are stopped: kfed's tests
# start their own.
sysdeps:
	@missing=""; for p in $(DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing >/dev/null; \
	  for svc in named bind9 knot etcd unbound nsd; do service $$svc stop >/dev/null 2>&1 || true; done; \
	fi

run: deps
	$(VENV)/bin/kfed up --sim-layout seed --data-dir .kfed

test: deps sysdeps
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	$(VENV)/bin/pytest -q -p no:cacheprovider

bench: deps sysdeps
	$(PY) bench/run.py

lint: deps
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
