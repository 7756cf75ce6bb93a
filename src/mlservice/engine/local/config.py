"""Settings of the local engine. Defaults suit `mls up`; tests shrink the timings."""

from __future__ import annotations

from dataclasses import dataclass

from mlservice.engine.local.ports import DEFAULT_RANGE
from mlservice.home import Home


@dataclass(frozen=True)
class LocalEngineConfig:
    home: Home
    """Replica directories, logs and pidfiles live under `home.replicas`."""

    gateway_address: str = "127.0.0.1:8080"
    """Where replicas reach the gateway: a transformer's `PREDICTOR_HOST` (with the
    predictor's host in `PREDICTOR_HOST_HEADER`), since `*.localhost` names do not resolve."""

    port_range: tuple[int, int] = DEFAULT_RANGE
    """Replica ports come from here: below the kernel's ephemeral range, so outgoing
    connections never take a port a replica is about to listen on (`mls up --port-range`)."""

    port_quarantine: float = 30.0
    """Seconds a freed port rests before reuse, so stale routes never reach a new replica."""

    probe_period: float = 0.5
    """Seconds between readiness checks when the probe sets no `periodSeconds`. Shorter than
    Kubernetes' 10 s: a local replica should be routable as soon as it answers."""

    startup_probe_period: float = 0.025
    """Seconds between readiness checks until a replica is first ready (when the probe sets
    no `periodSeconds`): a scale-from-zero waits on this, not on `probe_period`."""

    probe_timeout: float = 1.0
    """Seconds one readiness check may take when the probe sets no `timeoutSeconds`."""

    backoff_base: float = 0.5
    """Delay before the first restart after a crash; doubles with each further crash."""

    backoff_cap: float = 10.0
    """The longest delay between restarts (Kubernetes uses 300 s; a local user is waiting)."""

    stable_after: float = 30.0
    """A process that stayed up this long before exiting restarts with the base delay again."""

    stop_grace: float = 5.0
    """Seconds between SIGTERM and SIGKILL when stopping a replica."""

    watchdog_period: float = 0.5
    """Seconds between RSS checks of replicas with `limits.memory`."""

    port_retry: float = 1.0
    """Seconds between checks whether a taken fixed port freed up."""

    log_tail_lines: int = 20
    """Log lines quoted in the message of a crashed replica."""

    log_max_bytes: int = 10 * 2**20
    """A container log past this size moves to `<container>.log.1` at the next start."""

    warm_standby: bool = False
    """Keep one `mls serve` standby with scikit-learn imported, for fast sklearn replica
    starts (`standby.py`); costs an idle process of ~165 MB RSS. `mls up` turns it on."""

    adoption_grace: float = 30.0
    """Seconds a restarted control plane gives the controllers to claim the replicas its
    predecessor left running (same revision and hash) before it stops the unclaimed ones."""

    address_in_use_retries: int = 5
    """Restarts on a fresh port after "address in use" before it counts as a crash after all
    (a program may print the phrase about some other port)."""
