# mlinfer talks to Triton through tritonclient.grpc (and its gRPC server uses
# the generated tritonclient.grpc.service_pb2 modules). This recipe builds only
# the HTTP Python client, and its "python_grpc" option cannot work as it
# stands: the recipe's Build-fixups patch removes the fetch of Triton's common
# repository, whose protobuf Python library build_wheel.py copies the
# generated modules from.
#
# So, for DISTRO = "mlinfer", do here what build_wheel.py does for the gRPC
# client: generate the protobuf and gRPC modules from the common repository's
# .proto files (the r22.05 revision that triton-common_2.22.0.bb builds) and
# install them with the tritonclient.grpc sources, with the same import
# rewrites.
DEPENDS:append:mlinfer-distro = " python3-grpcio-tools-native python3-native"

SRC_URI:append:mlinfer-distro = " git://github.com/triton-inference-server/common.git;protocol=https;branch=r22.05;name=common;destsuffix=triton-common"
SRCREV_common:mlinfer-distro = "feca9eadf25eb0230eaac0e9f2ce8f6447a0e9f1"
SRCREV_FORMAT:mlinfer-distro = "default_common"

do_install:append:mlinfer-distro() {
    src=${S}/src/python/library/tritonclient/grpc
    dst=${D}${PYTHON_SITEPACKAGES_DIR}/tritonclient/grpc
    for f in $(cd $src && find . -name '*.py'); do
        install -D -m 0644 $src/$f $dst/$f
    done
    protos=${WORKDIR}/triton-common/protobuf
    ${STAGING_BINDIR_NATIVE}/python3-native/python3 -m grpc_tools.protoc \
        -I$protos --python_out=$dst --grpc_python_out=$dst \
        $protos/grpc_service.proto $protos/model_config.proto
    mv $dst/grpc_service_pb2.py $dst/service_pb2.py
    mv $dst/grpc_service_pb2_grpc.py $dst/service_pb2_grpc.py
    rm -f $dst/model_config_pb2_grpc.py
    sed -i -E 's/^import ([^ ]*)_pb2 as ([^ ]*)$/from tritonclient.grpc import \1_pb2 as \2/' \
        $dst/model_config_pb2.py $dst/service_pb2.py
    sed -i -E 's/^import grpc_([^ ]*)_pb2 as ([^ ]*)$/from tritonclient.grpc import \1_pb2 as \2/' \
        $dst/service_pb2_grpc.py
}

# What the Python client imports: tritonclient.grpc (grpcio, protobuf) and
# tritonclient.http (geventhttpclient, gevent, rapidjson); both use numpy.
RDEPENDS:${PN}:append:mlinfer-distro = " \
    python3-gevent \
    python3-geventhttpclient \
    python3-grpcio \
    python3-numpy \
    python3-protobuf \
    python3-rapidjson \
"
