SUMMARY = "OpenTelemetry Python API"
DESCRIPTION = "The OpenTelemetry API for Python: tracer, meter and propagator \
               interfaces that mlinfer instruments requests with."
HOMEPAGE = "https://opentelemetry-python.readthedocs.io/"
BUGTRACKER = "https://github.com/open-telemetry/opentelemetry-python/issues"
SECTION = "devel/python"
LICENSE = "Apache-2.0"
LIC_FILES_CHKSUM = "file://LICENSE;md5=86d3f3a95c324c9479bd8986968f4327"

# Released together with the other OpenTelemetry Python packages; keep
# all python3-opentelemetry-* recipes at matching versions (they pin each other).
SRC_URI[sha256sum] = "ed673583eaa5f81b5ce5e86ef7cdaf622f88ef65f0b9aab40b843dcae5bef342"

inherit pypi python_hatchling

PYPI_PACKAGE = "opentelemetry_api"
CVE_PRODUCT = "opentelemetry:opentelemetry-python"

RDEPENDS:${PN} = "\
    python3-deprecated \
    python3-importlib-metadata \
    python3-logging \
"

# Target only: the runtime dependencies have no native variants.
BBCLASSEXTEND = ""
