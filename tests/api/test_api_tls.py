"""The API's TLS listener and the kubeconfig: the PKI `mls up` makes once per data dir, and the
official kubernetes client (and kubectl, when installed) reading `$MLS_HOME/kubeconfig` alone."""

from __future__ import annotations

import base64
import datetime
import ipaddress
import os
import signal
import socket
import ssl
import stat
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from cryptography import x509
from kubernetes import client as kube
from kubernetes import config as kube_config
from kubernetes.client.rest import ApiException

from mlservice.api.pki import SERVER_VALIDITY, Pki, ensure_pki
from mlservice.api.server import bind_preferred
from mlservice.cli.background import UpProcess
from mlservice.errors import InvalidInput
from tests.support.cli import mls
from tests.support.kubectl import kubectl_path, needs_kubectl
from tests.support.ports import free_port
from tests.support.up import API_ONLY_ARGS, up_process

GROUP, VERSION, PLURAL = "tensorstack.dev", "v1beta1", "mlservices"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _files(pki: Pki) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(pki.folder.iterdir())}


# The PKI itself, no server.


def test_the_pki_is_a_ca_and_a_server_certificate_for_loopback(tmp_path: Path) -> None:
    pki = ensure_pki(tmp_path / "pki")
    assert _mode(pki.folder) == 0o700
    assert sorted(_files(pki)) == ["ca.crt", "ca.key", "server.crt", "server.key"]
    for path in (pki.ca_cert, pki.ca_key, pki.server_cert, pki.server_key):
        assert _mode(path) == 0o600, path
    ca, server = _cert(pki.ca_cert), _cert(pki.server_cert)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert not server.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    server.verify_directly_issued_by(ca)
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert ca.not_valid_after_utc > server.not_valid_after_utc
    # Python's own verification, as an https client does it, by address and by name.
    context = ssl.create_default_context(cafile=str(pki.ca_cert))
    context.load_cert_chain(pki.server_cert, pki.server_key)  # the key is the certificate's


def test_the_pki_is_made_once_and_repaired_when_needed(tmp_path: Path) -> None:
    pki = ensure_pki(tmp_path / "pki")
    first = _files(pki)
    assert _files(ensure_pki(pki.folder)) == first  # nothing re-issued

    pki.server_cert.unlink()
    again = _files(ensure_pki(pki.folder))
    assert again["ca.crt"] == first["ca.crt"]
    assert again["ca.key"] == first["ca.key"]
    assert again["server.crt"] != first["server.crt"]
    assert again["server.key"] != first["server.key"]

    # Near its end the server certificate is re-issued, by the same CA.
    late = datetime.datetime.now(datetime.UTC) + SERVER_VALIDITY - datetime.timedelta(days=1)
    renewed = _files(ensure_pki(pki.folder, now=late))
    assert renewed["ca.crt"] == first["ca.crt"]
    assert renewed["server.crt"] != again["server.crt"]
    assert _cert(pki.server_cert).not_valid_after_utc > late + datetime.timedelta(days=300)

    # A new CA: the server certificate no longer verifies against it, so it is re-issued.
    pki.ca_key.unlink()
    pki.folder.chmod(0o755)
    ensure_pki(pki.folder)
    assert _mode(pki.folder) == 0o700
    assert pki.ca_cert.read_bytes() != first["ca.crt"]
    _cert(pki.server_cert).verify_directly_issued_by(_cert(pki.ca_cert))

    # A key that is not the certificate's is as good as none.
    pki.server_key.write_bytes(pki.ca_key.read_bytes())
    ensure_pki(pki.folder)
    ssl.create_default_context().load_cert_chain(pki.server_cert, pki.server_key)


# Against a real `mls up`.


def _kubeconfig_client(path: Path) -> kube.ApiClient:
    """A kubernetes client configured from the kubeconfig file alone."""
    configuration = kube.Configuration()
    kube_config.load_kube_config(config_file=str(path), client_configuration=configuration)
    return kube.ApiClient(configuration)


