"""`python -m alsreco.serve` = the `serve` console script."""
import sys

from .supervisor import main

sys.exit(main())
