"""``python -m jointdist``: see :mod:`jointdist.cli`."""

import sys

from jointdist.cli import main

sys.exit(main())