def _mlservice(name: str) -> dict[str, Any]:
    release = {
        "name": "v1",
        "predictor": {"model": {"modelFormat": {"name": "sklearn"}, "modelUri": "pvc://m/"}},
    }
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "MLService",
        "metadata": {"name": name},
        "spec": {"default": "v1", "releases": [release]},
    }


def _lists_and_creates(api_client: kube.ApiClient, namespace: str) -> None:
    api = kube.CustomObjectsApi(api_client)
    created = api.create_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, _mlservice("tls")
    )
    assert created["metadata"]["namespace"] == namespace
    listed = api.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL)
    assert [item["metadata"]["name"] for item in listed["items"]] == ["tls"]
    api.delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "tls")


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


@pytest.mark.e2e
def test_the_kubeconfig_is_private_and_names_the_tls_api(mls_up: UpProcess) -> None:
    path = mls_up.home.kubeconfig
    assert _mode(path) == 0o600
    document = yaml.safe_load(path.read_text())
    tls = mls_up.endpoints["api_tls"]
    assert tls == f"https://127.0.0.1:{_port(tls)}"
    assert _port(tls) != _port(mls_up.api)
    ca = base64.b64decode(document["clusters"][0]["cluster"]["certificate-authority-data"])
    assert ca == Pki(mls_up.home.pki).ca_pem()
    assert document == {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "mls",
                "cluster": {
                    "server": tls,
                    "certificate-authority-data": base64.b64encode(ca).decode(),
                },
            }
        ],
        "users": [{"name": "mls", "user": {"token": mls_up.token}}],
        "contexts": [
            {"name": "mls", "context": {"cluster": "mls", "user": "mls", "namespace": "default"}}
        ],
        "current-context": "mls",
        "preferences": {},
    }


@pytest.mark.e2e
def test_the_kubernetes_client_works_from_the_kubeconfig_alone(
    mls_up: UpProcess, namespace: str
) -> None:
    with _kubeconfig_client(mls_up.home.kubeconfig) as api_client:
        configuration = api_client.configuration
        assert configuration.host == mls_up.endpoints["api_tls"]
        assert configuration.verify_ssl  # the CA verifies, nothing is skipped
        assert configuration.ssl_ca_cert
        _lists_and_creates(api_client, namespace)


@pytest.mark.e2e
@pytest.mark.parametrize("token", ["wrong", None], ids=["wrong-token", "no-token"])
def test_the_tls_api_refuses_a_wrong_or_missing_token(
    mls_up: UpProcess, namespace: str, tmp_path: Path, token: str | None
) -> None:
    document = yaml.safe_load(mls_up.home.kubeconfig.read_text())
    document["users"][0]["user"] = {"token": token} if token else {}
    edited = tmp_path / "kubeconfig"
    edited.write_text(yaml.safe_dump(document))
    with _kubeconfig_client(edited) as api_client:
        api = kube.CustomObjectsApi(api_client)
        with pytest.raises(ApiException) as refused:
            api.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL)
    assert refused.value.status == 401
    assert yaml.safe_load(refused.value.body)["reason"] == "Unauthorized"


@pytest.mark.e2e
def test_only_the_data_dirs_ca_vouches_for_the_tls_api(mls_up: UpProcess) -> None:
    url = f"{mls_up.endpoints['api_tls']}/healthz"
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(url, trust_env=False)  # the system's CAs do not know it
    ours = ssl.create_default_context(cafile=str(Pki(mls_up.home.pki).ca_cert))
    assert httpx.get(url, verify=ours, trust_env=False).status_code == 200
    by_name = url.replace("127.0.0.1", "localhost")
    assert httpx.get(by_name, verify=ours, trust_env=False).status_code == 200
    plain = url.replace("https://", "http://")
    with pytest.raises(httpx.TransportError):
        httpx.get(plain, trust_env=False)  # TLS only on this port


