SUMMARY = "Triton-compatible REST and gRPC inference services"
DESCRIPTION = "mlinfer fronts NVIDIA Triton on the appliance: 'mlinfer gateway' \
               serves the Open Inference Protocol (KServe v2) over REST and \
               'mlinfer grpc' serves inference.GRPCInferenceService, each as \
               its own systemd unit. mlinfer-registry (model versions, \
               deploys, canaries), mlinfer-exporter (device telemetry) and \
               mlinfer-autoscaler (model instances) add the other services. \
               mlinfer-optimizer carries the offline ONNX to TensorRT engine \
               builder and mlinfer-data mounts the data partition that holds \
               the model repository."
# The project has no public home yet; .invalid is reserved (RFC 2606) so that
# nothing resolves by accident. Replace both when the repository is published.
HOMEPAGE = "https://mlinfer.invalid/"
BUGTRACKER = "https://mlinfer.invalid/issues"
SECTION = "devel/python"
# Apache-2.0 (pyproject.toml [project].license). The license text ships at
# meta-ml-inference/LICENSE until the repository root gets its own copy.
LICENSE = "Apache-2.0"
LIC_FILES_CHKSUM = "file://meta-ml-inference/LICENSE;md5=3b83ef96387f14655fc854ddc3c6bd57"

# The source is the repository checkout this layer lives in (mlinfer_source:
# externalsrc on the directory above meta-ml-inference/); only the files that
# the layer adds are fetched.
SRC_URI = "\
    file://mlinfer-gateway.service.in \
    file://mlinfer-grpc.service.in \
    file://mlinfer-registry.service.in \
    file://mlinfer-exporter.service.in \
    file://mlinfer-autoscaler.service.in \
    file://mlinfer-secrets.service.in \
    file://mlinfer-secrets-setup \
    file://mlinfer.env.in \
    file://registry.env.in \
    file://exporter.env.in \
    file://autoscaler.env.in \
    file://mlinfer-registry-db-setup \
    file://mlinfer-registry-postgresql.conf.in \
    file://mlinfer-tmpfiles.conf.in \
    file://mlinfer-data.fstab.in \
    file://mlinfer-postgresql.conf.in \
"

inherit mlinfer_layout mlinfer_source python_setuptools_build_meta systemd useradd

CVE_PRODUCT = "mlinfer"

# One systemd unit per service; every service is a subcommand of the single
# `mlinfer` console script ([project.scripts] in pyproject.toml). The gateway
# and the gRPC server are in ${PN}; the registry, the exporter and the
# autoscaler each in a package of their own (MLINFER_SPLIT_SERVICES), with its
# unit, its settings file (/etc/mlinfer/<name>.env) and the dependencies only it
# has, so a device can leave one out. Adding a service: put
# files/mlinfer-<name>.service.in next to the others, list it in SRC_URI and add
# <name> here (and to MLINFER_SPLIT_SERVICES with its package below, if it gets
# one). mlinfer-secrets.service is not a service of its own: it makes the
# device's secrets before the services start.
MLINFER_SERVICES = "gateway grpc registry exporter autoscaler"
MLINFER_SPLIT_SERVICES = "registry exporter autoscaler"

# Users, paths and ports (MLINFER_*) and mlinfer_render come from
# classes/mlinfer_layout.bbclass, shared with tritonserver-service.

USERADD_PACKAGES = "${PN}"
GROUPADD_PARAM:${PN} = "--system ${MLINFER_USER}"
USERADD_PARAM:${PN} = "--system --gid ${MLINFER_USER} --home-dir ${MLINFER_DATADIR} --no-create-home --shell ${base_sbindir}/nologin ${MLINFER_USER}"

SYSTEMD_PACKAGES = "${PN} ${@' '.join('${PN}-%s' % s for s in d.getVar('MLINFER_SPLIT_SERVICES').split())}"
SYSTEMD_SERVICE:${PN} = "mlinfer-secrets.service ${@' '.join('mlinfer-%s.service' % s for s in d.getVar('MLINFER_SERVICES').split() if s not in d.getVar('MLINFER_SPLIT_SERVICES').split())}"
SYSTEMD_SERVICE:${PN}-registry = "mlinfer-registry.service"
SYSTEMD_SERVICE:${PN}-exporter = "mlinfer-exporter.service"
SYSTEMD_SERVICE:${PN}-autoscaler = "mlinfer-autoscaler.service"
SYSTEMD_AUTO_ENABLE = "enable"

