SUMMARY = "JSON formatter for the Python logging module"
DESCRIPTION = "python-json-logger formats Python log records as JSON objects; \
               mlinfer's structured access logs use it."
HOMEPAGE = "https://nhairs.github.io/python-json-logger/"
BUGTRACKER = "https://github.com/nhairs/python-json-logger/issues"
SECTION = "devel/python"
LICENSE = "BSD-2-Clause"
LIC_FILES_CHKSUM = "\
    file://LICENSE;md5=44a18ebf6d8412ddd5d29217ff70e291 \
    file://NOTICE;md5=801434b474e00fdf68617a225101c908 \
"

# PyPI project python-json-logger (import name pythonjsonlogger); OE drops the
# redundant python- prefix. NOTICE only concerns the documentation theme.
SRC_URI[sha256sum] = "8eb0554ea17cb75b05d2848bc14fb02fbdbd9d6972120781b974380bfa162008"

inherit pypi python_setuptools_build_meta

PYPI_PACKAGE = "python_json_logger"
CVE_PRODUCT = "nhairs:python-json-logger"

RDEPENDS:${PN} = "\
    python3-json \
    python3-logging \
"

BBCLASSEXTEND = "native nativesdk"
