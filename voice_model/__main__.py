"""Entry point: ``python -m voice_model`` (see ``voice_model.cli``)."""

import sys

from voice_model.cli import main

sys.exit(main())
