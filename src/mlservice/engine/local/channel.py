"""The spawner across a process boundary: `mls up` forks, the control plane supervises.

Replica processes must outlive a crash of the control plane, so they are forked by the
data-plane supervisor (`mls up`), whose death alone ends them (the shim's parent-death signal).
The control plane's engine drives that `Spawner` through this channel: newline-delimited JSON
over a stream socket the supervisor hands its control-plane child.

    client -> service   {"id": 1, "op": "spawn", "launch": {...}}  -> {"id": 1, "pid", "start_time"}
                        {"id": 2, "op": "running"}                 -> {"id": 2, "processes": [...]}
                        {"op": "signal", "pid": P, "sig": 15}         (no answer)
    service -> client   {"event": "hello", "owner": {"pid", "start_time"}}   first, once
                        {"event": "exit", "pid": P, "code": C}
                        {"event": "gateway-restarted"}        (other news of the data plane)

The service keeps every process running when a client goes away; the next client (a restarted
control plane) lists them with `running` and adopts them. Exits nobody heard are not replayed:
an adopting engine sees the process missing from `running` instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import signal
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlservice.engine.local.pidfiles import ProcessRecord
from mlservice.engine.local.process import (
    Launch,
    ProcessHandle,
    Spawner,
    terminate_group,
)
from mlservice.errors import Unavailable

log = logging.getLogger(__name__)
LIMIT = 16 * 2**20  # a launch carries the whole environment


def launch_json(launch: Launch) -> dict[str, Any]:
    return {
        "argv": list(launch.argv),
        "env": launch.env,
        "cwd": str(launch.cwd),
        "log_path": str(launch.log_path),
        "cpus": sorted(launch.cpus) if launch.cpus else None,
        "tag": launch.tag,
    }


def launch_of(data: dict[str, Any]) -> Launch:
    cpus = data.get("cpus")
    return Launch(
        argv=tuple(data["argv"]),
        env=dict(data["env"]),
        cwd=Path(data["cwd"]),
        log_path=Path(data["log_path"]),
        cpus=frozenset(cpus) if cpus else None,
        tag=str(data.get("tag", "")),
    )


class SpawnService:
    """The supervisor's side: one client at a time (the current control plane)."""

    def __init__(self, spawner: Spawner) -> None:
        self.spawner = spawner
        self._writer: asyncio.StreamWriter | None = None
        self._watched: set[int] = set()

    async def serve(self, sock: socket.socket) -> None:
        """Serve one client on `sock` until it goes away."""
        reader, writer = await asyncio.open_connection(sock=sock, limit=LIMIT)
        self._writer = writer
        owner = self.spawner.owner
        self._send({"event": "hello", "owner": {"pid": owner.pid, "start_time": owner.start_time}})
        try:
            while line := await reader.readline():
                await self._handle(json.loads(line))
        except (ConnectionError, json.JSONDecodeError) as exc:
            log.warning("spawner channel closed: %s", exc)
        finally:
            if self._writer is writer:
                self._writer = None
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _handle(self, request: dict[str, Any]) -> None:
        op = request.get("op")
        if op == "signal":
            live = {p.pid: p for p in await self.spawner.running()}
            process = live.get(int(request["pid"]))
            if process is not None:
                process.signal_group(signal.Signals(int(request["sig"])))
            return
        answer: dict[str, Any] = {"id": request.get("id")}
        try:
            if op == "spawn":
                process = await self.spawner.spawn(launch_of(request["launch"]))
                self._watch(process)
                answer.update(pid=process.pid, start_time=process.start_time)
            elif op == "running":
                running = await self.spawner.running()
                for handle in running:
                    self._watch(handle)
                answer["processes"] = [
                    {"pid": p.pid, "start_time": p.start_time, "tag": p.tag} for p in running
                ]
            else:
                answer["error"] = f"unknown operation {op!r}"
        except OSError as exc:
            answer["error"] = f"{type(exc).__name__}: {exc}"
        self._send(answer)

    def notify(self, event: str) -> None:
        """Tell the current client some other news of the data plane (e.g. the gateway was
        restarted and needs its routes again)."""
        self._send({"event": event})

    def _watch(self, process: ProcessHandle) -> None:
        """Tell whichever client is connected when `process` exits (once per process)."""
        if process.pid in self._watched:
            return
        self._watched.add(process.pid)

        def exited(done: asyncio.Future[int]) -> None:
            self._watched.discard(process.pid)
            self._send({"event": "exit", "pid": process.pid, "code": done.result()})

        process.exited.add_done_callback(exited)

    def _send(self, message: dict[str, Any]) -> None:
        writer = self._writer
        if writer is not None and not writer.is_closing():
            writer.write(json.dumps(message).encode() + b"\n")


