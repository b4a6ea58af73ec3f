import sys

from agi_app.cli import main

sys.exit(main())
