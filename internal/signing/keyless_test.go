package signing

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sigstore/sigstore-go/pkg/testing/ca"
)

// TestKeyless signs a model's statement with a Sigstore keyless flow run
// offline (a virtual Fulcio CA, Rekor log and timestamp authority from
// sigstore-go's testing package) and verifies it against that trusted
// material: the right identity passes; a wrong identity, a wrong issuer,
// another trust root and a tampered file each fail.
func TestKeyless(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "model")
	if err := os.MkdirAll(model, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(model, "weights.bin"), []byte("tensor bytes"), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := Hash(model, HashOptions{})
	if err != nil {
		t.Fatal(err)
	}
	payload, err := m.Payload()
	if err != nil {
		t.Fatal(err)
	}
	vs, err := ca.NewVirtualSigstore()
	if err != nil {
		t.Fatal(err)
	}
	const who, issuer = "ml-release@example.com", "https://accounts.example.com"
	entity, err := vs.Attest(who, issuer, payload)
	if err != nil {
		t.Fatal(err)
	}

	got, signer, err := VerifyKeylessEntity(entity, vs, Keyless{Identity: who, Issuer: issuer})
	if err != nil {
		t.Fatalf("valid keyless signature: %v", err)
	}
	if !strings.Contains(signer, who) {
		t.Errorf("signer %q does not name %s", signer, who)
	}
	res, err := VerifyModelPayload(model, got, signer, nil)
	if err != nil || res.Files != 1 {
		t.Fatalf("model against keyless payload: %+v %v", res, err)
	}

	other, err := ca.NewVirtualSigstore()
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		k     Keyless
		trust any
	}{
		"wrong identity":   {Keyless{Identity: "mallory@example.com", Issuer: issuer}, vs},
		"wrong issuer":     {Keyless{Identity: who, Issuer: "https://evil.example.com"}, vs},
		"other trust root": {Keyless{Identity: who, Issuer: issuer}, other},
		"no identity":      {Keyless{Issuer: issuer}, vs},
	} {
		t.Run(name, func(t *testing.T) {
			tm := tc.trust.(*ca.VirtualSigstore)
			if _, _, err := VerifyKeylessEntity(entity, tm, tc.k); !errors.Is(err, ErrVerification) {
				t.Fatalf("err %v, want a verification failure", err)
			}
		})
	}

	t.Run("tampered file", func(t *testing.T) {
		if err := os.WriteFile(filepath.Join(model, "weights.bin"), []byte("other bytes"), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := VerifyModelPayload(model, got, signer, nil); !errors.Is(err, ErrVerification) {
			t.Fatalf("err %v, want a verification failure", err)
		}
	})
}
