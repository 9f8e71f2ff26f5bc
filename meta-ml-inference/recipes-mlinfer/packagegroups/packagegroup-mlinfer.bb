SUMMARY = "mlinfer inference appliance: services, Triton with TensorRT, stores"
DESCRIPTION = "Everything the appliance runs: the mlinfer services and the \
               offline optimizer, Triton with its TensorRT backend as a \
               systemd service, Redis (response cache) and PostgreSQL \
               (model registry metadata), and Jetson telemetry tools."
HOMEPAGE = "https://mlinfer.invalid/"
BUGTRACKER = "https://mlinfer.invalid/issues"
SECTION = "base"

# Machine-specific: Triton, TensorRT and CUDA are built for the Jetson SoC.
PACKAGE_ARCH = "${MACHINE_ARCH}"

inherit packagegroup

# Later services (registry, autoscaler, exporter) are packaged by the mlinfer
# recipe, so they need no change here.
RDEPENDS:${PN} = "\
    mlinfer \
    mlinfer-data \
    mlinfer-optimizer \
    postgresql \
    postgresql-client \
    redis \
    tegra-tools-tegrastats \
    tensorrt-trtexec \
    triton-server \
    triton-tensorrt-backend \
    tritonserver-service \
"
