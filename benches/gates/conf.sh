# shellcheck shell=bash
# Server configurations for benches/gates.sh (sourced, not run).
#
# Owns the configs of the upstream and of the three gates in the TLS and POST comparisons. The
# nginx and HAProxy gates are ../shared/bench/run.sh's nginx-gate and haproxy-gate (same map
# sizing, same keep-alive and upstream settings, same 451 body) with only what the comparison
# needs added: a TLS listener, or the reading of the id from a JSON body. Nothing here tunes one
# contender beyond what the others get. Expects PORT[], ADMIN_PORT, RUN, MAP_HASH_MAX_SIZE,
# MAP_HASH_BUCKET_SIZE, BODY_451 and ICPGATE_TOML_EXTRA from the caller.

nginx_common() { # workers [main-context lines]
  cat <<EOF
${2:-}
worker_processes $1;
daemon off;
master_process on;
pid nginx.pid;
error_log error.log warn;
worker_rlimit_nofile 16384;
events { worker_connections 4096; }
EOF
}
nginx_http_head() {
  cat <<'EOF'
  access_log off;
  keepalive_requests 10000000;
  keepalive_timeout 120s;
  client_body_temp_path tmp/body;
  proxy_temp_path tmp/proxy;
  fastcgi_temp_path tmp/fastcgi;
  uwsgi_temp_path tmp/uwsgi;
  scgi_temp_path tmp/scgi;
EOF
}
nginx_upstream_block() {
  cat <<EOF
  upstream up {
    server 127.0.0.1:${PORT[upstream]};
    keepalive 256;
    keepalive_requests 10000000;
    keepalive_timeout 120s;
  }
EOF
}
nginx_map() { # source variable
  cat <<EOF
  map_hash_max_size $MAP_HASH_MAX_SIZE;
  map_hash_bucket_size $MAP_HASH_BUCKET_SIZE;
  map $1 \$filing {
    default 0;
    include filed.map.conf;
  }
EOF
}

conf_upstream() { # workers: plain HTTP, `return 200 "ok"` for every method
  nginx_common "$1"
  echo "http {"
  nginx_http_head
  cat <<EOF
  server {
    listen 127.0.0.1:${PORT[upstream]} reuseport backlog=4096;
    location / { default_type text/plain; return 200 "ok"; }
  }
}
EOF
}

# TLS: run.sh's nginx-gate behind an `ssl http2` listener. No session cache and no tickets
# (wrk and h2load never resume a session anyway; every connection lives for the whole run);
# TLS 1.3 enabled explicitly (nginx 1.22 offers only up to 1.2 by default), and every server
# follows the client's cipher order (HAProxy: prefer-client-ciphers), so a client gets the same
# cipher from all three.
conf_nginx_tls() { # workers
  nginx_common "$1"
  echo "http {"
  nginx_http_head
  nginx_upstream_block
  # shellcheck disable=SC2016 # an nginx variable, not a shell one
  nginx_map '$arg_package'
  cat <<EOF
  server {
    listen 127.0.0.1:${PORT[nginx-gate]} ssl http2 reuseport backlog=4096;
    ssl_certificate $RUN/tls/cert.pem;
    ssl_certificate_key $RUN/tls/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache off;
    ssl_session_tickets off;
    location / {
      default_type application/json;
      if (\$filing = 0) {
        return 451 '$BODY_451';
      }
      proxy_pass http://up;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
EOF
}

# POST: stock nginx has no JSON reader, so njs (Debian's libnginx-mod-http-js) reads it. The
# map's source is a js_set variable that parses the body; js_content reads the body first (a
# js_set alone runs before nginx has read it), evaluates $filing, and either returns the 451 or
# hands the request, body already read, to a named location that proxies it.
conf_nginx_post() { # workers
  nginx_common "$1" "load_module /usr/lib/nginx/modules/ngx_http_js_module.so;"
  echo "http {"
  nginx_http_head
  nginx_upstream_block
  cat <<EOF
  js_import gate from $GATES_DIR/gate.js;
  js_set \$json_package gate.jsonPackage;
  client_body_buffer_size 16k;
  client_body_in_single_buffer on;
EOF
  # shellcheck disable=SC2016 # an nginx variable, not a shell one
  nginx_map '$json_package'
  cat <<EOF
  server {
    listen 127.0.0.1:${PORT[nginx-gate]} reuseport backlog=4096;
    location / {
      js_content gate.decide;
    }
    location @up {
      proxy_pass http://up;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
EOF
}

conf_haproxy() { # threads suite(tls|post)
  cat <<EOF
global
  nbthread $1
  maxconn 4096
  tune.ssl.cachesize 0
defaults
  mode http
  timeout connect 5s
  timeout client 120s
  timeout server 120s
  timeout http-keep-alive 120s
  http-reuse always
frontend fe
EOF
  if [[ "$2" == tls ]]; then
    cat <<EOF
  bind 127.0.0.1:${PORT[haproxy-gate]} ssl crt $RUN/tls/haproxy.pem alpn h2,http/1.1 no-tls-tickets prefer-client-ciphers
  acl filed url_param(package) -m str -f filed.txt
EOF
  else
    cat <<EOF
  bind 127.0.0.1:${PORT[haproxy-gate]}
  option http-buffer-request
  acl filed req.body,json_query('\$.package') -m str -f filed.txt
EOF
  fi
  cat <<EOF
  http-request return status 451 content-type application/json string '$BODY_451' if !filed
  default_backend be_up
backend be_up
  server up 127.0.0.1:${PORT[upstream]}
EOF
}

conf_icpgate() { # suite(tls|post): one route, audit to a file, as in run.sh
  cat <<EOF
[[listener]]
name = "bench"
address = "127.0.0.1:${PORT[icpgate]}"
EOF
  if [[ "$1" == tls ]]; then
    cat <<EOF
[listener.tls]
cert = "$RUN/tls/cert.pem"
key = "$RUN/tls/key.pem"
EOF
  fi
  cat <<EOF
[admin]
address = "127.0.0.1:$ADMIN_PORT"
[index]
snapshot = "../data/snapshot.ndjson"
[audit]
path = "audit.jsonl"
[[upstream]]
name = "up"
url = "http://127.0.0.1:${PORT[upstream]}"
[[route]]
name = "apps"
path = "/v1/apps"
upstream = "up"
platform = "android"
on_unknown = "block"
EOF
  if [[ "$1" == tls ]]; then
    printf '%s\n' 'methods = ["GET"]' 'extract = [{ query = "package" }]'
  else
    printf '%s\n' 'methods = ["POST"]' 'extract = [{ json = "/package" }]'
  fi
  if [[ -n "${ICPGATE_TOML_EXTRA:-}" ]]; then printf '%s\n' "$ICPGATE_TOML_EXTRA"; fi
}
