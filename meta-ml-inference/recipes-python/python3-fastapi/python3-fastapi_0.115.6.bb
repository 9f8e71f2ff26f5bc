SUMMARY = "FastAPI web framework for building APIs with Python type hints"
DESCRIPTION = "FastAPI is a web framework for building APIs on Starlette and \
               Pydantic. mlinfer's REST gateway is a FastAPI application."
HOMEPAGE = "https://fastapi.tiangolo.com/"
BUGTRACKER = "https://github.com/fastapi/fastapi/issues"
SECTION = "devel/python"
LICENSE = "MIT"
LIC_FILES_CHKSUM = "file://LICENSE;md5=95792ff3fe8e11aa49ceb247e66e4810"

# fastapi builds with pdm-backend (pyproject [build-system]); the PEP 517
# frontend of python_setuptools_build_meta runs whatever backend the
# pyproject names, this class only brings the frontend and setuptools.
DEPENDS = "python3-pdm-backend-native"

SRC_URI[sha256sum] = "9ec46f7addc14ea472958a96aae5b5de65f39721a46aaf5705c480d9a8b76654"

inherit pypi python_setuptools_build_meta

CVE_PRODUCT = "tiangolo:fastapi"

RDEPENDS:${PN} = "\
    python3-json \
    python3-pydantic \
    python3-starlette \
    python3-typing-extensions \
"

# Target only: the runtime dependencies have no native variants.
BBCLASSEXTEND = ""
