SUMMARY = "Low-level interface to Amazon Web Services, the core of boto3"
DESCRIPTION = "botocore signs and sends the requests of the AWS APIs, S3 among \
               them, and holds their service models; boto3 is built on it. The \
               mlinfer model registry speaks S3 (MinIO, SeaweedFS, AWS) with it."
HOMEPAGE = "https://github.com/boto/botocore"
BUGTRACKER = "https://github.com/boto/botocore/issues"
SECTION = "devel/python"
LICENSE = "Apache-2.0"
LIC_FILES_CHKSUM = "\
    file://LICENSE.txt;md5=2ee41112a44fe7014dce33e26468ba93 \
    file://NOTICE;md5=1096be3d7b0b4bba1b7a192123bf750a \
"

SRC_URI[sha256sum] = "1eab44e969c39c5f3d9a3104a0836c24715579a455f12b3979a31d7cde51b3c3"

inherit pypi setuptools3

CVE_PRODUCT = "amazon:botocore"

# Release 1.35.99 pairs with boto3 1.35.99 (boto3 pins botocore to its own minor
# release). Its requirements: jmespath < 2, python-dateutil < 3, urllib3 < 3 and
# not 2.2.0 (scarthgap has 2.2.2). The AWS CRT extra (awscrt) is not packaged.
RDEPENDS:${PN} = "\
    python3-dateutil \
    python3-email \
    python3-jmespath \
    python3-json \
    python3-logging \
    python3-netclient \
    python3-urllib3 \
    python3-xml \
"

BBCLASSEXTEND = ""
