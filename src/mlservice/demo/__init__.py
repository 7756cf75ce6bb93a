"""The `make run` demo: `python -m mlservice.demo` trains two digit classifiers from
scikit-learn's bundled data into volume `demo`, runs `mls up --apply examples/demo.yaml` in the
foreground (MLService `digits`: releases v1 and v2 as a 80/20 canary, a transformer, request
logging, v2 scaling to zero), prints curl commands once it is Ready, and stops cleanly on Ctrl-C.
"""
