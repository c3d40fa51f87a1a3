"""`python -m alsreco.train` = the `train` console script."""
import sys

from .main import main

sys.exit(main())
