package signing

import (
	"errors"
	"fmt"
	"os"

	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"
)

// Keyless says which Sigstore keyless signer to accept: the certificate's
// subject alternative name (an email or URI) and the OIDC issuer that
// vouched for it, checked offline against a trusted root (Fulcio CAs,
// Rekor logs, timestamp authorities) the operator supplies.
type Keyless struct {
	Identity string
	Issuer   string
}

// VerifyKeylessEntity verifies a Sigstore signed entity (a bundle) against
// trusted material: the Fulcio certificate chain, at least one Rekor
// transparency-log entry and an observed timestamp, and the certificate
// identity. It returns the verified DSSE payload and a description of the
// signer. Every failure wraps ErrVerification.
func VerifyKeylessEntity(e verify.SignedEntity, tm root.TrustedMaterial, k Keyless) ([]byte, string, error) {
	if k.Identity == "" || k.Issuer == "" {
		return nil, "", failf("keyless verification needs both an identity and an OIDC issuer")
	}
	v, err := verify.NewVerifier(tm, verify.WithTransparencyLog(1), verify.WithObserverTimestamps(1))
	if err != nil {
		return nil, "", fmt.Errorf("keyless verifier: %w", err)
	}
	id, err := verify.NewShortCertificateIdentity(k.Issuer, "", k.Identity, "")
	if err != nil {
		return nil, "", failf("certificate identity: %v", err)
	}
	// The statement's subject digest is checked by the model-signing rules
	// afterwards, file by file; here the signature, certificate, log entry
	// and identity are what is verified.
	res, err := v.Verify(e, verify.NewPolicy(verify.WithoutArtifactUnsafe(), verify.WithCertificateIdentity(id)))
	if err != nil {
		return nil, "", failf("keyless signature: %v", err)
	}
	sc, err := e.SignatureContent()
	if err != nil {
		return nil, "", failf("keyless signature content: %v", err)
	}
	env := sc.EnvelopeContent()
	if env == nil {
		return nil, "", failf("keyless bundle carries no DSSE envelope")
	}
	raw := env.RawEnvelope()
	if raw.PayloadType != PayloadType {
		return nil, "", failf("payload type %q, want %q", raw.PayloadType, PayloadType)
	}
	payload, err := raw.DecodeB64Payload()
	if err != nil {
		return nil, "", failf("envelope payload: %v", err)
	}
	signer := k.Identity
	if res.Signature != nil && res.Signature.Certificate != nil {
		signer = fmt.Sprintf("%s (issuer %s)", res.Signature.Certificate.SubjectAlternativeName, res.Signature.Certificate.Issuer)
	}
	return payload, signer, nil
}

// VerifyKeylessModel verifies the model at path against a Sigstore keyless
// bundle file and a trusted root file (trusted_root.json), offline.
func VerifyKeylessModel(path, bundlePath, trustedRootPath string, k Keyless, extraIgnore []string) (*Result, error) {
	var b bundle.Bundle
	data, err := os.ReadFile(bundlePath)
	if errors.Is(err, os.ErrNotExist) {
		return nil, failf("no signature at %s", bundlePath)
	}
	if err != nil {
		return nil, err
	}
	if len(data) > MaxBundleBytes {
		return nil, failf("signature larger than %d bytes", MaxBundleBytes)
	}
	if err := b.UnmarshalJSON(data); err != nil {
		return nil, failf("not a Sigstore bundle: %v", err)
	}
	tr, err := root.NewTrustedRootFromPath(trustedRootPath)
	if err != nil {
		return nil, fmt.Errorf("trusted root %s: %w", trustedRootPath, err)
	}
	payload, signer, err := VerifyKeylessEntity(&b, tr, k)
	if err != nil {
		return nil, err
	}
	return VerifyModelPayload(path, payload, signer, extraIgnore)
}
