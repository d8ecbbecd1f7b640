"""Output adapters: an agent's raw output line in, what to show and what it says of the
agent (its activity, tokens and cost, session, refusals, final message) out.

One module per output format, pure (no I/O): the raw line always goes to the log file
first; an adapter only decides how it reads on screen. Malformed, truncated and unknown
lines never raise: they are shown as they are, or passed over.
"""