@pytest.mark.e2e
@needs_kubectl()
def test_kubectl_reads_the_kubeconfig(mls_up: UpProcess) -> None:
    done = subprocess.run(
        [kubectl_path(), "--kubeconfig", str(mls_up.home.kubeconfig), "get", "--raw", "/api"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": str(mls_up.home.root)},
    )
    assert done.returncode == 0, done.stderr
    assert yaml.safe_load(done.stdout)["kind"] == "APIVersions"


def _server_in(kubeconfig: Path) -> str:
    return str(yaml.safe_load(kubeconfig.read_text())["clusters"][0]["cluster"]["server"])


def test_a_taken_default_port_falls_back_to_a_free_one() -> None:
    """The default (6443 under `mls up`) taken -> any free port, and the caller is told so; a
    port asked for by name is never replaced. Shown on a free port held here, so the test
    never depends on 6443 and runs beside others."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        default = held.getsockname()[1]
        sock, fell_back = bind_preferred(None, default=default, what="TLS API")
        with sock:
            assert fell_back
            assert sock.getsockname()[1] not in (default, 0)
        with pytest.raises(InvalidInput, match=f"The TLS API port {default} on 127.0.0.1"):
            bind_preferred(default, default=default, what="TLS API")
    free = free_port()
    sock, fell_back = bind_preferred(None, default=free, what="TLS API")
    with sock:
        assert (sock.getsockname()[1], fell_back) == (free, False)


@pytest.mark.e2e
def test_the_kubeconfig_follows_the_port(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with up_process(home, args=API_ONLY_ARGS) as up:
        first = up.endpoints["api_tls"]
        assert f"mlservice TLS API listening on {first} (kubeconfig" in up.log()
        assert _server_in(up.home.kubeconfig) == first
        ca = Pki(up.home.pki).ca_pem()
        # A port asked for by name is not replaced: taken, it is an error.
        clash = mls(
            "up",
            "--home",
            str(tmp_path / "other"),
            "--api-port",
            "0",
            "--api-tls-port",
            str(_port(first)),
        )
        assert clash.returncode == 1
        assert clash.stderr.startswith(
            f"error: The TLS API port {_port(first)} on 127.0.0.1 is already in use"
        )
    port = free_port()
    while port == _port(first):
        port = free_port()
    with up_process(home, args=(*API_ONLY_ARGS, "--api-tls-port", str(port))) as up:
        assert up.endpoints["api_tls"] == f"https://127.0.0.1:{port}"
        assert _server_in(up.home.kubeconfig) == up.endpoints["api_tls"]  # rewritten
        assert _mode(up.home.kubeconfig) == 0o600
        assert Pki(up.home.pki).ca_pem() == ca  # made once per data dir
        with _kubeconfig_client(up.home.kubeconfig) as api_client:
            _lists_and_creates(api_client, "default")


@pytest.mark.e2e
def test_the_whole_platform_serves_the_kubeconfig_across_control_plane_restarts(
    tmp_path: Path,
) -> None:
    """Under the supervisor the control plane serves the TLS socket `mls up` bound and handed
    down, so a restarted one answers on the same port, the kubeconfig's."""
    args = (
        "--api-port",
        "0",
        "--gateway-port",
        "0",
        "--gateway-grpc-port",
        "0",
        "--api-tls-port",
        "0",
        "--no-warm-standby",
    )
    with (
        up_process(tmp_path / "home", args=args) as up,
        _kubeconfig_client(up.home.kubeconfig) as api_client,
    ):
        _lists_and_creates(api_client, "default")
        control = _child(up.pid, b"mlservice.platform")
        os.kill(control, signal.SIGKILL)
        # Callers wait in the backlog of the socket `mls up` still holds.
        api = kube.CustomObjectsApi(api_client)
        listed = api.list_namespaced_custom_object(
            GROUP, VERSION, "default", PLURAL, _request_timeout=60
        )
        assert listed["items"] == []
        assert _child(up.pid, b"mlservice.platform") != control


def _child(parent: int, marker: bytes) -> int:
    """The pid of `parent`'s child whose command line holds `marker`."""
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat_file.read_text().rsplit(") ", 1)[1].split()[1])
            if ppid == parent and marker in (stat_file.parent / "cmdline").read_bytes():
                return int(stat_file.parent.name)
        except (OSError, IndexError, ValueError):
            continue
    raise AssertionError(f"no child of {parent} runs {marker!r}")
