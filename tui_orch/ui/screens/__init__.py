"""Screens of the cockpit, one module per screen."""
