"""One run: its state on disk, the orchestrator and its build and finish steps, the events
it emits and the approvals it awaits, status, clean-up and what must hold before a run."""
