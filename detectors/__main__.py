"""``python -m detectors`` = the ``detectors`` command."""

import sys

from detectors.cli import main

sys.exit(main())
