"""The appliance's TLS front: nginx with the compose stack's configuration, and its certificate.

The image's /etc/nginx/nginx.conf is deploy/nginx/nginx.conf passed through
deploy/nginx/appliance.sed, as the nginx bbappend does it (the same sed, the same files);
nginx -t checks the result with a certificate made by the first-boot script itself
(mlinfer-tls-setup, run here against a temporary directory).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.layer.layerlib import DEPLOY, LAYER, REPO, Recipe, read_metadata, require_tool
from tests.support.tls import self_signed

BBAPPEND = LAYER / "recipes-httpd" / "nginx" / "nginx_%.bbappend"
SED = DEPLOY / "nginx" / "appliance.sed"
TLS_SETUP = LAYER / "recipes-mlinfer" / "mlinfer-tls" / "files" / "mlinfer-tls-setup"
LAYOUT = {
    a.var: a.value
    for a in read_metadata(LAYER / "classes" / "mlinfer_layout.bbclass")[0]
    if a.flag is None
}


def appliance_conf() -> str:
    sed = require_tool("sed", "rendering the appliance's nginx.conf")
    result = subprocess.run(
        [sed, "-f", str(SED), str(DEPLOY / "nginx" / "nginx.conf")],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def tls_setup(directory: Path) -> subprocess.CompletedProcess[str]:
    require_tool("openssl", "mlinfer-tls-setup")
    return subprocess.run(
        ["sh", str(TLS_SETUP), str(directory)], capture_output=True, text=True, timeout=60
    )


def test_bbappend_installs_the_compose_configuration() -> None:
    """The bbappend finds deploy/nginx/nginx.conf first for meta-webserver's
    file://nginx.conf, and applies appliance.sed to it."""
    recipe = Recipe.load(BBAPPEND)
    search = [p.resolve() for p in recipe.filespath()]
    assert search[0] == (DEPLOY / "nginx").resolve()
    assert (search[0] / "nginx.conf").is_file()
    assert "appliance.sed" in recipe.src_uri_files()
    assert "http2" in recipe.words("PACKAGECONFIG")
    assert "sed -i -f ${WORKDIR}/appliance.sed ${D}${sysconfdir}/nginx/nginx.conf" in (
        BBAPPEND.read_text()
    )


def test_appliance_upstreams_are_the_services_on_loopback() -> None:
    conf = appliance_conf()
    upstreams = dict(re.findall(r"upstream\s+(\w+)\s*\{\s*server\s+(\S+?)[;\s]", conf))
    assert upstreams == {
        "mlinfer_rest": f"127.0.0.1:{LAYOUT['MLINFER_HTTP_PORT']}",
        "mlinfer_grpc": f"127.0.0.1:{LAYOUT['MLINFER_GRPC_PORT']}",
        "grafana": "127.0.0.1:3000",
    }
    assert re.search(r"^pid /run/nginx/nginx\.pid;$", conf, re.M), "nginx.service's PIDFile"
    # Everything else is the compose configuration, line for line.
    compose = (DEPLOY / "nginx" / "nginx.conf").read_text().splitlines()
    changed = [a for a, b in zip(compose, conf.splitlines(), strict=True) if a != b]
    assert len(changed) == 4, changed


def test_appliance_configuration_passes_nginx_t(tmp_path: Path) -> None:
    nginx = require_tool("nginx", "nginx -t")
    certs = tmp_path / "certs"
    made = tls_setup(certs)
    assert made.returncode == 0, made.stderr
    (tmp_path / "logs").mkdir()
    conf = appliance_conf().replace("/etc/nginx/", f"{tmp_path}/")
    conf = conf.replace("/var/log/nginx/", f"{tmp_path}/logs/")
    conf = conf.replace("pid /run/nginx/nginx.pid;", f"pid {tmp_path}/nginx.pid;")
    path = tmp_path / "nginx.conf"
    path.write_text(conf)
    result = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-c", str(path), "-e", str(tmp_path / "error.log")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_first_boot_makes_a_device_certificate_once(tmp_path: Path) -> None:
    certs = tmp_path / "certs"
    first = tls_setup(certs)
    assert first.returncode == 0, first.stderr
    crt, key = certs / "tls.crt", certs / "tls.key"
    assert key.stat().st_mode & 0o777 == 0o600
    text = subprocess.run(
        ["openssl", "x509", "-noout", "-text", "-in", str(crt)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    host = subprocess.run(["uname", "-n"], capture_output=True, text=True).stdout.strip()
    assert f"DNS:{host}" in text and "DNS:localhost" in text and "IP Address:127.0.0.1" in text
    before = (crt.read_bytes(), key.read_bytes())
    second = tls_setup(certs)
    assert second.returncode == 0, second.stderr
    assert (crt.read_bytes(), key.read_bytes()) == before, "second boot replaced the pair"


def test_provisioned_certificate_is_used(tmp_path: Path) -> None:
    certs = tmp_path / "certs"
    certs.mkdir()
    self_signed(certs, cert="tls.crt", key="tls.key")
    before = (certs / "tls.crt").read_bytes()
    result = tls_setup(certs)
    assert result.returncode == 0, result.stderr
    assert "using the certificate" in result.stdout
    assert (certs / "tls.crt").read_bytes() == before


@pytest.mark.parametrize("broken", ["mismatched", "key only"])
def test_broken_provisioning_is_refused(tmp_path: Path, broken: str) -> None:
    certs = tmp_path / "certs"
    certs.mkdir()
    self_signed(certs, cert="tls.crt", key="tls.key")
    if broken == "mismatched":
        other = tmp_path / "other"
        other.mkdir()
        self_signed(other, cert="tls.crt", key="tls.key")
        (certs / "tls.key").write_bytes((other / "tls.key").read_bytes())
    else:
        (certs / "tls.crt").unlink()
    result = tls_setup(certs)
    assert result.returncode != 0
    assert "mlinfer-tls-setup:" in result.stderr


def test_nginx_waits_for_the_certificate() -> None:
    dropin = (LAYER / "recipes-mlinfer/mlinfer-tls/files/nginx-mlinfer-tls.conf").read_text()
    assert "Wants=mlinfer-tls.service" in dropin and "After=mlinfer-tls.service" in dropin
    unit = (LAYER / "recipes-mlinfer/mlinfer-tls/files/mlinfer-tls.service.in").read_text()
    assert "@SYSCONFDIR@/nginx/certs" in unit
    assert "/etc/nginx/certs/tls.crt" in (DEPLOY / "nginx" / "nginx.conf").read_text()
    assert REPO.joinpath("deploy/nginx/certs/README.md").is_file()