do_install:append() {
    install -d ${D}${systemd_system_unitdir}
    for svc in secrets ${MLINFER_SERVICES}; do
        mlinfer_render ${WORKDIR}/mlinfer-$svc.service.in \
            ${D}${systemd_system_unitdir}/mlinfer-$svc.service
    done

    install -d ${D}${sbindir}
    install -m 0755 ${WORKDIR}/mlinfer-secrets-setup ${D}${sbindir}/mlinfer-secrets-setup

    install -d ${D}${sysconfdir}/mlinfer
    mlinfer_render ${WORKDIR}/mlinfer.env.in ${D}${sysconfdir}/mlinfer/mlinfer.env
    for svc in ${MLINFER_SPLIT_SERVICES}; do
        mlinfer_render ${WORKDIR}/$svc.env.in ${D}${sysconfdir}/mlinfer/$svc.env
    done

    install -d ${D}${nonarch_libdir}/tmpfiles.d
    mlinfer_render ${WORKDIR}/mlinfer-tmpfiles.conf.in \
        ${D}${nonarch_libdir}/tmpfiles.d/mlinfer.conf

    install -d ${D}${MLINFER_DATA_MOUNTPOINT} ${D}${datadir}/mlinfer
    mlinfer_render ${WORKDIR}/mlinfer-data.fstab.in ${D}${datadir}/mlinfer/data.fstab

    install -d ${D}${systemd_system_unitdir}/postgresql.service.d
    mlinfer_render ${WORKDIR}/mlinfer-postgresql.conf.in \
        ${D}${systemd_system_unitdir}/postgresql.service.d/mlinfer-data.conf

    install -m 0755 ${WORKDIR}/mlinfer-registry-db-setup ${D}${sbindir}/mlinfer-registry-db-setup
    mlinfer_render ${WORKDIR}/mlinfer-registry-postgresql.conf.in \
        ${D}${systemd_system_unitdir}/postgresql.service.d/mlinfer-registry.conf
}

# mlinfer-data: the /etc/fstab line for the data partition, added when the
# package is installed into a root file system (base-files owns /etc/fstab, so
# the line is appended rather than shipped as a file).
pkg_postinst:${PN}-data() {
    fstab="$D${sysconfdir}/fstab"
    if ! grep -q '[[:space:]]${MLINFER_DATA_MOUNTPOINT}[[:space:]]' "$fstab" 2>/dev/null; then
        cat "$D${datadir}/mlinfer/data.fstab" >> "$fstab"
    fi
}

# The offline optimizer (ONNX -> TensorRT engines, built on the device because
# an engine is specific to the GPU and the TensorRT version) is a split of this
# recipe, not a recipe of its own: it is the same Python distribution, and the
# split keeps TensorRT's Python bindings off devices that only run the gateway
# services. The optimizer code (mlinfer/optimizer/) is not written yet, so the
# package may be empty until it lands; its dependencies are already final.
PACKAGE_BEFORE_PN = "${PN}-optimizer ${PN}-data ${PN}-registry ${PN}-exporter ${PN}-autoscaler"
ALLOW_EMPTY:${PN}-optimizer = "1"

