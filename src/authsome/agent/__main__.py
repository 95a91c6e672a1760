"""`python -m authsome.agent`: what the helpers' client spawns (see `server`)."""

import sys

from authsome.agent.server import main

sys.exit(main())
