"""`python -m tui_orch` is the same as the `tui-orch` command."""

import sys

from tui_orch.cli import main

sys.exit(main())
