"""``python -m storyreel``."""

import sys

from storyreel.cli import main

sys.exit(main())
