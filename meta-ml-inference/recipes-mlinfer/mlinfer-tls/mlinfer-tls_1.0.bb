SUMMARY = "TLS certificate for the appliance's nginx front"
DESCRIPTION = "mlinfer-tls.service runs before nginx on every boot: it uses the \
               certificate provisioned in /etc/nginx/certs, or makes a \
               self-signed one for the device on first boot."
HOMEPAGE = "https://mlinfer.invalid/"
BUGTRACKER = "https://mlinfer.invalid/issues"
SECTION = "net"
# Files of this layer; each carries its SPDX license identifier.
LICENSE = "Apache-2.0"
LIC_FILES_CHKSUM = "file://${WORKDIR}/mlinfer-tls.service.in;beginline=1;endline=1;md5=653b254f286b881bdce1d14afdede628"

SRC_URI = "\
    file://mlinfer-tls-setup \
    file://mlinfer-tls.service.in \
    file://nginx-mlinfer-tls.conf \
"
inherit allarch mlinfer_layout systemd

# Configuration and a script of this layer: no upstream product to match CVEs to.
CVE_PRODUCT = ""

SYSTEMD_SERVICE:${PN} = "mlinfer-tls.service"
SYSTEMD_AUTO_ENABLE:${PN} = "enable"

do_install() {
    install -D -m 0755 ${WORKDIR}/mlinfer-tls-setup ${D}${sbindir}/mlinfer-tls-setup
    install -d ${D}${systemd_system_unitdir}/nginx.service.d
    mlinfer_render ${WORKDIR}/mlinfer-tls.service.in \
        ${D}${systemd_system_unitdir}/mlinfer-tls.service
    install -m 0644 ${WORKDIR}/nginx-mlinfer-tls.conf \
        ${D}${systemd_system_unitdir}/nginx.service.d/mlinfer-tls.conf
}

FILES:${PN} += "${systemd_system_unitdir}"
RDEPENDS:${PN} = "nginx openssl-bin"

BBCLASSEXTEND = ""
