SUMMARY = "Python client for the Prometheus monitoring system"
DESCRIPTION = "The official Python instrumentation library for Prometheus: counters, \
               gauges, histograms and the text exposition format served at /metrics."
HOMEPAGE = "https://github.com/prometheus/client_python"
BUGTRACKER = "https://github.com/prometheus/client_python/issues"
SECTION = "devel/python"
LICENSE = "Apache-2.0"
LIC_FILES_CHKSUM = "\
    file://LICENSE;md5=86d3f3a95c324c9479bd8986968f4327 \
    file://NOTICE;md5=4951b46e0743f84957d24051dcbdc0ae \
"

SRC_URI[sha256sum] = "252505a722ac04b0456be05c05f75f45d760c2911ffc45f2a06bcaed9f3ae3fb"

inherit pypi setuptools3

PYPI_PACKAGE = "prometheus_client"
CVE_PRODUCT = "prometheus:client_python"

RDEPENDS:${PN} = "\
    python3-logging \
    python3-netserver \
    python3-threading \
"

BBCLASSEXTEND = "native nativesdk"
