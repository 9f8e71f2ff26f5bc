SUMMARY = "Standard gRPC server reflection service"
DESCRIPTION = "The grpc.reflection.v1alpha service for gRPC Python servers, so that \
               grpcurl and similar tools can discover mlinfer's gRPC API."
HOMEPAGE = "https://grpc.io/"
BUGTRACKER = "https://github.com/grpc/grpc/issues"
SECTION = "devel/python"
LICENSE = "Apache-2.0"
LIC_FILES_CHKSUM = "file://LICENSE;md5=731e401b36f8077ae0c134b59be5c906"

SRC_URI[sha256sum] = "cb84682933c400bddf94dd94f928d1c6570f500b6dd255973d4bfb495b82585f"

inherit pypi setuptools3

CVE_PRODUCT = "grpc:grpc"

RDEPENDS:${PN} = "\
    python3-grpcio \
    python3-protobuf \
"

# Target only: the runtime dependencies have no native variants.
BBCLASSEXTEND = ""
