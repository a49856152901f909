"""Keys and certificates for a throw-away local control plane.

The API server could generate a self-signed serving certificate itself, but
then clients would have to skip TLS verification. Generating a small CA here
lets the kubeconfig, the controller manager's `--root-ca-file` and the
harness's own HTTP client all verify the server like a real cluster does.
ECDSA P-256 keys because generating RSA keys costs a noticeable part of the
start time; the API server accepts ECDSA for service-account tokens too.

A second CA, the front proxy's, signs the client certificate with which the
API server's aggregation layer calls metrics-server; metrics-server trusts
the user headers of requests that present it.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# The common name of the aggregation layer's client certificate, which the API
# server's --requestheader-allowed-names names.
FRONT_PROXY_CLIENT = "front-proxy-client"
# Names a client inside the cluster would use for the API server.
SERVER_DNS_NAMES = (
    "localhost",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
)


@dataclass(frozen=True)
class Pki:
    """Paths of the PEM files that `generate` wrote."""

    ca_cert: Path
    server_cert: Path
    server_key: Path
    service_account_key: Path
    service_account_public_key: Path
    front_proxy_ca_cert: Path
    front_proxy_client_cert: Path
    front_proxy_client_key: Path


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _ca(
    common_name: str, not_before: dt.datetime, not_after: dt.datetime
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A self-signed CA that may sign leaf certificates only."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return ca_key, ca_cert


def _client_cert(
    common_name: str,
    ca_key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    not_before: dt.datetime,
    not_after: dt.datetime,
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


def generate(directory: Path, service_ips: tuple[str, ...]) -> Pki:
    """Write a CA, a serving certificate for 127.0.0.1 and `service_ips`, a
    service-account signing key pair, and the front proxy's CA and client
    certificate into `directory`."""
    now = dt.datetime.now(dt.UTC)
    not_before = now - dt.timedelta(minutes=5)  # tolerate small clock skew
    not_after = now + dt.timedelta(days=7)

    ca_key, ca_cert = _ca("aihooks-devcluster-ca", not_before, not_after)

    server_key = ec.generate_private_key(ec.SECP256R1())
    addresses = [ipaddress.ip_address(ip) for ip in ("127.0.0.1", *service_ips)]
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("kube-apiserver"))
        .issuer_name(ca_cert.subject)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(name) for name in SERVER_DNS_NAMES]
                + [x509.IPAddress(address) for address in addresses]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    pki = Pki(
        ca_cert=directory / "ca.crt",
        server_cert=directory / "apiserver.crt",
        server_key=directory / "apiserver.key",
        service_account_key=directory / "service-account.key",
        service_account_public_key=directory / "service-account.pub",
        front_proxy_ca_cert=directory / "front-proxy-ca.crt",
        front_proxy_client_cert=directory / "front-proxy-client.crt",
        front_proxy_client_key=directory / "front-proxy-client.key",
    )
    directory.mkdir(parents=True, exist_ok=True)
    pki.ca_cert.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    pki.server_cert.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    _write_key(pki.server_key, server_key)
    service_account_key = ec.generate_private_key(ec.SECP256R1())
    _write_key(pki.service_account_key, service_account_key)
    # The API server reads verification keys only from public-key PEM blocks.
    pki.service_account_public_key.write_bytes(
        service_account_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    proxy_ca_key, proxy_ca_cert = _ca("aihooks-devcluster-front-proxy-ca", not_before, not_after)
    proxy_key, proxy_cert = _client_cert(
        FRONT_PROXY_CLIENT, proxy_ca_key, proxy_ca_cert, not_before, not_after
    )
    pki.front_proxy_ca_cert.write_bytes(proxy_ca_cert.public_bytes(serialization.Encoding.PEM))
    pki.front_proxy_client_cert.write_bytes(proxy_cert.public_bytes(serialization.Encoding.PEM))
    _write_key(pki.front_proxy_client_key, proxy_key)
    return pki
