SUMMARY = "OpenTelemetry Python protobuf modules (OTLP)"
DESCRIPTION = "Generated protobuf modules for the OpenTelemetry protocol (OTLP), \
               shared by the OTLP exporters."
HOMEPAGE = "https://opentelemetry-python.readthedocs.io/"
BUGTRACKER = "https://github.com/open-telemetry/opentelemetry-python/issues"
SECTION = "devel/python"
LICENSE = "Apache-2.0"
LIC_FILES_CHKSUM = "file://LICENSE;md5=86d3f3a95c324c9479bd8986968f4327"

# Released together with the other OpenTelemetry Python packages; keep
# all python3-opentelemetry-* recipes at matching versions (they pin each other).
SRC_URI[sha256sum] = "33c9345d91dafd8a74fc3d7576c5a38f18b7fdf8d02983ac67485386132aedd6"

inherit pypi python_hatchling

PYPI_PACKAGE = "opentelemetry_proto"
CVE_PRODUCT = "opentelemetry:opentelemetry-python"

RDEPENDS:${PN} = "\
    python3-protobuf \
"

# Target only: the runtime dependencies have no native variants.
BBCLASSEXTEND = ""
