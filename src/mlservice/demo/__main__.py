"""`python -m mlservice.demo [--home DIR] [--api-port P] [--api-tls-port P] [--gateway-port P]`:
what `make run` runs. Ports default to `mls up`'s (API 8787, TLS API 6443 or a free one when
taken, gateway 8080); 0 picks free ones."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mlservice.demo.session import REPO, DemoConfig, run_demo
from mlservice.errors import MLServiceError
from mlservice.home import Home


def parse(argv: list[str]) -> DemoConfig:
    parser = argparse.ArgumentParser(prog="python -m mlservice.demo", description=__doc__)
    parser.add_argument("--home", type=Path, help="data dir (default: $MLS_HOME, ~/.mlservice)")
    parser.add_argument("--api-port", type=int, default=8787, help="API port (0: any free one)")
    parser.add_argument(
        "--api-tls-port", type=int, default=None, help="TLS API port (0: any free one)"
    )
    parser.add_argument(
        "--gateway-port", type=int, default=8080, help="gateway port (0: any free one)"
    )
    parser.add_argument(
        "--gateway-grpc-port",
        type=int,
        default=None,
        help="gateway gRPC port (0: any free one; default 8081, or a free one when taken)",
    )
    parser.add_argument(
        "--examples", type=Path, default=REPO / "examples", help="folder with demo.yaml and data/"
    )
    parser.add_argument(
        "--ready-timeout", type=float, default=300.0, help="seconds to wait for Ready"
    )
    args = parser.parse_args(argv)
    return DemoConfig(
        home=Home.from_env(args.home),
        api_port=args.api_port,
        api_tls_port=args.api_tls_port,
        gateway_port=args.gateway_port,
        gateway_grpc_port=args.gateway_grpc_port,
        examples=args.examples.resolve(),
        ready_timeout=args.ready_timeout,
    )


def main(argv: list[str] | None = None) -> int:
    config = parse(sys.argv[1:] if argv is None else argv)
    try:
        run_demo(config, out=sys.stdout)
    except (MLServiceError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl-C before `mls up` took over SIGINT (while training)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
