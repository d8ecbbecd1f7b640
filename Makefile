# Two entry points: `make demo` and `make test`. Both create .venv when missing.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install clean real-agents

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/tui-orch demo

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

# The real Claude Code CLI, for tests/test_real_claude.py (which skips without it).
CLAUDE_CODE_VERSION ?= 2.1.197
real-agents:
	npm install --prefix .cache/claude-code --no-audit --no-fund --silent \
		@anthropic-ai/claude-code@$(CLAUDE_CODE_VERSION)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
