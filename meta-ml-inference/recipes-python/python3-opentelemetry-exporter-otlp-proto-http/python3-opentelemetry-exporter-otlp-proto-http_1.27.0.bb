SUMMARY = "OpenTelemetry OTLP exporter over HTTP"
DESCRIPTION = "Exports OpenTelemetry data with OTLP over HTTP/protobuf, for \
               example to Jaeger or an OpenTelemetry collector on port 4318."
HOMEPAGE = "https://opentelemetry-python.readthedocs.io/"
BUGTRACKER = "https://github.com/open-telemetry/opentelemetry-python/issues"
SECTION = "devel/python"
LICENSE = "Apache-2.0"
LIC_FILES_CHKSUM = "file://LICENSE;md5=86d3f3a95c324c9479bd8986968f4327"

# Released together with the other OpenTelemetry Python packages; keep
# all python3-opentelemetry-* recipes at matching versions (they pin each other).
SRC_URI[sha256sum] = "2103479092d8eb18f61f3fbff084f67cc7f2d4a7d37e75304b8b56c1d09ebef5"

inherit pypi python_hatchling

PYPI_PACKAGE = "opentelemetry_exporter_otlp_proto_http"
CVE_PRODUCT = "opentelemetry:opentelemetry-python"

RDEPENDS:${PN} = "\
    python3-deprecated \
    python3-googleapis-common-protos \
    python3-opentelemetry-api \
    python3-opentelemetry-exporter-otlp-proto-common \
    python3-opentelemetry-proto \
    python3-opentelemetry-sdk \
    python3-requests \
"

# Target only: the runtime dependencies have no native variants.
BBCLASSEXTEND = ""
