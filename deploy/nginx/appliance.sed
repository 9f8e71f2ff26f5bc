# nginx.conf (this directory's, the compose stack's) as the appliance runs it: the
# same routes, TLS settings and limits, with the upstreams on loopback (the mlinfer
# services and Grafana run on the box, not as compose services) and the pid file
# where meta-webserver's nginx.service looks for it. Applied by
# meta-ml-inference/recipes-httpd/nginx/nginx_%.bbappend (sed -f) and by
# tests/layer/test_frontend.py, which runs nginx -t on the result.
s,^\([[:space:]]*server[[:space:]][[:space:]]*\)mlinfer-gateway:,\1127.0.0.1:,
s,^\([[:space:]]*server[[:space:]][[:space:]]*\)mlinfer-grpc:,\1127.0.0.1:,
s,^\([[:space:]]*server[[:space:]][[:space:]]*\)grafana:,\1127.0.0.1:,
s,^pid /tmp/nginx\.pid;,pid /run/nginx/nginx.pid;,
