"""``python -m taxonomist.cli``: the console script without its installed wrapper."""

import sys

from taxonomist.cli.app import main

sys.exit(main())
