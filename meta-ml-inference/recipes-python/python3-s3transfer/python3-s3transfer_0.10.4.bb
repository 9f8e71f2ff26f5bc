SUMMARY = "Amazon S3 transfer manager for Python"
DESCRIPTION = "s3transfer manages multipart and threaded uploads and downloads \
               to and from S3 for boto3; the mlinfer model registry uploads \
               large model artifacts in parts through it."
HOMEPAGE = "https://github.com/boto/s3transfer"
BUGTRACKER = "https://github.com/boto/s3transfer/issues"
SECTION = "devel/python"
LICENSE = "Apache-2.0"
LIC_FILES_CHKSUM = "\
    file://LICENSE.txt;md5=3b83ef96387f14655fc854ddc3c6bd57 \
    file://NOTICE.txt;md5=444061c9d5a5c33b435d249727c88781 \
"

SRC_URI[sha256sum] = "29edc09801743c21eb5ecbc617a152df41d3c287f67b615f73e5f750583666a7"

inherit pypi setuptools3

CVE_PRODUCT = "amazon:s3transfer"

# boto3 1.35.99 asks for s3transfer >= 0.10.0, < 0.11.0.
RDEPENDS:${PN} = "\
    python3-botocore \
    python3-io \
    python3-logging \
    python3-multiprocessing \
    python3-threading \
"

BBCLASSEXTEND = ""
