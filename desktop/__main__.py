"""`python -m desktop` runs the teller desktop."""

import sys

from desktop.app import main

sys.exit(main())
