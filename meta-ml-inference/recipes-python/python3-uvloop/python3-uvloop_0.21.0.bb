SUMMARY = "Fast implementation of asyncio event loop on top of libuv"
DESCRIPTION = "uvloop is a drop-in replacement of the asyncio event loop, \
               implemented in Cython on top of libuv; uvicorn uses it when \
               it is installed."
HOMEPAGE = "https://github.com/MagicStack/uvloop"
BUGTRACKER = "https://github.com/MagicStack/uvloop/issues"
SECTION = "devel/python"
# uvloop is Apache-2.0 OR MIT; the bundled libuv (vendor/libuv, linked
# statically) is MIT, with a few files under other permissive terms listed in
# its LICENSE-extra.
LICENSE = "(Apache-2.0 | MIT) & MIT"
LIC_FILES_CHKSUM = "\
    file://LICENSE-APACHE;md5=bb92739ddad0a2811957bd98bdb90474 \
    file://LICENSE-MIT;md5=489c8bc34154e4b59f5c58e664f7d70f \
    file://vendor/libuv/LICENSE;md5=74b6f2f7818a4e3a80d03556f71b129b \
    file://vendor/libuv/LICENSE-extra;md5=f9307417749e19bd1d6d68a394b49324 \
"

# Cython~=3.0 is what pyproject.toml [build-system] asks for.
DEPENDS = "python3-cython-native"

SRC_URI[sha256sum] = "3bf12b0fda68447806a7ad847bfa591613177275d35b6724b1ee573faa3704e3"

inherit pypi python_setuptools_build_meta

# setup.py builds the bundled libuv with its autotools configure script, which
# cross-compiles only when told the host triplet.
export LIBUV_CONFIGURE_HOST = "${HOST_SYS}"

CVE_PRODUCT = "magicstack:uvloop"

RDEPENDS:${PN} = "\
    python3-asyncio \
"

# Target only: a native uvloop would need libuv built for the build host.
BBCLASSEXTEND = ""
