"""``python -m kling_async.cli``: the same as the ``kling-async`` console script."""

import sys

from . import main

sys.exit(main())
