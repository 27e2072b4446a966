"""The program's signing certificate, PAdES certification signatures and their checks.

A report is certified (the first and only signature, DocMDP "no changes"), so any
later edit, even a new signature or annotation, breaks it in every reader. The key
is RSA because PDF/A and older readers expect it. Without a configured PKCS#12 file a
self-signed development certificate is made under ``var/signing/``: fine for trying
the service, useless in court (its name says so).
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import re
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from io import BytesIO
from pathlib import Path
from typing import Any

from compliance.core.files import write_whole
from compliance.core.settings import Settings
from compliance.reporting.stamp import TS_FORMAT, fitted_stamp_style

FIELD_NAME = "Signature"
DEVELOPMENT_NAME = "compliance development certificate - NOT FOR COURT USE"


@dataclass(frozen=True)
class SigningConfig:
    """What a worker needs to sign (picklable; the passphrase never reaches a repr)."""

    p12_path: str
    passphrase: str = field(repr=False)
    timestamp_url: str = ""
    development: bool = False


def signing_config(settings: Settings) -> SigningConfig:
    if settings.signing_p12 is not None:
        return SigningConfig(
            str(settings.signing_p12), settings.signing_passphrase, settings.timestamp_url
        )
    path, passphrase = ensure_development_certificate(settings.var_dir)
    return SigningConfig(str(path), passphrase, settings.timestamp_url, development=True)


def ensure_development_certificate(var_dir: Path) -> tuple[Path, str]:
    """Create ``var/signing/development.p12`` (and its passphrase file) once.

    A batch's worker processes and the server can all start on a fresh folder at once;
    a file lock makes one of them create the pair, so no key is ever read with another
    creator's passphrase. The passphrase is written first: a key on disk has its match.
    """
    folder = var_dir / "signing"
    p12 = folder / "development.p12"
    secret = folder / "development.passphrase"
    if not p12.exists():
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        with (folder / ".create.lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not p12.exists():  # made by another process while this one waited
                passphrase = secrets.token_urlsafe(24)
                _write_private(secret, passphrase.encode())
                _write_private(p12, _self_signed_p12(passphrase))
    return p12, secret.read_text().strip()


def _write_private(target: Path, content: bytes) -> None:
    """Whole file or nothing, readable by us alone; a concurrent creator's file wins."""
    write_whole(target, content, prefix=f".{target.name}-", mode=0o600)


def _self_signed_p12(passphrase: str) -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, DEVELOPMENT_NAME),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "compliance (development)"),
        ]
    )
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=3 * 365))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    from cryptography.hazmat.primitives.serialization import pkcs12

    return pkcs12.serialize_key_and_certificates(
        name=b"compliance-development",
        key=key,
        cert=cert,
        cas=None,
        encryption_algorithm=serialization.BestAvailableEncryption(passphrase.encode()),
    )


@lru_cache(maxsize=4)
def _signer(p12_path: str, passphrase: str, mtime: float) -> Any:
    from pyhanko.sign import signers

    loaded = signers.SimpleSigner.load_pkcs12(p12_path, passphrase=passphrase.encode() or None)
    if loaded is None:
        raise SigningUnavailable(f"cannot open {p12_path}: wrong passphrase or not PKCS#12")
    return _kept_key_signer_class()(
        signing_key=loaded.signing_key,
        signing_cert=loaded.signing_cert,
        cert_registry=loaded.cert_registry,
        signature_mechanism=loaded.signature_mechanism,
    )


