"""Throwaway certificates made with the openssl CLI (valid two days, EC P-256).

    make_named_pki(work, names) -> {"oca.pem", "origin.pem", "origin.key": path}
        a test CA and an origin certificate it signs for DNS `names` and 127.0.0.1
    make_self_signed_cert(directory) -> (cert.pem, key.pem) for CN/SAN 127.0.0.1
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


def make_named_pki(work, names):
    """A test CA (oca.pem) and an origin certificate it signs for DNS `names` and 127.0.0.1."""
    def openssl(*args):
        subprocess.run(["openssl"] + list(args), cwd=work, check=True, capture_output=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", "oca.key", "-out", "oca.pem", "-days", "2",
            "-subj", "/CN=dlproxy test origin CA", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    san = ",".join(f"DNS:{n}" for n in names) + ",IP:127.0.0.1"
    with open(os.path.join(work, "origin.ext"), "w") as f:
        f.write(f"subjectAltName={san}\nbasicConstraints=CA:FALSE\n"
                "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n")
    openssl("req", *ec, "-keyout", "origin.key", "-out", "origin.csr", "-subj", f"/CN={names[0]}")
    openssl("x509", "-req", "-in", "origin.csr", "-CA", "oca.pem", "-CAkey", "oca.key",
            "-CAcreateserial", "-days", "2", "-out", "origin.pem", "-extfile", "origin.ext")
    return {n: os.path.join(work, n) for n in ("oca.pem", "origin.pem", "origin.key")}




def make_self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """(cert.pem, key.pem) for CN/SAN 127.0.0.1, made with the openssl CLI; for HTTPS benches."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=30)
    return cert, key

