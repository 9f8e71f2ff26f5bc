SUMMARY = "OpenTelemetry OTLP exporter over gRPC"
DESCRIPTION = "Exports OpenTelemetry data with OTLP over gRPC, for example to \
               Jaeger or an OpenTelemetry collector on port 4317."
HOMEPAGE = "https://opentelemetry-python.readthedocs.io/"
BUGTRACKER = "https://github.com/open-telemetry/opentelemetry-python/issues"
SECTION = "devel/python"
LICENSE = "Apache-2.0"
LIC_FILES_CHKSUM = "file://LICENSE;md5=86d3f3a95c324c9479bd8986968f4327"

# Released together with the other OpenTelemetry Python packages; keep
# all python3-opentelemetry-* recipes at matching versions (they pin each other).
SRC_URI[sha256sum] = "af6f72f76bcf425dfb5ad11c1a6d6eca2863b91e63575f89bb7b4b55099d968f"

inherit pypi python_hatchling

PYPI_PACKAGE = "opentelemetry_exporter_otlp_proto_grpc"
CVE_PRODUCT = "opentelemetry:opentelemetry-python"

RDEPENDS:${PN} = "\
    python3-deprecated \
    python3-googleapis-common-protos \
    python3-grpcio \
    python3-opentelemetry-api \
    python3-opentelemetry-exporter-otlp-proto-common \
    python3-opentelemetry-proto \
    python3-opentelemetry-sdk \
"

# Target only: the runtime dependencies have no native variants.
BBCLASSEXTEND = ""
