"""The demo: a small shop project, a plan for it, and a scripted agent that does the work."""