@lru_cache(maxsize=1)
def _kept_key_signer_class() -> type:
    """pyHanko's SimpleSigner parses the private key again for every signature, and signs
    twice (once only to size the signature): with a 3072-bit RSA key, 0.4 s a report.
    This one parses it once per process and answers the sizing run without signing."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
    from pyhanko.sign import signers
    from pyhanko.sign.general import get_pyca_cryptography_hash

    class KeptKeySigner(signers.SimpleSigner):
        _key: Any = None

        async def async_sign_raw(
            self, data: bytes, digest_algorithm: str, dry_run: bool = False
        ) -> bytes:
            if dry_run:
                return bytes(self.signing_cert.public_key.bit_size // 8)
            return self.sign_raw(data, digest_algorithm)

        def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
            mechanism = self.get_signature_mechanism_for_digest(digest_algorithm)
            if mechanism.signature_algo != "rsassa_pkcs1v15":
                return super().sign_raw(data, digest_algorithm)
            if self._key is None:
                self._key = serialization.load_der_private_key(
                    self.signing_key.dump(), password=None
                )
            return self._key.sign(data, PKCS1v15(), get_pyca_cryptography_hash(digest_algorithm))

    return KeptKeySigner


class SigningUnavailable(Exception):
    """The signing key cannot be loaded; the message names the file, never the secret."""


def load_signer(config: SigningConfig) -> Any:
    try:
        mtime = os.stat(config.p12_path).st_mtime
    except OSError as exc:
        raise SigningUnavailable(f"cannot read {config.p12_path}: {exc.strerror}") from None
    return _signer(config.p12_path, config.passphrase, mtime)


def certificate_sha256(config: SigningConfig) -> str:
    return hashlib.sha256(load_signer(config).signing_cert.dump()).hexdigest()


def certificate_subject(config: SigningConfig) -> str:
    return load_signer(config).signing_cert.subject.human_friendly


@dataclass(frozen=True)
class SignatureBox:
    """Where the visible signature goes: page index and (x1, y1, x2, y2) in PDF points."""

    page: int
    box: tuple[int, int, int, int]


def sign_pdf(
    pdf: bytes,
    config: SigningConfig,
    where: SignatureBox,
    stamp_lines: list[str],
    reason: str,
    location: str,
    time_zone: str = "UTC",
) -> bytes:
    """Certify ``pdf``: PAdES, DocMDP no changes, visible stamp with an embedded font
    whose last line is the signing time on the program's clock (``time_zone``)."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from pyhanko.sign.timestamps import HTTPTimeStamper

    signer = load_signer(config)
    writer = IncrementalPdfFileWriter(BytesIO(pdf), strict=False)
    meta = signers.PdfSignatureMetadata(
        field_name=FIELD_NAME,
        certify=True,
        docmdp_permissions=fields.MDPPerm.NO_CHANGES,
        subfilter=fields.SigSeedSubFilter.PADES,
        md_algorithm="sha256",
        reason=reason,
        location=location,
        name=stamp_lines[0] if stamp_lines else None,
    )
    style = fitted_stamp_style()(
        lines=tuple(stamp_lines),
        time_zone=time_zone,
        timestamp_format=TS_FORMAT,
        border_width=1,
    )
    pdf_signer = signers.PdfSigner(
        meta,
        signer=signer,
        stamp_style=style,
        timestamper=HTTPTimeStamper(config.timestamp_url) if config.timestamp_url else None,
        new_field_spec=fields.SigFieldSpec(
            sig_field_name=FIELD_NAME, on_page=where.page, box=where.box
        ),
    )
    out = BytesIO()
    pdf_signer.sign_pdf(writer, output=out)
    return out.getvalue()


_PYHANKO_LOGGERS = ("pyhanko", "pyhanko_certvalidator")
_quiet_lock = threading.Lock()
_quiet_depth = 0
_saved_levels: dict[str, int] = {}


@contextmanager
def quiet_pyhanko() -> Iterator[None]:
    """Silence pyHanko's loggers while a check runs: for a malformed or edited upload it
    logs warnings and whole tracebacks (a diff it cannot explain, a broken xref), which
    would land in the CLI's output and the server log. Our verdict says it in words.
    Counted, so overlapping checks in threads restore the levels only when all are done."""
    global _quiet_depth
    with _quiet_lock:
        if _quiet_depth == 0:
            for name in _PYHANKO_LOGGERS:
                _saved_levels[name] = logging.getLogger(name).level
                logging.getLogger(name).setLevel(logging.CRITICAL + 1)
        _quiet_depth += 1
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet_depth -= 1
            if _quiet_depth == 0:
                for name, level in _saved_levels.items():
                    logging.getLogger(name).setLevel(level)


_BYTE_RANGE = re.compile(
    rb"/ByteRange\s*\[\s*(\d{1,15})\s+(\d{1,15})\s+(\d{1,15})\s+(\d{1,15})\s*\]"
)
_REPORT_ID = re.compile(rb"R-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{5}")
_OCTAL = re.compile(rb"\\([0-7]{1,3})")  # pyHanko writes the "-" of "R-" in /Reason as \055
_MAX_SIGNATURES = 8  # ours carry one; an edited copy may carry a few more
_MAX_CANDIDATES = 32  # a crafted upload may hold thousands of /ByteRange decoys


@dataclass(frozen=True)
class SignatureEvidence:
    """One signature found in a file's bytes, and what its CMS container proves."""

    byte_range: tuple[int, int, int, int]
    cms: bytes  # the DER container, without the zero padding of /Contents
    certificate_sha256: str  # the signer's certificate, as the container names it
    made_by_key: bool  # the signature over its signed attributes verifies with that cert
    digest_matches: bool  # the bytes the ByteRange covers are still the bytes signed
    report_ids: tuple[str, ...]  # report ids its signature dictionary names (/Reason)

    @property
    def signed_end(self) -> int:
        """Where the signed revision ends: a longer file has had something appended."""
        return self.byte_range[2] + self.byte_range[3]


def find_signatures(pdf: bytes) -> list[SignatureEvidence]:
    """The signatures a file's bytes carry, read without a PDF parser, so a file cut
    short or patched by hand still shows whose signature it holds. A signature
    dictionary is never compressed, and its /Contents lies exactly between the two
    parts of its /ByteRange, which is all that is needed to find the container."""
    found = []
    with quiet_pyhanko():
        for tried, match in enumerate(_BYTE_RANGE.finditer(pdf)):
            if tried == _MAX_CANDIDATES or len(found) == _MAX_SIGNATURES:
                break
            evidence = _evidence(pdf, match)
            if evidence is not None:
                found.append(evidence)
    return found


