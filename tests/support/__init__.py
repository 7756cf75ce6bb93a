"""Helpers every test folder may use, one concern a module: `cli` (running `mls` as a user
does), `ports` (a free loopback port), `polling` (bounded waits), `up` (a real `mls up` and
talking to it), `processes` (what still runs for a data dir), `moto` (an S3 server), `iris` (a
fitted model to serve). Helpers one folder needs stay in that folder."""
