SUMMARY = "PostgreSQL database adapter for Python (psycopg 3)"
DESCRIPTION = "psycopg 3, the PostgreSQL adapter that SQLAlchemy 2 reaches as \
               postgresql+psycopg://; the mlinfer model registry keeps its \
               metadata in PostgreSQL through it. This is the pure-Python \
               implementation, which calls libpq through ctypes."
HOMEPAGE = "https://www.psycopg.org/psycopg3/"
BUGTRACKER = "https://github.com/psycopg/psycopg/issues"
SECTION = "devel/python"
LICENSE = "LGPL-3.0-only"
LIC_FILES_CHKSUM = "file://LICENSE.txt;md5=3000208d539ec061b899bce1d9ce9404"

SRC_URI[sha256sum] = "309adaeda61d44556046ec9a83a93f42bbe5310120b1995f3af49ab6d9f13c1d"

inherit pypi python_setuptools_build_meta

CVE_PRODUCT = "psycopg:psycopg"

# libpq is found at run time with ctypes.util.find_library("pq"), which reads the
# ld.so cache (/sbin/ldconfig -p, the ldconfig DISTRO_FEATURE that oe-core backfills).
# The C and binary speed-ups (psycopg-c, psycopg-binary) are not packaged: the
# registry's queries are few and small. typing-extensions: Python < 3.13.
RDEPENDS:${PN} = "\
    libpq \
    python3-asyncio \
    python3-ctypes \
    python3-datetime \
    python3-json \
    python3-logging \
    python3-typing-extensions \
    python3-zoneinfo \
"

BBCLASSEXTEND = ""
