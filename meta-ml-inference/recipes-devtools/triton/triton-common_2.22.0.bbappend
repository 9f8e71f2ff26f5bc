# Triton's gRPC endpoint (triton-server PACKAGECONFIG "gprc") links the gRPC
# service library built here. The recipe's default PACKAGECONFIG is
# "protobuf rapidjson"; add grpc for DISTRO = "mlinfer", restated so that the
# native code generators (protoc, grpc_cpp_plugin) are in the build as well
# as the libraries.
PACKAGECONFIG[grpc] = "-DTRITON_COMMON_ENABLE_GRPC=ON,-DTRITON_COMMON_ENABLE_GRPC=OFF,grpc grpc-native protobuf-native"
PACKAGECONFIG:append:mlinfer-distro = " grpc"
