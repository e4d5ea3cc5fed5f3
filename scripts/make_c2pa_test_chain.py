"""Make evalkit's UNTRUSTED C2PA test signing chain (a root CA and a leaf certificate).

The chain lets the reference generator sign its clips' Content Credentials out of the box and
lets the tests check signatures offline. It is public (the private key ships with evalkit), so
anyone can sign with it: validators report its signatures as valid but **untrusted**
(``signingCredential.untrusted``), and nothing should trust it. Users who publish clips pass their
own certificate and key (``EVALKIT_C2PA_CERT`` / ``EVALKIT_C2PA_KEY`` or the CLI options).

Exact command that made the shipped files::

    python scripts/make_c2pa_test_chain.py evalkit/c2pa_test_chain

The leaf follows the C2PA certificate profile that c2pa-rs checks: X.509 v3, ECDSA P-256
(ES256), digitalSignature key usage, the emailProtection extended key usage, not a CA, signed by
a separate root.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_NOT_BEFORE = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
_YEARS = 20


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "evalkit UNTRUSTED test chain")])


def _usage(*, sign_certs: bool) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, key_cert_sign=sign_certs,
                         crl_sign=sign_certs, encipher_only=False, decipher_only=False)


def make_chain(folder: Path) -> None:
    not_after = _NOT_BEFORE + dt.timedelta(days=365 * _YEARS)
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = (x509.CertificateBuilder()
            .subject_name(_name("evalkit UNTRUSTED test root")).issuer_name(_name("evalkit UNTRUSTED test root"))
            .public_key(root_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(_NOT_BEFORE).not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_usage(sign_certs=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False)
            .sign(root_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder()
            .subject_name(_name("evalkit reference generator (UNTRUSTED test signer)"))
            .issuer_name(root.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(_NOT_BEFORE).not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_usage(sign_certs=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()),
                           critical=False)
            .sign(root_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "chain.pem").write_bytes(leaf.public_bytes(pem) + root.public_bytes(pem))
    (folder / "root.pem").write_bytes(root.public_bytes(pem))
    (folder / "key.pem").write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    make_chain(parser.parse_args().folder)


if __name__ == "__main__":
    main()
