"""``python -m billbeat.cli``: the same as the ``billbeat`` command."""

import sys

from billbeat.cli.run import main

sys.exit(main())