def _evidence(pdf: bytes, match: re.Match[bytes]) -> SignatureEvidence | None:
    from asn1crypto import cms
    from pyhanko.sign.validation.generic_cms import validate_sig_integrity

    a, b, c, d = (int(n) for n in match.groups())
    if a != 0 or not b < c <= len(pdf) or pdf[b : b + 1] != b"<" or pdf[c - 1 : c] != b">":
        return None
    try:
        info = cms.ContentInfo.load(bytes.fromhex(pdf[b + 1 : c - 1].decode("ascii")))
        signed = info["content"]
        signer_info = signed["signer_infos"][0]
        cert = _signer_certificate(signed, signer_info)
        if cert is None:
            return None
        algorithm = signer_info["digest_algorithm"]["algorithm"].native
        digest = hashlib.new(algorithm, pdf[a : a + b] + pdf[c : c + d]).digest()
        matches, made_by_key = validate_sig_integrity(signer_info, cert, "data", digest)
        der = info.dump()
    except Exception:  # a hostile or damaged container: whatever it is, it proves nothing
        return None
    start = pdf.rfind(b" obj", 0, match.start())
    end = pdf.find(b"endobj", c)
    dictionary = pdf[max(start, 0) : b] + pdf[c : end if end != -1 else c + 4096]
    dictionary = _OCTAL.sub(lambda m: bytes([int(m[1], 8) & 0xFF]), dictionary)
    ids = tuple(dict.fromkeys(x.decode() for x in _REPORT_ID.findall(dictionary)))
    return SignatureEvidence(
        byte_range=(a, b, c, d),
        cms=der,
        certificate_sha256=hashlib.sha256(cert.dump()).hexdigest(),
        made_by_key=bool(made_by_key),
        digest_matches=bool(matches) and len(pdf) >= c + d,
        report_ids=ids,
    )


def _signer_certificate(signed: Any, signer_info: Any) -> Any:
    sid = signer_info["sid"]
    for choice in signed["certificates"] or []:
        if choice.name != "certificate":
            continue
        cert = choice.chosen
        if sid.name == "issuer_and_serial_number":
            if (
                cert.issuer == sid.chosen["issuer"]
                and cert.serial_number == sid.chosen["serial_number"].native
            ):
                return cert
        elif cert.key_identifier == sid.chosen.native:
            return cert
    return None


@dataclass(frozen=True)
class SignatureCheck:
    """What pyHanko makes of a PDF's signature, checked against our certificate."""

    signed: bool
    intact: bool = False
    valid: bool = False  # cryptographically valid and made with a trusted certificate
    certified: bool = False
    no_changes_allowed: bool = False
    whole_file: bool = False
    ours: bool = False  # made with our certificate, whether or not the file still matches
    signer: str = ""
    signed_at: datetime | None = None
    problem: str = ""

    @property
    def ok(self) -> bool:
        return self.intact and self.valid and self.certified and self.whole_file


def check_signature(pdf: bytes, config: SigningConfig) -> SignatureCheck:
    """Validate the PDF's first signature with our certificate as the trust root."""
    with quiet_pyhanko():
        return _check_signature(pdf, config)


def _check_signature(pdf: bytes, config: SigningConfig) -> SignatureCheck:
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.fields import MDPPerm
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.status import SignatureCoverageLevel
    from pyhanko_certvalidator import ValidationContext

    try:
        reader = PdfFileReader(BytesIO(pdf), strict=False)
        signatures = reader.embedded_signatures
    except Exception as exc:  # not a PDF, or too broken to read
        return SignatureCheck(
            signed=False, problem=f"not a readable PDF ({exc.__class__.__name__})"
        )
    if not signatures:
        return SignatureCheck(signed=False, problem="the PDF carries no signature")
    cert = load_signer(config).signing_cert
    context = ValidationContext(trust_roots=[cert], allow_fetching=False)
    embedded = signatures[0]
    try:
        ours = embedded.signer_cert.dump() == cert.dump()
    except Exception:
        ours = False
    try:
        status = validate_pdf_signature(embedded, context)
    except Exception as exc:  # pyHanko's own errors, or a container too broken to read
        return SignatureCheck(signed=True, ours=ours, problem=str(exc) or type(exc).__name__)
    return SignatureCheck(
        signed=True,
        intact=status.intact,
        valid=status.valid and status.trusted,
        certified=embedded.docmdp_level is not None,
        no_changes_allowed=embedded.docmdp_level == MDPPerm.NO_CHANGES and bool(status.docmdp_ok),
        whole_file=status.coverage == SignatureCoverageLevel.ENTIRE_FILE,
        ours=ours,
        signer=status.signing_cert.subject.human_friendly,
        signed_at=status.signer_reported_dt,
    )
