"""The request log: CloudEvents for requests and responses of components with a `logger`.

`capture.py` copies an exchange's bodies, `events.py` shapes the events (binary HTTP headers,
CloudEvents JSON lines), `logger.py` delivers them off the request path and `localfile.py`
keeps every one in `$MLS_HOME/logs/requests/`; `human.py` prints them for `mls logs --requests`.
"""
