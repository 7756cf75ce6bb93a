"""gRPC load with h2load: one pre-encoded ModelInfer call replayed over HTTP/2.

h2load cannot speak protobuf, so the request is framed once here (gRPC's 5-byte prefix: a
compressed flag and a big-endian length) and sent as a raw POST body. h2load sees HTTP 200 even
when the call fails (gRPC puts errors in trailers), so a run is checked by the bytes it received:
every successful call returns the same response message, an error returns none.
"""

import pathlib
import re
import struct
import subprocess

import grpc
import numpy as np
from tritonclient.grpc import service_pb2

from mlsbench.iris import MODEL_NAME
from mlsbench.procs import pinned
from mlsbench.wrk import LoadResult

METHOD = "/inference.GRPCInferenceService/ModelInfer"
# The V2 datatypes a class label can come back as, and where contents keeps them.
_RAW_DTYPES = {"INT64": "<i8", "INT32": "<i4", "FP32": "<f4", "FP64": "<f8"}
_CONTENTS = {"INT64": "int64_contents", "INT32": "int_contents"}
_CONTENTS |= {"FP32": "fp32_contents", "FP64": "fp64_contents"}


def request_message(row: tuple[float, ...]) -> bytes:
    """The serialized ModelInferRequest: one FP32 row in typed contents."""
    request = service_pb2.ModelInferRequest(model_name=MODEL_NAME)
    tensor = request.inputs.add(name="input-0", datatype="FP32", shape=[1, len(row)])
    tensor.contents.fp32_contents.extend(row)
    return bytes(request.SerializeToString())


def frame(message: bytes) -> bytes:
    """`message` as one uncompressed gRPC length-prefixed message."""
    return struct.pack(">BI", 0, len(message)) + message


def prediction_of(response: service_pb2.ModelInferResponse) -> int:
    """The single class in a ModelInferResponse, from raw or typed contents."""
    if not response.outputs:
        raise ValueError(f"ModelInferResponse for {response.model_name!r} has no outputs")
    out = response.outputs[0]
    if response.raw_output_contents:
        values = np.frombuffer(response.raw_output_contents[0], dtype=_RAW_DTYPES[out.datatype])
    else:
        values = np.asarray(getattr(out.contents, _CONTENTS[out.datatype]))
    if values.size != 1:
        raise ValueError(f"output {out.name!r} holds {values.size} values, not one prediction")
    return int(values[0])


class GrpcUnavailable(RuntimeError):
    """The server never opened its gRPC port."""


def wait_serving(target: str, *, timeout: float) -> None:
    """Waits until `target` accepts an HTTP/2 connection; raises GrpcUnavailable after `timeout`."""
    with grpc.insecure_channel(target) as channel:
        try:
            grpc.channel_ready_future(channel).result(timeout=timeout)
        except grpc.FutureTimeoutError as exc:
            raise GrpcUnavailable(f"nothing serves gRPC on {target} after {timeout:g} s") from exc


def call_once(target: str, message: bytes) -> service_pb2.ModelInferResponse:
    """Sends exactly the bytes h2load will send, through a real gRPC client."""
    with grpc.insecure_channel(target) as channel:
        infer = channel.unary_unary(
            METHOD,
            request_serializer=lambda raw: raw,
            response_deserializer=service_pb2.ModelInferResponse.FromString,
        )
        try:
            return infer(message, timeout=10)
        except grpc.RpcError as exc:
            raise RuntimeError(
                f"ModelInfer on {target} failed: {exc.code()} {exc.details()}"
            ) from exc


def _latencies_ms(log_path: pathlib.Path) -> list[float]:
    # h2load's log: start time (us since epoch), HTTP status, duration (us), tab-separated.
    values = []
    for line in log_path.read_text().splitlines():
        parts = line.split("\t")
        if len(parts) >= 3 and parts[1] == "200":
            values.append(int(parts[2]) / 1000)
    return values


def parse(stdout: str, *, latencies_ms: list[float], response_bytes: int) -> LoadResult:
    """A LoadResult from h2load's summary; calls that carried no response count as errors."""
    seconds = float(_grab(r"finished in ([\d.]+)s", stdout))
    succeeded = int(_grab(r"(\d+) succeeded", stdout))
    failed = int(_grab(r"(\d+) failed", stdout)) + int(_grab(r"(\d+) errored", stdout))
    data = _data_bytes(stdout)
    answered = min(succeeded, data // response_bytes) if response_bytes else succeeded
    if not latencies_ms:
        raise ValueError("h2load logged no successful request")
    p50, p99 = np.percentile(latencies_ms, [50, 99])
    return LoadResult(
        requests=answered,
        seconds=seconds,
        p50_ms=float(p50),
        p99_ms=float(p99),
        errors=failed + succeeded - answered,
        suspect=_log_disagrees(stdout, latencies_ms, succeeded=succeeded),
    )


_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _log_disagrees(stdout: str, latencies_ms: list[float], *, succeeded: int) -> str:
    """Seen here now and then: h2load's per-request log covers only part of the run, or holds
    durations far above the maximum its own summary reports. Percentiles from such a log are
    wrong, so the run is flagged."""
    if len(latencies_ms) < 0.9 * succeeded:
        return f"h2load logged {len(latencies_ms)} of its {succeeded} calls"
    match = re.search(r"time for request:\s+\S+\s+\S+\s+([\d.]+)(us|ms|s)\b", stdout)
    if match is None:
        return ""
    summary_ms = float(match.group(1)) * _UNIT_MS[match.group(2)]
    log_ms = float(np.mean(latencies_ms))
    if abs(log_ms - summary_ms) <= 0.25 * summary_ms + 0.5:
        return ""
    return f"h2load's log mean {log_ms:.1f} ms disagrees with its summary mean {summary_ms:.1f} ms"


def _grab(pattern: str, text: str) -> str:
    match = re.search(pattern, text)
    if match is None:
        raise ValueError(f"h2load output has no {pattern!r}:\n{text[-1500:]}")
    return match.group(1)


def _data_bytes(stdout: str) -> int:
    # "traffic: 1.2MB (1234567) total, 12KB (12345) headers (space savings 90%), 9KB (9876) data"
    return int(_grab(r"\((\d+)\) data", stdout))


def run(
    url: str,
    *,
    body: pathlib.Path,
    log: pathlib.Path,
    clients: int,
    streams: int,
    seconds: int,
    core: int | None,
) -> tuple[str, list[float]]:
    """h2load for `seconds`, its per-request log in `log`; returns its stdout and the
    latencies it logged."""
    log.unlink(missing_ok=True)
    argv = ["h2load", "-t1", f"-c{clients}", f"-m{streams}", f"-D{seconds}"]
    argv += ["-d", str(body), "-H", "content-type: application/grpc", "-H", "te: trailers"]
    argv += [f"--log-file={log}", url + METHOD]
    result = subprocess.run(
        pinned(argv, core), capture_output=True, text=True, timeout=seconds + 60, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"h2load against {url} exited {result.returncode}: {result.stdout}")
    return result.stdout, _latencies_ms(log)
