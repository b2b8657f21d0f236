import sys

from clockwf.cli import main

sys.exit(main())
