"""``python -m cryptoj_actors``: see :mod:`cryptoj_actors.cli`."""

import sys

from cryptoj_actors.cli.main import main

sys.exit(main())