class RemoteProcess:
    """A process the supervisor forked; signals go through it (it alone may reap the pid)."""

    def __init__(self, spawner: RemoteSpawner, *, pid: int, start_time: int, tag: str) -> None:
        self.pid = pid
        self.start_time = start_time
        self.tag = tag
        self.exited: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._spawner = spawner

    def signal_group(self, sig: signal.Signals) -> None:
        if not self.exited.done():
            self._spawner.send({"op": "signal", "pid": self.pid, "sig": int(sig)})

    async def terminate(self, grace: float) -> int:
        return await terminate_group(self, grace)


class RemoteSpawner:
    """The control plane's side: a `ProcessSpawner` whose processes the supervisor forks."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._processes: dict[int, RemoteProcess] = {}
        self._hello: asyncio.Future[ProcessRecord] = asyncio.get_running_loop().create_future()
        self.on_event: Callable[[str], None] = lambda event: None
        """Called with any other news of the data plane (`SpawnService.notify`)."""
        self._pump = asyncio.create_task(self._read(), name="spawner channel")
        self.owner = ProcessRecord(0, 0)

    @classmethod
    async def connect(cls, sock: socket.socket) -> RemoteSpawner:
        reader, writer = await asyncio.open_connection(sock=sock, limit=LIMIT)
        spawner = cls(reader, writer)
        spawner.owner = await asyncio.wait_for(asyncio.shield(spawner._hello), 30)
        return spawner

    async def spawn(self, launch: Launch) -> ProcessHandle:
        answer = await self._call({"op": "spawn", "launch": launch_json(launch)})
        if "error" in answer:
            raise OSError(answer["error"])
        return self._handle(int(answer["pid"]), int(answer["start_time"]), launch.tag)

    async def running(self) -> list[ProcessHandle]:
        answer = await self._call({"op": "running"})
        return [
            self._handle(int(p["pid"]), int(p["start_time"]), str(p["tag"]))
            for p in answer.get("processes", [])
        ]

    def send(self, message: dict[str, Any]) -> None:
        if not self._writer.is_closing():
            self._writer.write(json.dumps(message).encode() + b"\n")

    async def aclose(self) -> None:
        self._pump.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._pump
        self._writer.close()
        with contextlib.suppress(ConnectionError):
            await self._writer.wait_closed()

    def _handle(self, pid: int, start_time: int, tag: str) -> RemoteProcess:
        known = self._processes.get(pid)
        if known is None or known.start_time != start_time:
            known = RemoteProcess(self, pid=pid, start_time=start_time, tag=tag)
            self._processes[pid] = known
        return known

    async def _call(self, request: dict[str, Any]) -> dict[str, Any]:
        if self._pump.done():
            raise Unavailable("The data plane's spawner channel is closed.")
        ident = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[ident] = future
        self.send({**request, "id": ident})
        try:
            return await future
        finally:
            self._pending.pop(ident, None)

    async def _read(self) -> None:
        try:
            while line := await self._reader.readline():
                self._dispatch(json.loads(line))
        finally:
            # The supervisor is gone: nothing it forked survives it (parent-death signal).
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(Unavailable("The data plane's spawner went away."))
            for process in self._processes.values():
                if not process.exited.done():
                    process.exited.set_result(-int(signal.SIGKILL))

    def _dispatch(self, message: dict[str, Any]) -> None:
        event = message.get("event")
        if event == "hello":
            owner = message["owner"]
            record = ProcessRecord(int(owner["pid"]), int(owner["start_time"]))
            if not self._hello.done():
                self._hello.set_result(record)
        elif event == "exit":
            process = self._processes.pop(int(message["pid"]), None)
            if process is not None and not process.exited.done():
                process.exited.set_result(int(message["code"]))
        elif event is not None:
            self.on_event(str(event))
        else:
            future = self._pending.get(int(message.get("id") or 0))
            if future is not None and not future.done():
                future.set_result(message)
