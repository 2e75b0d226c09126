package signing

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"hash"
	"slices"
	"strconv"
	"time"
)

// MaxBundleBytes bounds a signature file: a manifest of a million files
// fits well below it.
const MaxBundleBytes = 256 << 20

// Bundle is the JSON form of a Sigstore bundle (protobuf JSON names).
type Bundle struct {
	MediaType            string               `json:"mediaType"`
	VerificationMaterial VerificationMaterial `json:"verificationMaterial"`
	DSSEEnvelope         *Envelope            `json:"dsseEnvelope,omitempty"`
}

// VerificationMaterial identifies the signer: a public key hint, or a
// certificate (v0.3) or certificate chain (leaf first).
type VerificationMaterial struct {
	PublicKey            *PublicKeyID `json:"publicKey,omitempty"`
	X509CertificateChain *CertChain   `json:"x509CertificateChain,omitempty"`
	Certificate          *RawCert     `json:"certificate,omitempty"`
	TlogEntries          []any        `json:"tlogEntries"`
}

// PublicKeyID is the hint of a key: hex SHA-256 of its PKIX PEM encoding.
type PublicKeyID struct {
	Hint string `json:"hint"`
}

// CertChain is a list of DER certificates, leaf first.
type CertChain struct {
	Certificates []RawCert `json:"certificates"`
}

// RawCert is one DER certificate.
type RawCert struct {
	RawBytes []byte `json:"rawBytes"`
}

// Envelope is a DSSE envelope.
type Envelope struct {
	Payload     []byte      `json:"payload"`
	PayloadType string      `json:"payloadType"`
	Signatures  []Signature `json:"signatures"`
}

// Signature is one DSSE signature (ASN.1 ECDSA).
type Signature struct {
	Sig   []byte `json:"sig"`
	KeyID string `json:"keyid,omitempty"`
}

// PAE is DSSE's pre-authentication encoding, the bytes actually signed.
func PAE(payloadType string, payload []byte) []byte {
	var b bytes.Buffer
	b.WriteString("DSSEv1 ")
	b.WriteString(strconv.Itoa(len(payloadType)))
	b.WriteByte(' ')
	b.WriteString(payloadType)
	b.WriteByte(' ')
	b.WriteString(strconv.Itoa(len(payload)))
	b.WriteByte(' ')
	b.Write(payload)
	return b.Bytes()
}

// ParseBundle decodes a bundle and checks its shape; it never verifies.
func ParseBundle(data []byte) (*Bundle, error) {
	if len(data) > MaxBundleBytes {
		return nil, failf("signature larger than %d bytes", MaxBundleBytes)
	}
	var b Bundle
	if err := json.Unmarshal(data, &b); err != nil {
		return nil, failf("signature is not a Sigstore bundle: %v", err)
	}
	switch b.MediaType {
	case BundleMediaType, "application/vnd.dev.sigstore.bundle+json;version=0.3",
		"application/vnd.dev.sigstore.bundle+json;version=0.2":
	default:
		return nil, failf("bundle media type %q is not a Sigstore bundle v0.2/v0.3", b.MediaType)
	}
	if b.DSSEEnvelope == nil {
		return nil, failf("bundle carries no DSSE envelope")
	}
	if n := len(b.DSSEEnvelope.Signatures); n != 1 {
		return nil, failf("DSSE envelope holds %d signatures, want exactly 1", n)
	}
	return &b, nil
}

// Signer signs statements with an ECDSA key and, optionally, the
// certificate chain (leaf first) that vouches for it.
type Signer struct {
	Key   *ecdsa.PrivateKey
	Chain []*x509.Certificate
}

// NewSigner checks that key is a supported ECDSA key and that the leaf of
// chain, if any, certifies it.
func NewSigner(key crypto.Signer, chain []*x509.Certificate) (*Signer, error) {
	ek, ok := key.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("private key is %T: only ECDSA P-256 or P-384 keys are supported", key)
	}
	if _, err := hashFor(&ek.PublicKey); err != nil {
		return nil, err
	}
	if len(chain) > 0 {
		lk, ok := chain[0].PublicKey.(*ecdsa.PublicKey)
		if !ok || !lk.Equal(&ek.PublicKey) {
			return nil, errors.New("the certificate's public key does not match the private key")
		}
	}
	return &Signer{Key: ek, Chain: chain}, nil
}

// Sign wraps payload (an in-toto statement) in a signed bundle.
func (s *Signer) Sign(payloadType string, payload []byte) (*Bundle, error) {
	h, err := hashFor(&s.Key.PublicKey)
	if err != nil {
		return nil, err
	}
	hh := h()
	hh.Write(PAE(payloadType, payload))
	sig, err := ecdsa.SignASN1(rand.Reader, s.Key, hh.Sum(nil))
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	vm := VerificationMaterial{TlogEntries: []any{}}
	if len(s.Chain) > 0 {
		cc := &CertChain{}
		for _, c := range s.Chain {
			cc.Certificates = append(cc.Certificates, RawCert{RawBytes: c.Raw})
		}
		vm.X509CertificateChain = cc
	} else {
		hint, err := KeyHint(&s.Key.PublicKey)
		if err != nil {
			return nil, err
		}
		vm.PublicKey = &PublicKeyID{Hint: hint}
	}
	return &Bundle{
		MediaType:            BundleMediaType,
		VerificationMaterial: vm,
		DSSEEnvelope: &Envelope{Payload: payload, PayloadType: payloadType,
			Signatures: []Signature{{Sig: sig}}},
	}, nil
}

