SUMMARY = "systemd service for NVIDIA Triton on the mlinfer appliance"
DESCRIPTION = "Runs tritonserver (meta-tegra-community triton-server) as \
               tritonserver.service under its own user, serving the mlinfer \
               model repository in explicit model-control mode, with HTTP and \
               gRPC on loopback ports so that the mlinfer services can take \
               the well-known ports 8000 and 8001."
HOMEPAGE = "https://mlinfer.invalid/"
BUGTRACKER = "https://mlinfer.invalid/issues"
SECTION = "console/network"
# Files of this layer; each carries its SPDX license identifier.
LICENSE = "Apache-2.0"
LIC_FILES_CHKSUM = "file://${WORKDIR}/tritonserver.service.in;beginline=1;endline=1;md5=653b254f286b881bdce1d14afdede628"

SRC_URI = "\
    file://tritonserver.env.in \
    file://tritonserver.service.in \
"

inherit mlinfer_layout systemd useradd

CVE_PRODUCT = "nvidia:triton_inference_server"

# Its own unprivileged user. Group video opens the Tegra GPU device nodes
# (/dev/nvhost-*, /dev/nvmap, /dev/nvgpu/*); group ${MLINFER_USER} reads the
# model repository, which belongs to the mlinfer services. Users, paths,
# ports and mlinfer_render: classes/mlinfer_layout.bbclass.
USERADD_PACKAGES = "${PN}"
GROUPADD_PARAM:${PN} = "--system ${MLINFER_TRITON_USER}; --system ${MLINFER_USER}"
USERADD_PARAM:${PN} = "--system --gid ${MLINFER_TRITON_USER} --groups video,${MLINFER_USER} --home-dir /nonexistent --no-create-home --shell ${base_sbindir}/nologin ${MLINFER_TRITON_USER}"

SYSTEMD_SERVICE:${PN} = "tritonserver.service"
SYSTEMD_AUTO_ENABLE:${PN} = "enable"

do_install() {
    install -d ${D}${systemd_system_unitdir} ${D}${sysconfdir}/mlinfer
    mlinfer_render ${WORKDIR}/tritonserver.service.in ${D}${systemd_system_unitdir}/tritonserver.service
    mlinfer_render ${WORKDIR}/tritonserver.env.in ${D}${sysconfdir}/mlinfer/tritonserver.env
}

FILES:${PN} += "${systemd_system_unitdir}/tritonserver.service"
CONFFILES:${PN} = "${sysconfdir}/mlinfer/tritonserver.env"

RDEPENDS:${PN} = "\
    triton-server \
    triton-tensorrt-backend \
"

BBCLASSEXTEND = ""
