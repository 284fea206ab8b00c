# Sourced by scripts/make_c2pa.sh and benches/provenance_read.sh: `c2pa_test_signer` makes, in
# the current folder and with the openssl CLI only, a test CA (ca.pem, a --trust-anchors file)
# and a signer C2PA accepts (chain.pem = leaf then CA, signer.key as PKCS#8). Nothing is
# downloaded; the key never leaves the folder it is made in.
c2pa_test_signer() {
    # Test CA (P-256) and a leaf with the profile C2PA signers need: digitalSignature,
    # emailProtection, subject and authority key identifiers; key as PKCS#8; chain leaf then CA.
    ossl() { openssl "$@" 2>/dev/null; }
    ossl ecparam -name prime256v1 -genkey -noout -out ca.ec
    ossl pkcs8 -topk8 -nocrypt -in ca.ec -out ca.key
    ossl req -x509 -new -key ca.key -sha256 -days 3650 -out ca.pem \
        -subj "/CN=clearshot test CA/O=clearshot tests" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -addext "subjectKeyIdentifier=hash"
    ossl ecparam -name prime256v1 -genkey -noout -out signer.ec
    ossl pkcs8 -topk8 -nocrypt -in signer.ec -out signer.key
    ossl req -new -key signer.key -out signer.csr -subj "/CN=clearshot test signer/O=clearshot tests"
    cat >leaf.ext <<'EXT'
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=emailProtection
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid,issuer
EXT
    ossl x509 -req -in signer.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 -sha256 \
        -extfile leaf.ext -out signer.pem
    cat signer.pem ca.pem >chain.pem
}
