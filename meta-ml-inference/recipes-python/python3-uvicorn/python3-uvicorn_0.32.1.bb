SUMMARY = "Lightning-fast ASGI server implementation"
DESCRIPTION = "Uvicorn is an ASGI web server for Python built on asyncio and h11; \
               it serves mlinfer's REST gateway. It uses uvloop and httptools when \
               they are installed."
HOMEPAGE = "https://www.uvicorn.org/"
BUGTRACKER = "https://github.com/encode/uvicorn/issues"
SECTION = "devel/python"
LICENSE = "BSD-3-Clause"
LIC_FILES_CHKSUM = "file://LICENSE.md;md5=5c778842f66a649636561c423c0eec2e"

SRC_URI[sha256sum] = "ee9519c246a72b1c084cea8d3b44ed6026e78a4a309cbedae9c37e4cb9fbb175"

inherit pypi python_hatchling

CVE_PRODUCT = "encode:uvicorn"

RDEPENDS:${PN} = "\
    python3-asyncio \
    python3-click \
    python3-email \
    python3-h11 \
    python3-logging \
"
# Optional speedups, the uvicorn[standard] extra.
RRECOMMENDS:${PN} = "\
    python3-httptools \
    python3-uvloop \
"

# Target only: the runtime dependencies have no native variants.
BBCLASSEXTEND = ""
