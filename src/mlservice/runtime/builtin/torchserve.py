"""Start TorchServe in the foreground on the ports the local engine gave this replica.

    python -m mlservice.runtime.builtin.torchserve --port P --grpc-port G \
        --model-store DIR --models SPEC

TorchServe reads its addresses from `config.properties`, so this writes one in the working
directory (inference on P, gRPC inference on G; management, metrics and gRPC management on
free loopback ports, which nothing outside the replica uses) and then becomes `torchserve`.
Token authorization is switched off: the server listens on loopback only, behind the gateway.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import sys
from pathlib import Path
from typing import NoReturn

EXIT_CANNOT_RUN = 127


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def config_text(*, port: int, grpc_port: int, model_store: str, extra: dict[str, int]) -> str:
    lines = {
        "inference_address": f"http://127.0.0.1:{port}",
        "management_address": f"http://127.0.0.1:{extra['management']}",
        "metrics_address": f"http://127.0.0.1:{extra['metrics']}",
        "grpc_inference_address": "127.0.0.1",
        "grpc_inference_port": str(grpc_port),
        "grpc_management_address": "127.0.0.1",
        "grpc_management_port": str(extra["grpc_management"]),
        "model_store": model_store,
        "disable_token_authorization": "true",
        "enable_model_api": "true",
    }
    return "".join(f"{key}={value}\n" for key, value in lines.items())


def main(argv: list[str]) -> NoReturn:
    parser = argparse.ArgumentParser(prog="mlservice.runtime.builtin.torchserve")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--grpc-port", type=int, required=True)
    parser.add_argument("--model-store", required=True)
    parser.add_argument("--models", default="all")
    args = parser.parse_args(argv)
    program = shutil.which("torchserve")
    if program is None:
        sys.stderr.write("mls: torchserve is not installed on this machine (not on PATH).\n")
        sys.exit(EXIT_CANNOT_RUN)
    extra = {name: free_port() for name in ("management", "metrics", "grpc_management")}
    config = Path("config.properties").resolve()
    config.write_text(
        config_text(
            port=args.port, grpc_port=args.grpc_port, model_store=args.model_store, extra=extra
        )
    )
    command = [program, "--start", "--foreground", "--ncs", "--ts-config", str(config)]
    command += ["--model-store", args.model_store, "--models", args.models]
    os.execv(program, command)


if __name__ == "__main__":
    main(sys.argv[1:])
