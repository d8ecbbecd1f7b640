"""Plan input: a plan file read, checked field by field (every problem with its file, line
and field), its agents and config, batched and triaged."""
