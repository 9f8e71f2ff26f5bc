SUMMARY = "Lightweight ASGI framework/toolkit, the base of FastAPI"
DESCRIPTION = "Starlette is a lightweight ASGI framework and toolkit for building \
               async web services; FastAPI is built on it."
HOMEPAGE = "https://www.starlette.io/"
BUGTRACKER = "https://github.com/encode/starlette/issues"
SECTION = "devel/python"
LICENSE = "BSD-3-Clause"
LIC_FILES_CHKSUM = "file://LICENSE.md;md5=11e8c8dbfd5fa373c703de492140ff7a"

SRC_URI[sha256sum] = "0e4ab3d16522a255be6b28260b938eae2482f98ce5cc934cb08dce8dc3ba5835"

inherit pypi python_hatchling

CVE_PRODUCT = "encode:starlette"

RDEPENDS:${PN} = "\
    python3-anyio \
    python3-asyncio \
    python3-json \
"

# Target only: the runtime dependencies have no native variants.
BBCLASSEXTEND = ""
