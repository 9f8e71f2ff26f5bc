SUMMARY = "Prometheus client library for modern C++"
DESCRIPTION = "prometheus-cpp implements Prometheus metric types and the text \
               exposition format in C++. Triton's core library collects its \
               metrics with it (triton-core PACKAGECONFIG metrics)."
HOMEPAGE = "https://github.com/jupp0r/prometheus-cpp"
BUGTRACKER = "https://github.com/jupp0r/prometheus-cpp/issues"
SECTION = "libs"
LICENSE = "MIT"
LIC_FILES_CHKSUM = "file://LICENSE;md5=f203962b7b283e1e356c14312b4f6211"

# Debian's copy of the upstream 1.0.1 release source: a plain tarball with a
# fixed checksum (the upstream git tag needs submodules this build does not
# use). 1.0.x is the API line Triton's 22.xx releases were built against.
SRC_URI = "${DEBIAN_MIRROR}/main/p/prometheus-cpp/prometheus-cpp_${PV}.orig.tar.gz"
SRC_URI[sha256sum] = "593e028d401d3298eada804d252bc38d8cab3ea1c9e88bcd72095281f85e6d16"

inherit cmake

# Only the core library (metric types, registry, text serializer): the pull
# (embedded civetweb HTTP server) and push (libcurl) parts are not needed,
# Triton serves /metrics itself.
EXTRA_OECMAKE = "\
    -DBUILD_SHARED_LIBS=ON \
    -DENABLE_COMPRESSION=OFF \
    -DENABLE_PULL=OFF \
    -DENABLE_PUSH=OFF \
    -DENABLE_TESTING=OFF \
    -DGENERATE_PKGCONFIG=ON \
    -DOVERRIDE_CXX_STANDARD_FLAGS=OFF \
    -DUSE_THIRDPARTY_LIBRARIES=OFF \
"

CVE_PRODUCT = "jupp0r:prometheus-cpp"

BBCLASSEXTEND = "native nativesdk"
