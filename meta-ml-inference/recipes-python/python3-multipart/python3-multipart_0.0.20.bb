SUMMARY = "Streaming multipart/form-data parser for Python"
DESCRIPTION = "python-multipart is a streaming multipart/form-data and \
               x-www-form-urlencoded parser; Starlette and FastAPI use it for form \
               and file uploads (POST /infer/image)."
HOMEPAGE = "https://github.com/Kludex/python-multipart"
BUGTRACKER = "https://github.com/Kludex/python-multipart/issues"
SECTION = "devel/python"
LICENSE = "Apache-2.0"
LIC_FILES_CHKSUM = "file://LICENSE.txt;md5=3d98f0d58b28321924a89ab60c82410e"

# PyPI project python-multipart (import names python_multipart and, for
# compatibility, multipart); not the unrelated PyPI project "multipart".
SRC_URI[sha256sum] = "8dd0cab45b8e23064ae09147625994d090fa46f5b0d1e13af944c331a7fa9d13"

inherit pypi python_hatchling

PYPI_PACKAGE = "python_multipart"
CVE_PRODUCT = "fastapiexpert:python-multipart"

RDEPENDS:${PN} = "\
    python3-io \
    python3-logging \
"

BBCLASSEXTEND = "native nativesdk"
