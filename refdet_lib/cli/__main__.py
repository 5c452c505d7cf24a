"""`python -m refdet_lib.cli ...` (and `torchrun ... -m refdet_lib.cli train ...`): the same as `refdet ...`."""
import sys

from . import main

sys.exit(main())
