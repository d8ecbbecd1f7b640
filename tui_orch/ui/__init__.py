"""The Textual cockpit: a thin front end over the engine (events in, approvals out)."""
