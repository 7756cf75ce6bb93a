"""The composition root: everything `mls up` (and the demo) runs, built from one config value.

    config = PlatformConfig(home=Home.from_env(), apply=(Path("svc.yaml"),))
    asyncio.run(Platform(config, out=sys.stdout).run())  # until SIGINT or SIGTERM

As uvicorn splits `Config` from `Server`, `PlatformConfig` (`config.py`) is a value (each
`mls up` flag is one field) and `Platform` (`supervisor.py`) runs it. The platform is two
halves that meet at a process seam (`seam.py`):

- the data plane: the gateway child process and the replica processes, forked by `mls up`
  itself (the supervisor). Requests flow through it and nothing else;
- the control plane (`control.py`): the store, the API, the controllers and the autoscaler,
  a child process of `mls up` that decides what runs and where requests go. It reaches the
  data plane only through `DataPlane`: the engine (whose spawner forks in the supervisor, over
  `engine/local/channel.py`), the gateway's admin channel for routes and signals, and the
  addresses the supervisor bound. It may crash and restart without a request failing.
"""

from mlservice.platform.config import ControlPlaneConfig, DataPlaneConfig, PlatformConfig
from mlservice.platform.control import ControlPlane, RemoteDataPlane
from mlservice.platform.lock import exclusive_home
from mlservice.platform.seam import DataPlane, DataPlaneAddresses
from mlservice.platform.supervisor import ControlPlaneChild, Platform

__all__ = [
    "ControlPlane",
    "ControlPlaneChild",
    "ControlPlaneConfig",
    "DataPlane",
    "DataPlaneAddresses",
    "DataPlaneConfig",
    "Platform",
    "PlatformConfig",
    "RemoteDataPlane",
    "exclusive_home",
]
