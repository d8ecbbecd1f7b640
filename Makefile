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

# The real agent CLIs, pinned, for tests/test_real_claude.py and
# tests/test_real_codex_gemini.py (which skip, saying why, without them).
CLAUDE_CODE_VERSION ?= 2.1.197
CODEX_VERSION ?= 0.171.0
GEMINI_CLI_VERSION ?= 0.61.0
NPM_INSTALL := npm install --no-audit --no-fund --silent --prefix
real-agents:
	$(NPM_INSTALL) .cache/claude-code @anthropic-ai/claude-code@$(CLAUDE_CODE_VERSION)
	$(NPM_INSTALL) .cache/codex @openai/codex@$(CODEX_VERSION)
	$(NPM_INSTALL) .cache/gemini @google/gemini-cli@$(GEMINI_CLI_VERSION)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
