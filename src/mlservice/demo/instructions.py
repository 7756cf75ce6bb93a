"""What the demo prints once the service is Ready: its URL, three curl commands that work as
printed, and where the request log is. Pure text, so a test can check it line by line."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from mlservice.naming import Hosts

READY_PREFIX = "ready:"


@dataclass(frozen=True)
class Addresses:
    gateway: str
    """Where the gateway listens, e.g. http://127.0.0.1:8080."""
    domain: str
    """The host suffix of service URLs (`mls up --domain`)."""
    service_url: str
    """The MLService's status.address.url."""


def curl_commands(
    addresses: Addresses, *, service: str, namespace: str, data: Path
) -> list[tuple[str, str]]:
    """(what it shows, command) for the three requests. Clients connect to the gateway address
    and name the service in the Host header, which works whatever resolves `*.localhost`."""
    hosts = Hosts(addresses.domain)
    host = hosts.service(service, namespace)
    release_host = hosts.release(service, namespace, "v2")
    base = addresses.gateway.rstrip("/")

    def curl(host_header: str, path: str, body: str) -> str:
        return f'curl -s {body} -H "Host: {host_header}" {base}{path}'

    def file(name: str) -> str:
        return shlex.quote(str(data / name))

    return [
        (
            "V1 predict with a PNG, through the transformer (v1 answers, or v2 one time in 5)",
            curl(host, f"/v1/models/{service}:predict", f"-T {file('3.png')}"),
        ),
        (
            "V2 infer with an 8x8 array, through the transformer",
            curl(host, f"/v2/models/{service}/infer", f"-d @{file('3-8x8.json')}"),
        ),
        (
            "release v2 alone, by its own host: the predictor without the transformer",
            curl(release_host, f"/v1/models/{service}:predict", f"-d @{file('3-row.json')}"),
        ),
    ]


def announcement(
    addresses: Addresses, *, service: str, namespace: str, data: Path, request_log: Path, mls: str
) -> str:
    """The block printed once Ready; `mls` is how the user runs the CLI from here."""
    lines = [
        "",
        f"{READY_PREFIX} MLService {service} is serving at {addresses.service_url}",
        "  v1 is the default release (80% of requests), v2 the canary (20%, scales to zero when",
        "  idle); a transformer turns images into features and labels the answer.",
        "",
        f"Try it (the gateway listens on {addresses.gateway}; the Host header picks the service):",
    ]
    for what, command in curl_commands(addresses, service=service, namespace=namespace, data=data):
        lines += [f"  # {what}", f"  {command}"]
    lines += [
        "",
        f"Request log (one CloudEvent a line): {request_log}",
        f"  {mls} logs {service} --requests",
        f"  {mls} describe mlsvc {service}",
        "",
        "Ctrl-C stops everything.",
    ]
    return "\n".join(lines)
