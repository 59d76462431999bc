#!/usr/bin/env bash
# A self-signed development CA and a server certificate it signs, for the TLS-terminating proxy of
# deploy/compose.yaml. Never for production: there the proxy gets a certificate from your CA.
#   deploy/gen-dev-cert.sh [HOSTNAME] [OUT_DIR]    defaults: xray.localhost, deploy/certs
# Writes ca.crt (trust it: the sync servers get it as NODE_EXTRA_CA_CERTS; curl --cacert),
# ca.key, server.crt and server.key. Existing files are kept (delete the folder to start over).
set -euo pipefail
host=${1:-${XRAY_HOSTNAME:-xray.localhost}}
dir=${2:-"$(dirname "$0")/certs"}
command -v openssl >/dev/null || { echo "gen-dev-cert.sh needs openssl (apt-get install -y openssl)" >&2; exit 1; }
mkdir -p "$dir"
if [ -e "$dir/server.crt" ]; then
  echo "$dir/server.crt exists; keeping it"
  exit 0
fi
umask 077
openssl req -x509 -newkey rsa:3072 -sha256 -days 825 -nodes \
  -keyout "$dir/ca.key" -out "$dir/ca.crt" -subj "/CN=X-ray Service development CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl req -newkey rsa:3072 -sha256 -nodes -keyout "$dir/server.key" -out "$dir/server.csr" \
  -subj "/CN=${host}" 2>/dev/null
printf '%s\n' \
  "basicConstraints=critical,CA:FALSE" \
  "keyUsage=critical,digitalSignature,keyEncipherment" \
  "extendedKeyUsage=serverAuth" \
  "subjectAltName=DNS:${host},DNS:localhost,IP:127.0.0.1" >"$dir/server.ext"
openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial \
  -days 825 -sha256 -extfile "$dir/server.ext" -out "$dir/server.crt" 2>/dev/null
rm -f "$dir/server.csr" "$dir/server.ext" "$dir/ca.srl"
# Certificates are public; the keys stay private (nginx's master process reads server.key as root).
chmod 0644 "$dir/ca.crt" "$dir/server.crt"
openssl verify -CAfile "$dir/ca.crt" "$dir/server.crt" >/dev/null
echo "wrote $dir/{ca.crt,ca.key,server.crt,server.key} for ${host} (development only)"
