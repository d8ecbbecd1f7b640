"""The orchestration engine: pure Python, no Textual, no Rich, no UI imports."""
