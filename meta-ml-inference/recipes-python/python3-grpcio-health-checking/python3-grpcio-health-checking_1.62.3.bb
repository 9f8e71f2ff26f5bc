SUMMARY = "Standard gRPC health checking service (grpc.health.v1)"
DESCRIPTION = "The grpc.health.v1.Health service for gRPC Python servers, used by \
               load balancers and orchestrators to probe mlinfer's gRPC server."
HOMEPAGE = "https://grpc.io/"
BUGTRACKER = "https://github.com/grpc/grpc/issues"
SECTION = "devel/python"
LICENSE = "Apache-2.0"
LIC_FILES_CHKSUM = "file://LICENSE;md5=731e401b36f8077ae0c134b59be5c906"

# The generated modules are protobuf 4.25 code, matching scarthgap's
# python3-protobuf; the setup.py pins grpcio>=1.62.3 only in metadata.
SRC_URI[sha256sum] = "5074ba0ce8f0dcfe328408ec5c7551b2a835720ffd9b69dade7fa3e0dc1c7a93"

inherit pypi setuptools3

CVE_PRODUCT = "grpc:grpc"

RDEPENDS:${PN} = "\
    python3-grpcio \
    python3-protobuf \
"

# Target only: the runtime dependencies have no native variants.
BBCLASSEXTEND = ""
