"""Allow `python -m hackkit`."""

import sys

from hackkit.cli import main

sys.exit(main())
