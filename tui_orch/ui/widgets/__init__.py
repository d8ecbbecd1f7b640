"""Widgets of the cockpit, one module per family."""
