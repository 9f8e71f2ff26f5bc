# Triton's metrics are collected in the core library; the server only serves
# them. The recipe's default PACKAGECONFIG is "logging gpu": add stats (the
# per-model statistics, which metrics needs) and metrics, for DISTRO = "mlinfer".
# The metrics option is restated with its dependency: with TRITON_ENABLE_METRICS
# the core's CMake looks up prometheus-cpp (find_package(prometheus-cpp CONFIG)),
# which no scarthgap layer provides; recipes-support/prometheus-cpp in this
# layer does. metrics_gpu stays off: it needs DCGM, which Jetson does not have.
PACKAGECONFIG[metrics] = "-DTRITON_ENABLE_METRICS=ON,-DTRITON_ENABLE_METRICS=OFF,prometheus-cpp"
PACKAGECONFIG:append:mlinfer-distro = " stats metrics tracing"
