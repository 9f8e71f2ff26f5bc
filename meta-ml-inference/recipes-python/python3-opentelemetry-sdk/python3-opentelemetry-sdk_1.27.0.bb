SUMMARY = "OpenTelemetry Python SDK"
DESCRIPTION = "The OpenTelemetry SDK for Python: tracer provider, span processors \
               and resource detection behind the OpenTelemetry API."
HOMEPAGE = "https://opentelemetry-python.readthedocs.io/"
BUGTRACKER = "https://github.com/open-telemetry/opentelemetry-python/issues"
SECTION = "devel/python"
LICENSE = "Apache-2.0"
LIC_FILES_CHKSUM = "file://LICENSE;md5=86d3f3a95c324c9479bd8986968f4327"

# Released together with the other OpenTelemetry Python packages; keep
# all python3-opentelemetry-* recipes at matching versions (they pin each other).
SRC_URI[sha256sum] = "d525017dea0ccce9ba4e0245100ec46ecdc043f2d7b8315d56b19aff0904fa6f"

inherit pypi python_hatchling

PYPI_PACKAGE = "opentelemetry_sdk"
CVE_PRODUCT = "opentelemetry:opentelemetry-python"

RDEPENDS:${PN} = "\
    python3-opentelemetry-api \
    python3-opentelemetry-semantic-conventions \
    python3-typing-extensions \
"

# Target only: the runtime dependencies have no native variants.
BBCLASSEXTEND = ""