// KeyHint is the hex SHA-256 of the key's PKIX PEM encoding, the public key
// identifier the reference implementation writes.
func KeyHint(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("encode public key: %w", err)
	}
	sum := sha256.Sum256(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	return hex.EncodeToString(sum[:]), nil
}

func hashFor(pub *ecdsa.PublicKey) (func() hash.Hash, error) {
	switch pub.Curve {
	case elliptic.P256():
		return sha256.New, nil
	case elliptic.P384():
		return sha512.New384, nil
	}
	return nil, fmt.Errorf("ECDSA curve %s is not supported: use P-256", pub.Curve.Params().Name)
}

// Trust is what a verifier accepts: a public key, or certificate roots with
// an optional identity (an email or URI SAN of the leaf).
type Trust struct {
	Key      *ecdsa.PublicKey
	Roots    *x509.CertPool
	Identity string
	// Now is the time certificates must be valid at; zero means now.
	Now time.Time
}

// Verified is an envelope whose signature checked out.
type Verified struct {
	PayloadType string
	Payload     []byte
	// Signer describes who signed: the key hint or the leaf's identities.
	Signer string
}

// VerifyBundle checks the envelope's signature against t.
func (t *Trust) VerifyBundle(b *Bundle) (*Verified, error) {
	env := b.DSSEEnvelope
	var pub *ecdsa.PublicKey
	var signer string
	switch {
	case t.Key != nil:
		hint, err := KeyHint(t.Key)
		if err != nil {
			return nil, err
		}
		if pk := b.VerificationMaterial.PublicKey; pk != nil && pk.Hint != "" && pk.Hint != hint {
			return nil, failf("wrong key: the bundle was signed by key %s, not by the given key %s", pk.Hint, hint)
		}
		pub, signer = t.Key, "key "+hint
	case t.Roots != nil:
		leaf, err := t.verifyChain(&b.VerificationMaterial)
		if err != nil {
			return nil, err
		}
		pub = leaf.PublicKey.(*ecdsa.PublicKey)
		signer = "certificate " + identityString(leaf)
	default:
		return nil, errors.New("no trusted key or certificate roots given")
	}
	h, err := hashFor(pub)
	if err != nil {
		return nil, failf("%v", err)
	}
	hh := h()
	hh.Write(PAE(env.PayloadType, env.Payload))
	if !ecdsa.VerifyASN1(pub, hh.Sum(nil), env.Signatures[0].Sig) {
		return nil, failf("wrong key or altered envelope: the DSSE signature does not verify with %s", signer)
	}
	if env.PayloadType != PayloadType {
		return nil, failf("payload type %q, want %q", env.PayloadType, PayloadType)
	}
	return &Verified{PayloadType: env.PayloadType, Payload: env.Payload, Signer: signer}, nil
}

func (t *Trust) verifyChain(vm *VerificationMaterial) (*x509.Certificate, error) {
	var raws []RawCert
	switch {
	case vm.Certificate != nil:
		raws = []RawCert{*vm.Certificate}
	case vm.X509CertificateChain != nil:
		raws = vm.X509CertificateChain.Certificates
	}
	if len(raws) == 0 {
		return nil, failf("bundle carries no certificate: it was signed with a bare key (verify with --key)")
	}
	certs := make([]*x509.Certificate, 0, len(raws))
	for i, r := range raws {
		c, err := x509.ParseCertificate(r.RawBytes)
		if err != nil {
			return nil, failf("certificate %d in the bundle: %v", i, err)
		}
		certs = append(certs, c)
	}
	leaf := certs[0]
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	now := t.Now
	if now.IsZero() {
		now = time.Now()
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: t.Roots, Intermediates: inter,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}, CurrentTime: now}); err != nil {
		return nil, failf("certificate chain: %v", err)
	}
	if leaf.KeyUsage != 0 && leaf.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		return nil, failf("certificate chain: leaf certificate is not for digital signatures")
	}
	if _, ok := leaf.PublicKey.(*ecdsa.PublicKey); !ok {
		return nil, failf("certificate chain: leaf key is %T, want ECDSA", leaf.PublicKey)
	}
	if t.Identity != "" && !hasIdentity(leaf, t.Identity) {
		return nil, failf("wrong identity: certificate is for %s, want %q", identityString(leaf), t.Identity)
	}
	return leaf, nil
}

func hasIdentity(c *x509.Certificate, id string) bool {
	if slices.Contains(c.EmailAddresses, id) {
		return true
	}
	for _, u := range c.URIs {
		if u.String() == id {
			return true
		}
	}
	return false
}

func identityString(c *x509.Certificate) string {
	var ids []string
	ids = append(ids, c.EmailAddresses...)
	for _, u := range c.URIs {
		ids = append(ids, u.String())
	}
	if len(ids) == 0 {
		return fmt.Sprintf("%q (no email or URI SAN)", c.Subject.String())
	}
	return fmt.Sprintf("%q", ids)
}
