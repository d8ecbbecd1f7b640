"""Agent processes: the supervisor each agent runs under (it outlives the app), starting
and stopping jobs, following their logs and statuses, and how they ended."""
