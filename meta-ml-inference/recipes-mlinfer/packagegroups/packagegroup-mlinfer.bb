SUMMARY = "mlinfer inference appliance: services, Triton with TensorRT, stores"
DESCRIPTION = "Everything the appliance runs: the mlinfer services and the \
               offline optimizer, Triton with its TensorRT backend as a \
               systemd service, nginx terminating TLS in front of them, the \
               nftables firewall, Redis (response cache) and PostgreSQL \
               (model registry metadata), Jetson telemetry and the \
               operator's tools."
HOMEPAGE = "https://mlinfer.invalid/"
BUGTRACKER = "https://mlinfer.invalid/issues"
SECTION = "base"

# Machine-specific: Triton, TensorRT and CUDA are built for the Jetson SoC.
PACKAGE_ARCH = "${MACHINE_ARCH}"

inherit packagegroup

# The services beyond the gateway and the gRPC server (registry, exporter,
# autoscaler) are packages of the mlinfer recipe. htop, iotop, tmux and vim are the
# operator's tools the specification lists for the image (meta-oe, oe-core).
RDEPENDS:${PN} = "\
    htop \
    iotop \
    mlinfer \
    mlinfer-autoscaler \
    mlinfer-data \
    mlinfer-exporter \
    mlinfer-firewall \
    mlinfer-optimizer \
    mlinfer-registry \
    mlinfer-tls \
    nginx \
    postgresql \
    postgresql-client \
    redis \
    tegra-tools-tegrastats \
    tensorrt-trtexec \
    tmux \
    triton-server \
    triton-tensorrt-backend \
    tritonserver-service \
    vim \
"
