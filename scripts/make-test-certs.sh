#!/usr/bin/env bash
# Writes throwaway certificates for loopback tests into DIR (created if missing):
#   ca.pem               a test CA
#   member.pem/.key      a certificate signed by it for 127.0.0.1 and localhost, usable by
#                        servers and (mutual TLS) clients alike
#   other-ca.pem         an unrelated CA, and other.pem/.key signed by it (must be refused)
# Valid for two days; private keys are made fresh each run and never committed.
# For tests and trials only: use your own PKI for a real cluster.
set -euo pipefail
dir=${1:?usage: make-test-certs.sh DIR}
mkdir -p "$dir"
cd "$dir"
curve=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)

ca() {  # name, common name
  openssl req -x509 "${curve[@]}" -keyout "$1.key" -out "$1.pem" -days 2 -subj "/CN=$2" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}

leaf() {  # name, signing CA
  openssl req "${curve[@]}" -keyout "$1.key" -out "$1.csr" -subj "/CN=localhost" 2>/dev/null
  printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" "basicConstraints=CA:FALSE" \
    "keyUsage=digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth,clientAuth" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial -out "$1.pem" -days 2 \
    -extfile "$1.ext" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}

ca ca "Tessera test CA"
leaf member ca
ca other-ca "Some other CA"
leaf other other-ca
chmod 600 ./*.key
