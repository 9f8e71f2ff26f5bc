SUMMARY = "Read key-value pairs from a .env file and set them as environment variables"
DESCRIPTION = "python-dotenv reads key-value pairs from a .env file and can set \
               them as environment variables; pydantic-settings uses it."
HOMEPAGE = "https://github.com/theskumar/python-dotenv"
BUGTRACKER = "https://github.com/theskumar/python-dotenv/issues"
SECTION = "devel/python"
LICENSE = "BSD-3-Clause"
LIC_FILES_CHKSUM = "file://LICENSE;md5=e914cdb773ae44a732b392532d88f072"

# Named like meta-virtualization's recipe for the same project (OE drops the
# redundant python- prefix), so the two cannot end up installed side by side.
SRC_URI[sha256sum] = "e324ee90a023d808f1959c46bcbc04446a10ced277783dc6ee09987c37ec10ca"

inherit pypi setuptools3

PYPI_PACKAGE = "python-dotenv"
CVE_PRODUCT = "saurabh_kumar:python-dotenv"

RDEPENDS:${PN} = "\
    python3-io \
    python3-logging \
"

BBCLASSEXTEND = "native nativesdk"
