"""`python -m mlservice.platform`: the control-plane child of `mls up` (see `control.py`)."""

from mlservice.platform.control import main

main()
