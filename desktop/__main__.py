"""`python -m desktop` runs the teller desktop."""

import sys

from desktop.cli import main

sys.exit(main())
