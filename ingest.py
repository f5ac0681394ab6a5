"""Build or refresh the Policy Assistant index: ``python ingest.py [corpus_dir]``."""

import sys

from assistant.ingest_cli import main

if __name__ == "__main__":
    sys.exit(main())