FILES:${PN}-optimizer += "\
    ${PYTHON_SITEPACKAGES_DIR}/mlinfer/optimizer \
    ${bindir}/mlinfer-optimize \
"
FILES:${PN}-data += "\
    ${MLINFER_DATA_MOUNTPOINT} \
    ${datadir}/mlinfer/data.fstab \
    ${systemd_system_unitdir}/postgresql.service.d/mlinfer-data.conf \
"
# The services' code stays in ${PN} (mlinfer serve can host the registry, and
# the gateways read its traffic policies); these packages add what runs them.
FILES:${PN}-registry += "\
    ${systemd_system_unitdir}/mlinfer-registry.service \
    ${systemd_system_unitdir}/postgresql.service.d/mlinfer-registry.conf \
    ${sysconfdir}/mlinfer/registry.env \
    ${sbindir}/mlinfer-registry-db-setup \
"
FILES:${PN}-exporter += "\
    ${systemd_system_unitdir}/mlinfer-exporter.service \
    ${sysconfdir}/mlinfer/exporter.env \
"
FILES:${PN}-autoscaler += "\
    ${systemd_system_unitdir}/mlinfer-autoscaler.service \
    ${sysconfdir}/mlinfer/autoscaler.env \
"
FILES:${PN} += "\
    ${nonarch_libdir}/tmpfiles.d \
    ${systemd_system_unitdir} \
"
CONFFILES:${PN} = "${sysconfdir}/mlinfer/mlinfer.env"
CONFFILES:${PN}-registry = "${sysconfdir}/mlinfer/registry.env"
CONFFILES:${PN}-exporter = "${sysconfdir}/mlinfer/exporter.env"
CONFFILES:${PN}-autoscaler = "${sysconfdir}/mlinfer/autoscaler.env"

# pyproject.toml [project].dependencies, one OE package each; tests/layer checks
# this list against pyproject. The `embedded` extra (onnxruntime, onnx) is left
# out on purpose: on the appliance Triton serves the models. triton-client
# (meta-tegra-community) carries the tritonclient Python package;
# python3-cryptography is pyjwt's [crypto] extra. Beyond pyproject: the
# standard-library parts the services import.
RDEPENDS:${PN} = "\
    ${PN}-data \
    python3-aiohttp \
    python3-asyncio \
    python3-core \
    python3-cryptography \
    python3-fastapi \
    python3-grpcio \
    python3-grpcio-health-checking \
    python3-grpcio-reflection \
    python3-httpx \
    python3-json \
    python3-json-logger \
    python3-logging \
    python3-multipart \
    python3-numpy \
    python3-opentelemetry-api \
    python3-opentelemetry-exporter-otlp-proto-grpc \
    python3-opentelemetry-exporter-otlp-proto-http \
    python3-opentelemetry-sdk \
    python3-orjson \
    python3-pillow \
    python3-prometheus-client \
    python3-protobuf \
    python3-pydantic \
    python3-pydantic-settings \
    python3-pyjwt \
    python3-pyyaml \
    python3-redis \
    python3-sqlite3 \
    python3-uvicorn \
    python3-websockets \
    python3-xxhash \
    triton-client \
"
# mkfs.xfs for x-systemd.makefs on first boot; xfs_growfs, xfs_repair for the operator.
RDEPENDS:${PN}-data = "xfsprogs"
# The `registry` extra of pyproject.toml (tests/layer checks it): SQLAlchemy 2 and
# Alembic (meta-python), psycopg 3, boto3 (this layer's recipes-python: no
# scarthgap layer without meta-virtualization has boto3, botocore or s3transfer,
# none has psycopg 3). psql and createdb for mlinfer-registry-db-setup.
RDEPENDS:${PN}-registry = "\
    ${PN} \
    ${PN}-data \
    postgresql-client \
    python3-alembic \
    python3-boto3 \
    python3-psycopg \
    python3-sqlalchemy \
"
# The `gpu-telemetry` extra without nvidia-ml-py: Jetson has no NVML (tegrastats
# and sysfs stand in), so the NVML collector reports itself down there.
# tegrastats (meta-tegra's tegra-tools-tegrastats, machine-specific) is in
# packagegroup-mlinfer, so that this package stays the same for every machine.
RDEPENDS:${PN}-exporter = "\
    ${PN} \
    python3-psutil \
"
RDEPENDS:${PN}-autoscaler = "\
    ${PN} \
    python3-pyyaml \
"
RDEPENDS:${PN}-optimizer = "\
    ${PN} \
    python3-numpy \
    python3-tensorrt \
    tensorrt-core \
    tensorrt-trtexec \
"
# The `fast` extra: uvicorn uses them when they are installed.
RRECOMMENDS:${PN} = "\
    python3-httptools \
    python3-uvloop \
"
# The local PostgreSQL (registry.env may name another server).
RRECOMMENDS:${PN}-registry = "postgresql"

# Target only: a native or SDK build of the appliance services makes no sense.
BBCLASSEXTEND = ""
