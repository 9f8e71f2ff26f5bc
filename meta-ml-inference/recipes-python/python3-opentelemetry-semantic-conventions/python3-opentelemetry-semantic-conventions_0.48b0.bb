SUMMARY = "OpenTelemetry semantic conventions for Python"
DESCRIPTION = "Attribute names of the OpenTelemetry semantic conventions, used by \
               the OpenTelemetry SDK and instrumentations."
HOMEPAGE = "https://opentelemetry-python.readthedocs.io/"
BUGTRACKER = "https://github.com/open-telemetry/opentelemetry-python/issues"
SECTION = "devel/python"
LICENSE = "Apache-2.0"
LIC_FILES_CHKSUM = "file://LICENSE;md5=86d3f3a95c324c9479bd8986968f4327"

# Released together with the other OpenTelemetry Python packages; keep
# all python3-opentelemetry-* recipes at matching versions (they pin each other).
SRC_URI[sha256sum] = "12d74983783b6878162208be57c9effcb89dc88691c64992d70bb89dc00daa1a"

inherit pypi python_hatchling

PYPI_PACKAGE = "opentelemetry_semantic_conventions"
CVE_PRODUCT = "opentelemetry:opentelemetry-python"

RDEPENDS:${PN} = "\
    python3-deprecated \
    python3-opentelemetry-api \
"

# Target only: the runtime dependencies have no native variants.
BBCLASSEXTEND = ""
