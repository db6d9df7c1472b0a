"""lighttpd: web servers on 80 and 443 (self-signed TLS), a camera-like one and a plain one.

``LighttpdCamera`` protects everything with Digest authentication (lighttpd's
mod_auth, htdigest backend) in the realm ``Network Camera``, one of the
generic camera realms in rapid7/recog's http_wwwauth.xml, as many white-label
cameras do. ``LighttpdPlain`` serves an ordinary intranet page: a web server
and nothing more, so not a camera. Both bind the peer's address only.
"""

from __future__ import annotations

import hashlib
import subprocess
from dataclasses import dataclass
from typing import ClassVar

from tests.lab import netlab
from tests.lab.peers.base import Peer, ReadyLine

REALM = "Network Camera"
USER = "admin"
PASSWORD = "Lab-web-1"

_CONFIG = """server.modules = ("mod_auth", "mod_authn_file", "mod_openssl")
server.document-root = "{docroot}"
server.bind = "{ip}"
server.port = 80
server.errorlog = "{workdir}/error.log"
server.tag = "lighttpd"
index-file.names = ("index.html")
mimetype.assign = (".html" => "text/html; charset=utf-8")
$SERVER["socket"] == "{ip}:443" {{
  ssl.engine = "enable"
  ssl.pemfile = "{workdir}/cert.pem"
  ssl.privkey = "{workdir}/key.pem"
}}
{auth}
"""

_AUTH = """auth.backend = "htdigest"
auth.backend.htdigest.userfile = "{workdir}/htdigest"
auth.require = ("/" => ("method" => "digest", "realm" => "{realm}", "require" => "valid-user"))
"""


@dataclass(eq=False)
class _Lighttpd(Peer):
    kind: ClassVar[str] = "lighttpd"
    needs: ClassVar[tuple[str, ...]] = ("lighttpd", "openssl")
    title: ClassVar[str] = ""
    subject: ClassVar[str] = ""
    realm: ClassVar[str | None] = None

    def _certificate(self) -> None:
        # A P-256 key: quick to make on a loaded machine, unlike RSA.
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-days",
                "2",
                "-subj",
                self.subject,
                "-keyout",
                str(self.workdir / "key.pem"),
                "-out",
                str(self.workdir / "cert.pem"),
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )

    def launch(self, lab: netlab.Lab) -> list[ReadyLine]:
        """Write certificate, pages and config; run lighttpd in the foreground."""
        self._certificate()
        docroot = self.workdir / "www"
        docroot.mkdir(exist_ok=True)
        (docroot / "index.html").write_text(
            f"<!DOCTYPE html><html><head><title>{self.title}</title></head>"
            f"<body><h1>{self.title}</h1></body></html>\n",
            encoding="utf-8",
        )
        auth = ""
        if self.realm:
            digest = hashlib.md5(f"{USER}:{self.realm}:{PASSWORD}".encode()).hexdigest()
            (self.workdir / "htdigest").write_text(f"{USER}:{self.realm}:{digest}\n")
            auth = _AUTH.format(workdir=self.workdir, realm=self.realm)
        config = self.workdir / "lighttpd.conf"
        config.write_text(
            _CONFIG.format(docroot=docroot, ip=self.ip, workdir=self.workdir, auth=auth),
            encoding="utf-8",
        )
        self.start(lab, ["lighttpd", "-D", "-f", str(config)], "server")
        return []

    def checks(self) -> list[list[str]]:
        """Both the plain and the TLS port answer HTTP."""
        return [
            ["http", self.ip, "--port", "80"],
            ["http", self.ip, "--port", "443", "--tls"],
        ]


@dataclass(eq=False)
class LighttpdCamera(_Lighttpd):
    """A web UI behind Digest auth in a camera realm."""

    kind: ClassVar[str] = "lighttpd-camera"
    camera: ClassVar[bool] = True
    evidence: ClassVar[str] = f'HTTP 401 with Digest realm "{REALM}" (generic camera realm)'
    title: ClassVar[str] = "Network Camera"
    subject: ClassVar[str] = "/CN=ipcam.lab.invalid/O=Lab"
    realm: ClassVar[str | None] = REALM


@dataclass(eq=False)
class LighttpdPlain(_Lighttpd):
    """An ordinary web site: a non-camera."""

    kind: ClassVar[str] = "lighttpd-plain"
    camera: ClassVar[bool] = False
    evidence: ClassVar[str] = "a web page titled like an intranet, no camera evidence"
    title: ClassVar[str] = "Example Ltd intranet"
    subject: ClassVar[str] = "/CN=intranet.lab.invalid/O=Example Ltd"
