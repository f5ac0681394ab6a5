"""``python -m training.safeguarding``: see `training.safeguarding`."""

import sys

from . import main

sys.exit(main())
