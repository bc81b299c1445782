# kfed: the two commands a new user needs are `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
SYSSTAMP := .sysdeps.installed
DEBS   := bind9 bind9-utils knot knot-dnsutils dnsutils etcd-server dnsperf unbound nsd

.PHONY: run test bench lint deps sysdeps clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

deps: $(STAMP)

# Debian packages for the real DNS and etcd peers the tests start on 127.0.0.1.
sysdeps:
	@missing=""; for p in $(DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing >/dev/null; \
	fi
	@# the packaged services are not wanted running: tests start their own on free ports
	@-systemctl disable --now named knot etcd unbound nsd >/dev/null 2>&1 || true
	@-pkill -x named >/dev/null 2>&1; pkill -x knotd >/dev/null 2>&1; pkill -x etcd >/dev/null 2>&1; pkill -x unbound >/dev/null 2>&1; pkill -x nsd >/dev/null 2>&1; true

run: deps
	$(VENV)/bin/kfed up

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
