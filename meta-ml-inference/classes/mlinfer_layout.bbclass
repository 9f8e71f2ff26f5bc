# Appliance layout shared by the mlinfer recipe and tritonserver-service:
# users, data partition, model repository and ports, and the helper that
# renders the layer's @NAME@ templates (units, env files) with them.
# Defaults only (??=): set any of them in a distro configuration or local.conf.
#
# The data partition is mounted at MLINFER_DATA_MOUNTPOINT and holds the
# Triton-layout model repository. The mlinfer services take the ports Triton
# clients expect (8000 REST, 8001 gRPC); Triton moves to loopback ports of its
# own, and its metrics port is what Prometheus scrapes for per-model metrics.

MLINFER_USER ??= "mlinfer"
MLINFER_TRITON_USER ??= "triton"
MLINFER_DATA_MOUNTPOINT ??= "/data"
MLINFER_DATADIR ??= "${MLINFER_DATA_MOUNTPOINT}/mlinfer"
MLINFER_MODEL_REPOSITORY ??= "${MLINFER_DATADIR}/model_repository"
# The GPT partition that becomes MLINFER_DATA_MOUNTPOINT: UDA, the user-data
# partition of the L4T flash layouts of the Orin devkits. It is flashed
# blank; the first boot formats it (x-systemd.makefs) and grows the file
# system to the partition (meta-ml-inference/README.md, "Data partition").
MLINFER_DATA_DEVICE ??= "/dev/disk/by-partlabel/UDA"

MLINFER_HTTP_PORT ??= "8000"
MLINFER_GRPC_PORT ??= "8001"
MLINFER_TRITON_HTTP_PORT ??= "8100"
MLINFER_TRITON_GRPC_PORT ??= "8101"
MLINFER_TRITON_METRICS_PORT ??= "8102"
# The registry's admin API, on loopback (8080, its default elsewhere, is nginx's
# health port on the appliance). The exporter's and the autoscaler's /metrics,
# which a central Prometheus scrapes (the firewall opens them like 8000 and 8102).
MLINFER_REGISTRY_PORT ??= "8090"
MLINFER_EXPORTER_PORT ??= "9400"
MLINFER_AUTOSCALER_PORT ??= "9411"

# Firewall (mlinfer-firewall): the source networks that may scrape the metrics
# ports (the REST service's /metrics and Triton's), an nftables set (addresses or
# prefixes, comma-separated): by default the private IPv4 ranges (RFC 1918), where
# a central Prometheus would be. The SSH port is open from anywhere when the image
# has an SSH server.
MLINFER_METRICS_SOURCES ??= "10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16"
MLINFER_SSH_PORT ??= "22"

mlinfer_render[doc] = "Render a layer template: mlinfer_render <template> <destination> replaces every @NAME@ placeholder and fails on any left over"
mlinfer_render() {
    sed -e 's,@BINDIR@,${bindir},g' \
        -e 's,@BASE_BINDIR@,${base_bindir},g' \
        -e 's,@SBINDIR@,${sbindir},g' \
        -e 's,@LIBDIR@,${libdir},g' \
        -e 's,@SYSCONFDIR@,${sysconfdir},g' \
        -e 's,@MLINFER_USER@,${MLINFER_USER},g' \
        -e 's,@MLINFER_TRITON_USER@,${MLINFER_TRITON_USER},g' \
        -e 's,@MLINFER_DATA_MOUNTPOINT@,${MLINFER_DATA_MOUNTPOINT},g' \
        -e 's,@MLINFER_DATA_DEVICE@,${MLINFER_DATA_DEVICE},g' \
        -e 's,@MLINFER_DATADIR@,${MLINFER_DATADIR},g' \
        -e 's,@MLINFER_MODEL_REPOSITORY@,${MLINFER_MODEL_REPOSITORY},g' \
        -e 's,@MLINFER_HTTP_PORT@,${MLINFER_HTTP_PORT},g' \
        -e 's,@MLINFER_GRPC_PORT@,${MLINFER_GRPC_PORT},g' \
        -e 's,@MLINFER_TRITON_HTTP_PORT@,${MLINFER_TRITON_HTTP_PORT},g' \
        -e 's,@MLINFER_TRITON_GRPC_PORT@,${MLINFER_TRITON_GRPC_PORT},g' \
        -e 's,@MLINFER_TRITON_METRICS_PORT@,${MLINFER_TRITON_METRICS_PORT},g' \
        -e 's,@MLINFER_REGISTRY_PORT@,${MLINFER_REGISTRY_PORT},g' \
        -e 's,@MLINFER_EXPORTER_PORT@,${MLINFER_EXPORTER_PORT},g' \
        -e 's,@MLINFER_AUTOSCALER_PORT@,${MLINFER_AUTOSCALER_PORT},g' \
        -e 's#@MLINFER_METRICS_SOURCES@#${MLINFER_METRICS_SOURCES}#g' \
        -e 's,@MLINFER_SSH_PORT@,${MLINFER_SSH_PORT},g' \
        "$1" > "$2"
    if grep -n '@[A-Z_]*@' "$2"; then
        bbfatal "mlinfer_render: unsubstituted placeholder left in $2"
    fi
    chmod 0644 "$2"
}
