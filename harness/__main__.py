"""`python -m harness` is the `harness` command (torchrun launches it this way)."""

import sys

from harness.cli import main

sys.exit(main())
