package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	"google.golang.org/protobuf/proto"

	"github.com/rampart-ai/rampart/internal/signing"
)

// keylessFixture signs the model at dir the Sigstore keyless way, offline
// (virtual Fulcio, Rekor and TSA from sigstore-go's testing package), and
// writes dir/model.sig (a v0.3 bundle) and a trusted_root.json for it.
func keylessFixture(t *testing.T, dir, identity, issuer string) (trustedRoot string) {
	t.Helper()
	m, err := signing.Hash(dir, signing.HashOptions{})
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
	e, err := vs.AttestAtTime(identity, issuer, payload, time.Now().Add(5*time.Minute), true)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := e.SignatureContent()
	if err != nil {
		t.Fatal(err)
	}
	env := sc.EnvelopeContent().RawEnvelope()
	sig, err := base64.StdEncoding.DecodeString(env.Signatures[0].Sig)
	if err != nil {
		t.Fatal(err)
	}
	vc, err := e.VerificationContent()
	if err != nil {
		t.Fatal(err)
	}
	tl, err := e.TlogEntries()
	if err != nil {
		t.Fatal(err)
	}
	ts, err := e.Timestamps()
	if err != nil {
		t.Fatal(err)
	}
	// The virtual log's entry keeps its signed entry timestamp private:
	// sign the same payload again (any valid signature will do) and give
	// the entry its kind, as a real Rekor answer carries both.
	tle := proto.Clone(tl[0].TransparencyLogEntry()).(*protorekor.TransparencyLogEntry)
	set, err := vs.RekorSignPayload(tlog.RekorPayload{LogID: hex.EncodeToString(tle.LogId.KeyId), IntegratedTime: tle.IntegratedTime,
		LogIndex: tle.LogIndex, Body: base64.StdEncoding.EncodeToString(tle.CanonicalizedBody)})
	if err != nil {
		t.Fatal(err)
	}
	tle.InclusionPromise = &protorekor.InclusionPromise{SignedEntryTimestamp: set}
	tle.KindVersion = &protorekor.KindVersion{Kind: "dsse", Version: "0.0.1"}
	pb := &protobundle.Bundle{
		MediaType: "application/vnd.dev.sigstore.bundle.v0.3+json",
		VerificationMaterial: &protobundle.VerificationMaterial{
			Content:     &protobundle.VerificationMaterial_Certificate{Certificate: &protocommon.X509Certificate{RawBytes: vc.Certificate().Raw}},
			TlogEntries: []*protorekor.TransparencyLogEntry{tle},
			TimestampVerificationData: &protobundle.TimestampVerificationData{
				Rfc3161Timestamps: []*protocommon.RFC3161SignedTimestamp{{SignedTimestamp: ts[0]}},
			},
		},
		Content: &protobundle.Bundle_DsseEnvelope{DsseEnvelope: &protodsse.Envelope{
			Payload: payload, PayloadType: env.PayloadType, Signatures: []*protodsse.Signature{{Sig: sig}},
		}},
	}
	b, err := bundle.NewBundle(pb)
	if err != nil {
		t.Fatal(err)
	}
	bj, err := b.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "model.sig"), bj, 0o644); err != nil {
		t.Fatal(err)
	}
	// The virtual log's ID is its hex text; a trusted_root.json carries the
	// raw key ID bytes, as Sigstore's own trusted roots do.
	logs := map[string]*root.TransparencyLog{}
	for _, l := range vs.RekorLogs() {
		c := *l
		if raw, err := hex.DecodeString(string(l.ID)); err == nil {
			c.ID = raw
		}
		logs[hex.EncodeToString(c.ID)] = &c
	}
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01, vs.FulcioCertificateAuthorities(), vs.CTLogs(), vs.TimestampingAuthorities(), logs)
	if err != nil {
		t.Fatal(err)
	}
	tj, err := tr.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	trustedRoot = filepath.Join(filepath.Dir(dir), "trusted_root.json")
	if err := os.WriteFile(trustedRoot, tj, 0o644); err != nil {
		t.Fatal(err)
	}
	return trustedRoot
}

// TestVerifyKeylessOffline: `rampart verify --trusted-root` checks a keyless
// bundle file against a trusted_root.json, the identity and the issuer.
func TestVerifyKeylessOffline(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "model")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "weights.safetensors"), []byte("weights"), 0o644); err != nil {
		t.Fatal(err)
	}
	const who, issuer = "ml-release@example.com", "https://accounts.example.com"
	tr := keylessFixture(t, dir, who, issuer)
	run := func(args ...string) (string, int) {
		var out, errb bytes.Buffer
		err := Run(context.Background(), args, strings.NewReader(""), &out, &errb)
		code := ExitCode(err, &errb)
		return out.String() + errb.String(), code
	}
	if out, code := run("verify", dir, "--trusted-root", tr, "--identity", who, "--issuer", issuer); code != 0 || !strings.Contains(out, "keyless") {
		t.Fatalf("exit %d: %s", code, out)
	}
	if out, code := run("verify", dir, "--trusted-root", tr, "--identity", "mallory@example.com", "--issuer", issuer); code != 1 {
		t.Fatalf("wrong identity: exit %d: %s", code, out)
	}
	if out, code := run("verify", dir, "--trusted-root", tr, "--identity", who); code != 2 {
		t.Fatalf("missing issuer: exit %d: %s", code, out)
	}
	if err := os.WriteFile(filepath.Join(dir, "weights.safetensors"), []byte("swapped"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, code := run("verify", dir, "--trusted-root", tr, "--identity", who, "--issuer", issuer); code != 1 || !strings.Contains(out, "weights.safetensors") {
		t.Fatalf("tampered file: exit %d: %s", code, out)
	}
}
