"""A throw-away certificate authority for the local HTTPS stand-ins.

The CA and a server certificate for ``127.0.0.1`` / ``localhost`` are written to a temp
directory. Clients trust them the production way, through ``REQUESTS_CA_BUNDLE`` (msal via
requests) and ``SSL_CERT_FILE`` (aiohttp via ``bot.teams.outbound.http``): ``ca_bundle_path``
holds certifi's public roots plus the test CA, so public hosts keep working too.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

import certifi
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_ENV_VARS = ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")


@dataclass(frozen=True)
class TestCA:
    """Paths of a generated CA, the loopback server certificate and the combined bundle."""

    __test__ = False  # not a pytest test class

    directory: Path
    ca_cert_path: Path
    server_cert_path: Path
    server_key_path: Path
    ca_bundle_path: Path

    def server_ssl_context(self) -> ssl.SSLContext:
        """An SSL context for a stand-in server on 127.0.0.1 / localhost."""
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.server_cert_path, self.server_key_path)
        return ctx

    def client_ssl_context(self) -> ssl.SSLContext:
        """An SSL context that trusts the test CA only (for test clients)."""
        return ssl.create_default_context(cafile=str(self.ca_cert_path))

    def env(self) -> dict[str, str]:
        """Environment variables that make msal/requests and aiohttp trust the test CA."""
        return {name: str(self.ca_bundle_path) for name in CA_ENV_VARS}


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "maebashi-bot tests"),
        ]
    )


def create_test_ca(directory: str | os.PathLike[str] | None = None) -> TestCA:
    """Make a CA and a server certificate for 127.0.0.1, ::1 and localhost in ``directory``."""
    out = Path(directory) if directory else Path(tempfile.mkdtemp(prefix="test-ca-"))
    out.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("maebashi-bot test CA")
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
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
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.IPAddress(ipaddress.ip_address("::1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )

    pem = serialization.Encoding.PEM
    ca_pem = ca_cert.public_bytes(pem)
    ca_cert_path = out / "ca.pem"
    ca_cert_path.write_bytes(ca_pem)
    server_cert_path = out / "server.pem"
    server_cert_path.write_bytes(server_cert.public_bytes(pem))
    server_key_path = out / "server.key"
    server_key_path.write_bytes(
        server_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    bundle_path = out / "bundle.pem"
    bundle_path.write_bytes(Path(certifi.where()).read_bytes() + b"\n" + ca_pem)
    return TestCA(out, ca_cert_path, server_cert_path, server_key_path, bundle_path)


async def serve_on_loopback(
    app: web.Application, ssl_context: ssl.SSLContext | None, port: int = 0
) -> tuple[web.AppRunner, int]:
    """Start ``app`` on 127.0.0.1 (``port`` 0: an ephemeral one); returns the runner and the port."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port, ssl_context=ssl_context)
    await site.start()
    server = site._server
    assert server is not None and server.sockets  # type: ignore[union-attr]
    port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, int(port)


_shared: TestCA | None = None


def load_test_ca(directory: str | os.PathLike[str]) -> TestCA | None:
    """The CA earlier written to ``directory`` by ``create_test_ca``, if it is complete."""
    out = Path(directory)
    names = ("ca.pem", "server.pem", "server.key", "bundle.pem")
    if not all((out / name).is_file() for name in names):
        return None
    return TestCA(out, *(out / name for name in names))


def shared_test_ca() -> TestCA:
    """One CA per process; with ``TEST_CA_DIR`` set, one CA shared by every process using that dir."""
    global _shared
    if _shared is None:
        directory = os.environ.get("TEST_CA_DIR")
        _shared = (load_test_ca(directory) if directory else None) or create_test_ca(directory)
    return _shared


if __name__ == "__main__":
    ca = shared_test_ca()
    for key, value in ca.env().items():
        print(f"export {key}={value}")
