"""The data dir's own certificate authority, so the API's TLS listener can be verified.

kubectl and the kubernetes client send a bearer token only over TLS, so the API also listens
with TLS; the kubeconfig embeds this CA, and clients verify the listener against it. The CA
signs one certificate, the API's (`127.0.0.1` and `localhost`), and nothing else: it proves
only that the process answering on loopback holds a key from this data dir. The token is
still the only authentication.

    $MLS_HOME/pki/   0700
      ca.crt, ca.key          made once, valid CA_VALIDITY
      server.crt, server.key  re-issued when missing, expiring, or not signed by the CA

Every file is written 0600 through a private temporary file, so a key is never readable by
others, not even briefly. ECDSA P-256: generated in a millisecond, and every TLS stack kubectl,
Python and browsers use accepts it.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_VALIDITY = datetime.timedelta(days=3650)
"""Ten years: every kubeconfig written embeds this CA, so replacing it breaks copies of them."""
SERVER_VALIDITY = datetime.timedelta(days=365)
"""A year: it is re-issued at any start within RENEW_BEFORE of its end, with the same CA."""
RENEW_BEFORE = datetime.timedelta(days=30)
"""Re-issue this long before the end, so a platform left running does not reach it."""
CLOCK_SKEW = datetime.timedelta(minutes=5)
"""Valid from a little before now, for a client whose clock is slightly behind."""
SERVER_HOSTS = ("127.0.0.1", "localhost")
"""What the API's certificate names: where the API listens, as an address and as a name."""


@dataclass(frozen=True)
class Pki:
    """The files of one data dir's PKI (see the module docstring)."""

    folder: Path

    @property
    def ca_cert(self) -> Path:
        return self.folder / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.folder / "ca.key"

    @property
    def server_cert(self) -> Path:
        return self.folder / "server.crt"

    @property
    def server_key(self) -> Path:
        return self.folder / "server.key"

    def ca_pem(self) -> bytes:
        """The CA certificate as PEM, what a kubeconfig embeds."""
        return self.ca_cert.read_bytes()


def ensure_pki(folder: Path, *, now: datetime.datetime | None = None) -> Pki:
    """The PKI in `folder`, made or repaired as the module docstring says."""
    now = now or datetime.datetime.now(datetime.UTC)
    pki = Pki(folder)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.chmod(0o700)  # mkdir leaves an existing folder's mode as it was
    ca = _load_ca(pki, now)
    if ca is None:
        ca = _issue_ca(pki, now)
    if not _server_valid(pki, ca[0], now):
        _issue_server(pki, ca, now)
    return pki


_CA = tuple[x509.Certificate, ec.EllipticCurvePrivateKey]


def _load_ca(pki: Pki, now: datetime.datetime) -> _CA | None:
    loaded = _load_pair(pki.ca_cert, pki.ca_key)
    if loaded is None:
        return None
    cert, key = loaded
    if not _current(cert, now, margin=datetime.timedelta(0)) or not _is_ca(cert):
        return None
    return cert, key


def _server_valid(pki: Pki, ca: x509.Certificate, now: datetime.datetime) -> bool:
    loaded = _load_pair(pki.server_cert, pki.server_key)
    if loaded is None:
        return False
    cert = loaded[0]
    try:
        cert.verify_directly_issued_by(ca)
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, TypeError, InvalidSignature, x509.ExtensionNotFound):
        return False
    return _current(cert, now, margin=RENEW_BEFORE) and _names(names) >= set(SERVER_HOSTS)


def _load_pair(
    cert_path: Path, key_path: Path
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None:
    """A certificate and its key, or None when either is missing, unreadable or they differ."""
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError):
        return None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.public_key() != cert.public_key():
        return None
    return cert, key


def _current(cert: x509.Certificate, now: datetime.datetime, *, margin: datetime.timedelta) -> bool:
    return cert.not_valid_before_utc <= now and now + margin < cert.not_valid_after_utc


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def _names(names: x509.SubjectAlternativeName) -> set[str]:
    ips = {str(ip) for ip in names.get_values_for_type(x509.IPAddress)}
    return ips | set(names.get_values_for_type(x509.DNSName))


def _issue_ca(pki: Pki, now: datetime.datetime) -> _CA:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mlservice CA")])
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        _builder(name, name, key.public_key(), now, CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    _write(pki.ca_key, _key_pem(key))
    _write(pki.ca_cert, cert.public_bytes(serialization.Encoding.PEM))
    return cert, key


def _issue_server(pki: Pki, ca: _CA, now: datetime.datetime) -> None:
    ca_cert, ca_key = ca
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mlservice API")])
    hosts: list[x509.GeneralName] = [
        x509.IPAddress(ipaddress.ip_address(SERVER_HOSTS[0])),
        x509.DNSName(SERVER_HOSTS[1]),
    ]
    aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key())
    cert = (
        _builder(name, ca_cert.subject, key.public_key(), now, SERVER_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(hosts), critical=False)
        .add_extension(aki, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    _write(pki.server_key, _key_pem(key))
    _write(pki.server_cert, cert.public_bytes(serialization.Encoding.PEM))


def _builder(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    now: datetime.datetime,
    validity: datetime.timedelta,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + validity)
    )


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write(path: Path, data: bytes) -> None:
    """0600 from creation (O_EXCL on a private name), then renamed over `path`."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.unlink(missing_ok=True)  # left by a run of the same pid that died mid-write
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(tmp, path)
