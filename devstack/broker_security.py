"""A SASL_SSL listener with SCRAM users and ACL authorisation for the local broker.

For development and tests only: certificates come from a throw-away CA made with the
``openssl`` command, keys are unencrypted PEM files in the broker's directory, and the
passwords are chosen by the caller. What it sets up is the same shape as production:

* the client listener speaks SASL_SSL; TLS with a broker certificate for 127.0.0.1
  signed by the CA clients trust (``ssl.ca.location``); Kafka reads both as PEM
  (``ssl.keystore.type=PEM``), so no Java keystore is needed;
* SCRAM-SHA-512 users are written into the cluster metadata when the storage is
  formatted (``kafka-storage format --add-scram``), before the first start;
* the StandardAuthorizer denies whatever no ACL allows; the inter-broker ``admin`` user
  is a super user.

The controller listener stays PLAINTEXT on loopback, and its anonymous principal is a
super user: brokers register with the controller over it. Controllers cannot check
SCRAM credentials (those live in the metadata the controller serves), so a production
controller listener uses mutual TLS instead; see docs/security.md.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from devstack.local_kafka import LocalKafkaError

SCRAM_MECHANISM = "SCRAM-SHA-512"
LISTENER = "SASL_SSL"
ADMIN_USER = "admin"
CERTIFICATE_DAYS = 2


class CertificateError(LocalKafkaError):
    """openssl could not make the test CA or the broker certificate."""


@dataclass(frozen=True)
class BrokerCertificates:
    ca_file: Path  # what clients trust
    keystore_file: Path  # the broker's private key and certificate, PEM


def _openssl(*arguments: str, cwd: Path) -> None:
    result = subprocess.run(
        ["openssl", *arguments], cwd=cwd, capture_output=True, text=True, timeout=60
    )
    if result.returncode != 0:
        raise CertificateError(
            f"openssl {arguments[0]} failed: {result.stderr.strip()[-500:]}"
        )


def make_certificates(directory: Path) -> BrokerCertificates:
    """A CA and a broker certificate for 127.0.0.1 and localhost, signed by it."""
    directory.mkdir(parents=True, exist_ok=True)
    # 1. the CA
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes",
        "-keyout", "ca.key", "-out", "ca.pem", "-days", str(CERTIFICATE_DAYS),
        "-subj", "/CN=saas-odoo-pipeline local CA",
        cwd=directory,
    )  # fmt: skip
    # 2. the broker's key and signing request
    _openssl(
        "req", "-newkey", "rsa:2048", "-nodes",
        "-keyout", "broker.key", "-out", "broker.csr", "-subj", "/CN=localhost",
        cwd=directory,
    )  # fmt: skip
    # 3. the certificate, valid for the address clients dial (hostname verification)
    (directory / "broker.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _openssl(
        "x509", "-req", "-in", "broker.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "broker.crt", "-days", str(CERTIFICATE_DAYS),
        "-extfile", "broker.ext",
        cwd=directory,
    )  # fmt: skip
    # 4. Kafka's PEM keystore: the PKCS#8 key followed by the certificate
    keystore = directory / "broker-keystore.pem"
    keystore.write_text(
        (directory / "broker.key").read_text() + (directory / "broker.crt").read_text()
    )
    return BrokerCertificates(ca_file=directory / "ca.pem", keystore_file=keystore)


def _jaas(username: str, password: str) -> str:
    return (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{username}" password="{password}";'
    )


def secured_listener_properties(
    certificates: BrokerCertificates, admin_password: str
) -> dict[str, str]:
    """Broker properties for a SASL_SSL client listener with ACLs enforced."""
    scram = SCRAM_MECHANISM.lower()
    return {
        "sasl.enabled.mechanisms": SCRAM_MECHANISM,
        "sasl.mechanism.inter.broker.protocol": SCRAM_MECHANISM,
        f"listener.name.{LISTENER.lower()}.{scram}.sasl.jaas.config": _jaas(
            ADMIN_USER, admin_password
        ),
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(certificates.keystore_file),
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(certificates.ca_file),
        "authorizer.class.name": (
            "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
        ),
        "allow.everyone.if.no.acl.found": "false",
        "super.users": f"User:{ADMIN_USER};User:ANONYMOUS",
    }


def scram_format_arguments(users: dict[str, str]) -> list[str]:
    """``kafka-storage format`` arguments that create ``users`` (name -> password)."""
    arguments: list[str] = []
    for name, password in users.items():
        arguments += [
            "--add-scram",
            f"{SCRAM_MECHANISM}=[name={name},password={password}]",
        ]
    return arguments
