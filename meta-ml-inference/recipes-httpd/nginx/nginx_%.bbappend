# The appliance's TLS front (DISTRO = "mlinfer" only): nginx with HTTP/2 (gRPC over
# TLS and REST on 443) and, as /etc/nginx/nginx.conf, the repository's
# deploy/nginx/nginx.conf, the configuration the compose stack mounts, so that both
# deployments share one. deploy/nginx/appliance.sed moves its upstreams to loopback
# (the services run on the box) and its pid file to /run/nginx/nginx.pid, where
# meta-webserver's nginx.service expects it. The certificate in /etc/nginx/certs is
# made on first boot by mlinfer-tls.service unless one was provisioned (mlinfer-tls).
#
# meta-webserver's SRC_URI already names file://nginx.conf; putting deploy/nginx first
# on the search path makes it find this repository's.
FILESEXTRAPATHS:prepend:mlinfer-distro := "${THISDIR}/../../../deploy/nginx:"
SRC_URI:append:mlinfer-distro = " file://appliance.sed"
PACKAGECONFIG:append:mlinfer-distro = " http2"

do_install:append:mlinfer-distro() {
    sed -i -f ${WORKDIR}/appliance.sed ${D}${sysconfdir}/nginx/nginx.conf
    # The workers run as meta-webserver's nginx user; the compose image runs nginx
    # as its own default user, so the shared file names none.
    sed -i '1i user ${NGINX_USER};' ${D}${sysconfdir}/nginx/nginx.conf
    install -d -m 0755 ${D}${sysconfdir}/nginx/certs
}
