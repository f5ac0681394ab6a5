"""``python -m assistant``: see `assistant.cli`."""

import sys

from .cli import main

sys.exit(main())
