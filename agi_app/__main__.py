import sys

from agi_app.entry.cli import main

sys.exit(main())
