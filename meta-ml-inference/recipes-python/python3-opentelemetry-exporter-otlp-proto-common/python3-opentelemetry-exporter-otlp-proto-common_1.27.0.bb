SUMMARY = "OpenTelemetry OTLP exporter encoding shared by the gRPC and HTTP exporters"
DESCRIPTION = "Encodes OpenTelemetry spans, metrics and logs as OTLP protobuf \
               messages for the OTLP gRPC and HTTP exporters."
HOMEPAGE = "https://opentelemetry-python.readthedocs.io/"
BUGTRACKER = "https://github.com/open-telemetry/opentelemetry-python/issues"
SECTION = "devel/python"
LICENSE = "Apache-2.0"
LIC_FILES_CHKSUM = "file://LICENSE;md5=86d3f3a95c324c9479bd8986968f4327"

# Released together with the other OpenTelemetry Python packages; keep
# all python3-opentelemetry-* recipes at matching versions (they pin each other).
SRC_URI[sha256sum] = "159d27cf49f359e3798c4c3eb8da6ef4020e292571bd8c5604a2a573231dd5c8"

inherit pypi python_hatchling

PYPI_PACKAGE = "opentelemetry_exporter_otlp_proto_common"
CVE_PRODUCT = "opentelemetry:opentelemetry-python"

RDEPENDS:${PN} = "\
    python3-opentelemetry-proto \
"

# Target only: the runtime dependencies have no native variants.
BBCLASSEXTEND = ""
