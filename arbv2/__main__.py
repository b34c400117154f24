import sys

from arbv2.app.cli import main

sys.exit(main())
