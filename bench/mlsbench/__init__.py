"""The server benchmark's parts: the model, the servers under test, load generators, reports."""
