# Triton behind the mlinfer services: the gateway and the gRPC server talk to
# Triton over gRPC, and Prometheus scrapes Triton's per-model metrics. The
# recipe's default PACKAGECONFIG ("logging http gpu tensorrt") has neither.
# Only for DISTRO = "mlinfer" (conf/distro/mlinfer.conf); the systemd unit
# and the triton user come from the tritonserver-service recipe.
#
# Knobs, as the scarthgap recipe (triton-server_2.22.0.bb) spells them:
#  - gRPC endpoint: the option is named "gprc" (sic). Its definition lists no
#    dependencies, so it is restated here with the gRPC and protobuf libraries
#    and their native code generators (protoc, grpc_cpp_plugin).
#  - metrics: the /metrics HTTP endpoint. The counters themselves live in
#    triton-core (triton-core_2.22.0.bbappend), which needs prometheus-cpp.
#  - stats: per-model statistics (the v2 .../stats API); metrics needs it.
#  - tracing: --trace-file/--trace-level/--trace-rate (tritonserver.service
#    passes them; without the option tritonserver refuses them). Its own JSON
#    trace files: OpenTelemetry tracing came to Triton after 2.22.
#  - metrics_gpu stays off: Triton's GPU metrics come from DCGM, which does
#    not exist on Jetson.
# This file is versioned on purpose: a new triton-server recipe must be
# checked against these knobs (bitbake reports the dangling append).
PACKAGECONFIG[gprc] = "-DTRITON_ENABLE_GRPC=ON,-DTRITON_ENABLE_GRPC=OFF,grpc grpc-native protobuf protobuf-native"
PACKAGECONFIG[metrics] = "-DTRITON_ENABLE_METRICS=ON,-DTRITON_ENABLE_METRICS=OFF,prometheus-cpp"
PACKAGECONFIG:append:mlinfer-distro = " gprc metrics stats tracing"
