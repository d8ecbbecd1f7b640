"""Conflicts between tasks, while they run: unowned edits, overlaps, predicted merge
conflicts, interfaces between tasks' files, and the plan's policy for each kind."""
