"""The repository: git calls and the lock that keeps them safe, worktrees and branches,
snapshots of a worktree, merges, and where worktrees live."""
