#!/bin/sh
# Regenerates the certificates and keys the web-config corpus refers to. They are test
# fixtures only: a throwaway CA, server and client certificates valid for 100 years, and a
# few odd ones (a mismatched key, RSA 1024, P-521, a v1 certificate).
# Run from this folder: sh make-certs.sh
set -eu
days=36500
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ec_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }

# The test CA.
ec_key ca.key
openssl req -x509 -new -key ca.key -days $days -subj "/CN=tim-account-exporter test CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -out ca.crt

# sign NAME EXTENSIONS: NAME.crt from NAME.key, issued by the test CA.
sign() {
  openssl req -new -key "$1.key" -subj "/CN=$1" -out "$tmp/$1.csr"
  printf '%s\n' "$2" > "$tmp/$1.ext"
  openssl x509 -req -in "$tmp/$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial \
    -days $days -extfile "$tmp/$1.ext" -out "$1.crt"
}
server_ext="basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1"

# Server: P-256, key in PKCS#8; the same key in SEC1; the chain with the CA.
ec_key server.key
sign server "$server_ext"
openssl ec -in server.key -out server-sec1.key
cat server.crt ca.crt > server-chain.crt
cat server.crt server.key > server-bundle.pem

# Server: RSA 2048, key in PKCS#1.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$tmp/rsa.key"
openssl rsa -in "$tmp/rsa.key" -traditional -out server-rsa.key
sign server-rsa "$server_ext"

# Server: Ed25519.
openssl genpkey -algorithm ED25519 -out server-ed25519.key
sign server-ed25519 "$server_ext"

# Client: P-256, with DNS, e-mail and URI SANs for client_allowed_sans.
ec_key client.key
sign client "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth
subjectAltName=DNS:prometheus.example,email:prometheus@example.com,URI:spiffe://example/prometheus"

# A client certificate the test CA never issued (self-signed), with the client's SANs.
ec_key stranger.key
openssl req -x509 -new -key stranger.key -days $days -subj "/CN=stranger" \
  -addext "extendedKeyUsage=clientAuth" \
  -addext "subjectAltName=DNS:prometheus.example" -out stranger.crt

# A key that belongs to no certificate here.
ec_key other.key

# Valid for Go but not usable by rustls (ring): RSA 1024 and P-521, self-signed.
openssl req -x509 -newkey rsa:1024 -nodes -keyout rsa1024.key -days $days -subj "/CN=rsa1024" -out rsa1024.crt
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-521 -out p521.key
openssl req -x509 -new -key p521.key -days $days -subj "/CN=p521" -out p521.crt

# A version 1 certificate (no extensions) for the server key.
openssl req -new -key server.key -subj "/CN=v1" -out "$tmp/v1.csr"
openssl x509 -req -in "$tmp/v1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days $days -out server-v1.crt

rm -f ca.srl
printf 'not a certificate\n' > not-pem.txt
: > empty.pem
