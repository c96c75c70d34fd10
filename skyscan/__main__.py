"""``python -m skyscan``: the same as the ``skyscan`` command."""

import sys

from skyscan.cli.main import main

sys.exit(main())
