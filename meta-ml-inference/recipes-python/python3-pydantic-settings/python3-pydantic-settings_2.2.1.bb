SUMMARY = "Settings management using Pydantic"
DESCRIPTION = "pydantic-settings loads Pydantic models from environment variables \
               and dotenv files; mlinfer reads its MLINFER_* settings with it."
HOMEPAGE = "https://docs.pydantic.dev/latest/concepts/pydantic_settings/"
BUGTRACKER = "https://github.com/pydantic/pydantic-settings/issues"
SECTION = "devel/python"
LICENSE = "MIT"
LIC_FILES_CHKSUM = "file://LICENSE;md5=9adde1a30a7e74a03e57e456551c19ae"

# 2.2.x needs pydantic>=2.3; 2.3 and later need pydantic>=2.7, newer than
# some scarthgap meta-python revisions ship.
SRC_URI[sha256sum] = "00b9f6a5e95553590434c0fa01ead0b216c3e10bc54ae02e37f359948643c5ed"

inherit pypi python_hatchling

PYPI_PACKAGE = "pydantic_settings"
CVE_PRODUCT = "pydantic:pydantic-settings"

RDEPENDS:${PN} = "\
    python3-dotenv \
    python3-pydantic \
"

# Target only: the runtime dependencies have no native variants.
BBCLASSEXTEND = ""
