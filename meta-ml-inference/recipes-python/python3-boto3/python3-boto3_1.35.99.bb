SUMMARY = "The AWS SDK for Python"
DESCRIPTION = "boto3, the AWS SDK for Python, on botocore and s3transfer; the \
               mlinfer model registry stores model artifacts in S3 (MinIO, \
               SeaweedFS, AWS) through it."
HOMEPAGE = "https://github.com/boto/boto3"
BUGTRACKER = "https://github.com/boto/boto3/issues"
SECTION = "devel/python"
LICENSE = "Apache-2.0"
LIC_FILES_CHKSUM = "\
    file://LICENSE;md5=2ee41112a44fe7014dce33e26468ba93 \
    file://NOTICE;md5=0b6905ac08c5f51cadd5e4085562b193 \
"

SRC_URI[sha256sum] = "e0abd794a7a591d90558e92e29a9f8837d25ece8e3c120e530526fe27eba5fca"

inherit pypi setuptools3

CVE_PRODUCT = "amazon:boto3"

# meta-virtualization has boto3 and botocore too; this layer does not depend on it.
# 1.35: from 1.36 on, boto3 sends a CRC checksum with every upload by default,
# which some S3-compatible stores do not accept.
RDEPENDS:${PN} = "\
    python3-botocore \
    python3-jmespath \
    python3-logging \
    python3-s3transfer \
"

BBCLASSEXTEND = ""
