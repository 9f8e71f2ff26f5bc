SUMMARY = "nftables firewall of the mlinfer appliance"
DESCRIPTION = "A default-drop inbound ruleset: only nginx (HTTPS and its HTTP \
               redirect), SSH and, from the metrics source networks, the \
               metrics ports are open; the services' own ports, Triton, Redis \
               and PostgreSQL stay closed. mlinfer-firewall.service loads it \
               before the network comes up."
HOMEPAGE = "https://mlinfer.invalid/"
BUGTRACKER = "https://mlinfer.invalid/issues"
SECTION = "net"
# Files of this layer; each carries its SPDX license identifier.
LICENSE = "Apache-2.0"
LIC_FILES_CHKSUM = "file://${WORKDIR}/mlinfer-firewall.service.in;beginline=1;endline=1;md5=653b254f286b881bdce1d14afdede628"

SRC_URI = "\
    file://mlinfer-firewall.nft.in \
    file://mlinfer-firewall.service.in \
"

inherit allarch mlinfer_layout systemd

# Configuration and a script of this layer: no upstream product to match CVEs to.
CVE_PRODUCT = ""

SYSTEMD_SERVICE:${PN} = "mlinfer-firewall.service"
SYSTEMD_AUTO_ENABLE:${PN} = "enable"

do_install() {
    install -d ${D}${systemd_system_unitdir} ${D}${sysconfdir}/mlinfer
    mlinfer_render ${WORKDIR}/mlinfer-firewall.service.in \
        ${D}${systemd_system_unitdir}/mlinfer-firewall.service
    # MLINFER_SSH_PORT = "" closes SSH (an image without an SSH server).
    if [ -z "${MLINFER_SSH_PORT}" ]; then
        sed -i '/@MLINFER_SSH_PORT@/d' ${WORKDIR}/mlinfer-firewall.nft.in
    fi
    mlinfer_render ${WORKDIR}/mlinfer-firewall.nft.in ${D}${sysconfdir}/mlinfer/firewall.nft
}

FILES:${PN} += "${systemd_system_unitdir}/mlinfer-firewall.service"
CONFFILES:${PN} = "${sysconfdir}/mlinfer/firewall.nft"
RDEPENDS:${PN} = "nftables"

BBCLASSEXTEND = ""
