package signing

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func writeFile(t *testing.T, p, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// modelDir writes a small model directory.
func modelDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "my-model")
	writeFile(t, filepath.Join(dir, "config.json"), `{"hidden": 4}`)
	writeFile(t, filepath.Join(dir, "weights", "model-00001.safetensors"), strings.Repeat("a", 5000))
	writeFile(t, filepath.Join(dir, "weights", "model-00002.safetensors"), strings.Repeat("b", 3000))
	writeFile(t, filepath.Join(dir, "tokenizer.json"), `{"vocab": []}`)
	return dir
}

func signModel(t *testing.T, s *Signer, root string, opts HashOptions) *Bundle {
	t.Helper()
	m, err := Hash(root, opts)
	if err != nil {
		t.Fatal(err)
	}
	p, err := m.Payload()
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Sign(PayloadType, p)
	if err != nil {
		t.Fatal(err)
	}
	// Every bundle goes through its JSON form, as on disk.
	data, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	b2, err := ParseBundle(data)
	if err != nil {
		t.Fatal(err)
	}
	return b2
}

func TestRoundTrip(t *testing.T) {
	k := newKey(t)
	s, err := NewSigner(k, nil)
	if err != nil {
		t.Fatal(err)
	}
	trust := &Trust{Key: &k.PublicKey}
	file := filepath.Join(t.TempDir(), "model.safetensors")
	writeFile(t, file, strings.Repeat("x", 10000))
	for _, tc := range []struct {
		name      string
		root      string
		opts      HashOptions
		method    string
		resources int
	}{
		{"directory", modelDir(t), HashOptions{}, MethodFiles, 4},
		{"file", file, HashOptions{}, MethodFiles, 1},
		{"directory in shards", modelDir(t), HashOptions{ShardSize: 2048}, MethodShards, 3 + 2 + 1 + 1},
		{"file in shards", file, HashOptions{ShardSize: 4096}, MethodShards, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := signModel(t, s, tc.root, tc.opts)
			res, err := VerifyModel(tc.root, b, trust, nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.Method != tc.method || res.Resources != tc.resources {
				t.Fatalf("method %s resources %d, want %s %d", res.Method, res.Resources, tc.method, tc.resources)
			}
		})
	}
}

func TestStatementShape(t *testing.T) {
	k := newKey(t)
	s, _ := NewSigner(k, nil)
	dir := modelDir(t)
	b := signModel(t, s, dir, HashOptions{Ignore: []string{"model.sig"}})
	if b.MediaType != BundleMediaType || b.DSSEEnvelope.PayloadType != PayloadType {
		t.Fatalf("bundle %q / %q", b.MediaType, b.DSSEEnvelope.PayloadType)
	}
	hint, _ := KeyHint(&k.PublicKey)
	if b.VerificationMaterial.PublicKey == nil || b.VerificationMaterial.PublicKey.Hint != hint {
		t.Fatalf("hint %+v, want %s", b.VerificationMaterial.PublicKey, hint)
	}
	var st struct {
		Type          string `json:"_type"`
		PredicateType string `json:"predicateType"`
		Subject       []struct {
			Name   string            `json:"name"`
			Digest map[string]string `json:"digest"`
		} `json:"subject"`
		Predicate struct {
			Serialization map[string]any `json:"serialization"`
			Resources     []Resource     `json:"resources"`
		} `json:"predicate"`
	}
	if err := json.Unmarshal(b.DSSEEnvelope.Payload, &st); err != nil {
		t.Fatal(err)
	}
	if st.Type != StatementType || st.PredicateType != SignaturePredicate || len(st.Subject) != 1 || st.Subject[0].Name != "my-model" {
		t.Fatalf("statement %+v", st)
	}
	var names []string
	h := sha256.New()
	for _, r := range st.Predicate.Resources {
		names = append(names, r.Name)
		d, _ := hex.DecodeString(r.Digest)
		h.Write(d)
	}
	if got := strings.Join(names, ","); got != "config.json,tokenizer.json,weights/model-00001.safetensors,weights/model-00002.safetensors" {
		t.Fatalf("resources %s", got)
	}
	if st.Subject[0].Digest["sha256"] != hex.EncodeToString(h.Sum(nil)) {
		t.Fatal("root digest is not sha256 over the resource digests in order")
	}
	want := sha256.Sum256([]byte(`{"hidden": 4}`))
	if st.Predicate.Resources[0].Digest != hex.EncodeToString(want[:]) || st.Predicate.Resources[0].Algorithm != "sha256" {
		t.Fatalf("config.json resource %+v", st.Predicate.Resources[0])
	}
	ser := st.Predicate.Serialization
	if ser["method"] != "files" || ser["hash_type"] != "sha256" || ser["allow_symlinks"] != false ||
		len(ser["ignore_paths"].([]any)) != 1 {
		t.Fatalf("serialization %v", ser)
	}
}

func TestPAE(t *testing.T) {
	got := string(PAE("http://example.com/HelloWorld", []byte("hello world")))
	if want := "DSSEv1 29 http://example.com/HelloWorld 11 hello world"; got != want {
		t.Fatalf("PAE %q, want %q", got, want)
	}
}

func TestTamper(t *testing.T) {
	k := newKey(t)
	s, _ := NewSigner(k, nil)
	trust := &Trust{Key: &k.PublicKey}
	for _, tc := range []struct {
		name   string
		shards bool
		change func(t *testing.T, dir string)
		want   string
	}{
		{"tampered file", false, func(t *testing.T, d string) { writeFile(t, filepath.Join(d, "config.json"), `{"hidden": 5}`) }, `file "config.json" tampered`},
		{"tampered shard", true, func(t *testing.T, d string) {
			writeFile(t, filepath.Join(d, "weights/model-00001.safetensors"), strings.Repeat("a", 4999)+"c")
		}, `file "weights/model-00001.safetensors" tampered`},
		{"truncated file", true, func(t *testing.T, d string) {
			writeFile(t, filepath.Join(d, "weights/model-00001.safetensors"), strings.Repeat("a", 4000))
		}, `file "weights/model-00001.safetensors" tampered`},
		{"missing file", false, func(t *testing.T, d string) { os.Remove(filepath.Join(d, "tokenizer.json")) }, `file "tokenizer.json" missing`},
		{"extra file", false, func(t *testing.T, d string) { writeFile(t, filepath.Join(d, "evil.pkl"), "x") }, `file "evil.pkl" not in the signed manifest`},
		{"extra file in new dir", false, func(t *testing.T, d string) { writeFile(t, filepath.Join(d, "sub", "x.bin"), "x") }, `file "sub/x.bin" not in the signed manifest`},
		{"renamed file", false, func(t *testing.T, d string) {
			os.Rename(filepath.Join(d, "config.json"), filepath.Join(d, "config2.json"))
		}, `file "config.json" renamed to "config2.json"`},
		{"renamed sharded file", true, func(t *testing.T, d string) {
			os.Rename(filepath.Join(d, "weights/model-00002.safetensors"), filepath.Join(d, "weights/model-3.safetensors"))
		}, `file "weights/model-00002.safetensors" renamed to "weights/model-3.safetensors"`},
		{"symlinked file", false, func(t *testing.T, d string) {
			// Same bytes behind a link: still refused.
			other := filepath.Join(t.TempDir(), "config.json")
			writeFile(t, other, `{"hidden": 4}`)
			os.Remove(filepath.Join(d, "config.json"))
			if err := os.Symlink(other, filepath.Join(d, "config.json")); err != nil {
				t.Skip(err)
			}
		}, "symbolic link"},
		{"fifo", false, func(t *testing.T, d string) {
			if err := mkfifo(filepath.Join(d, "pipe")); err != nil {
				t.Skip(err)
			}
		}, "not a regular file"},
		{"symlinked directory", false, func(t *testing.T, d string) {
			if err := os.Symlink(t.TempDir(), filepath.Join(d, "linked")); err != nil {
				t.Skip(err)
			}
		}, "symbolic link"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := modelDir(t)
			opts := HashOptions{}
			if tc.shards {
				opts.ShardSize = 2048
			}
			b := signModel(t, s, dir, opts)
			if _, err := VerifyModel(dir, b, trust, nil); err != nil {
				t.Fatalf("before the change: %v", err)
			}
			tc.change(t, dir)
			_, err := VerifyModel(dir, b, trust, nil)
			if !errors.Is(err, ErrVerification) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want a verification failure with %q", err, tc.want)
			}
		})
	}
}

func TestSignRefusesLinks(t *testing.T) {
	dir := modelDir(t)
	if err := os.Symlink(filepath.Join(dir, "config.json"), filepath.Join(dir, "alias.json")); err != nil {
		t.Skip(err)
	}
	if _, err := Hash(dir, HashOptions{}); !errors.Is(err, ErrSymlink) {
		t.Fatalf("err %v, want ErrSymlink", err)
	}
}

func TestIgnorePaths(t *testing.T) {
	k := newKey(t)
	s, _ := NewSigner(k, nil)
	dir := modelDir(t)
	writeFile(t, filepath.Join(dir, "model.sig"), "old signature")
	b := signModel(t, s, dir, HashOptions{Ignore: []string{"model.sig"}})
	writeFile(t, filepath.Join(dir, "model.sig"), "replaced signature")
	if _, err := VerifyModel(dir, b, &Trust{Key: &k.PublicKey}, nil); err != nil {
		t.Fatal(err)
	}
	// A file the verifier is told to skip is skipped; anything else counts.
	writeFile(t, filepath.Join(dir, "model.scan.sig"), "x")
	if _, err := VerifyModel(dir, b, &Trust{Key: &k.PublicKey}, []string{"model.scan.sig"}); err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyModel(dir, b, &Trust{Key: &k.PublicKey}, nil); !errors.Is(err, ErrVerification) {
		t.Fatalf("err %v, want extra file", err)
	}
}

// resign builds a bundle from a statement edited by edit, signed by k.
func resign(t *testing.T, k *ecdsa.PrivateKey, root string, payloadType string, edit func(st map[string]any)) *Bundle {
	t.Helper()
	m, err := Hash(root, HashOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := m.Payload()
	var st map[string]any
	if err := json.Unmarshal(p, &st); err != nil {
		t.Fatal(err)
	}
	edit(st)
	p, _ = json.Marshal(st)
	s, _ := NewSigner(k, nil)
	b, err := s.Sign(payloadType, p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestWrongSignatureOrStatement(t *testing.T) {
	k := newKey(t)
	other := newKey(t)
	dir := modelDir(t)
	s, _ := NewSigner(k, nil)
	trust := &Trust{Key: &k.PublicKey}
	good := signModel(t, s, dir, HashOptions{})
	for _, tc := range []struct {
		name  string
		b     func() *Bundle
		trust *Trust
		want  string
	}{
		{"wrong key", func() *Bundle { return good }, &Trust{Key: &other.PublicKey}, "wrong key"},
		{"wrong key without hint", func() *Bundle {
			b := *good
			b.VerificationMaterial.PublicKey = nil
			return &b
		}, &Trust{Key: &other.PublicKey}, "DSSE signature does not verify"},
		{"altered payload", func() *Bundle {
			b := *good
			e := *b.DSSEEnvelope
			e.Payload = []byte(strings.Replace(string(e.Payload), "config.json", "config.jsoN", 1))
			b.DSSEEnvelope = &e
			return &b
		}, trust, "DSSE signature does not verify"},
		{"payload type swapped after signing", func() *Bundle {
			b := *good
			e := *b.DSSEEnvelope
			e.PayloadType = "application/json"
			b.DSSEEnvelope = &e
			return &b
		}, trust, "DSSE signature does not verify"},
		{"wrong payload type, signed", func() *Bundle {
			return resign(t, k, dir, "application/json", func(map[string]any) {})
		}, trust, `payload type "application/json"`},
		{"wrong predicate type", func() *Bundle {
			return resign(t, k, dir, PayloadType, func(st map[string]any) { st["predicateType"] = "https://model_signing/Digests/v0.1" })
		}, trust, "predicate type"},
		{"wrong statement type", func() *Bundle {
			return resign(t, k, dir, PayloadType, func(st map[string]any) { st["_type"] = "https://in-toto.io/Statement/v0.1" })
		}, trust, "statement type"},
		{"root digest does not match resources", func() *Bundle {
			return resign(t, k, dir, PayloadType, func(st map[string]any) {
				st["subject"].([]any)[0].(map[string]any)["digest"] = map[string]any{"sha256": strings.Repeat("0", 64)}
			})
		}, trust, "manifest inconsistent"},
		{"path escaping the model", func() *Bundle {
			return resign(t, k, dir, PayloadType, func(st map[string]any) {
				st["predicate"].(map[string]any)["resources"].([]any)[0].(map[string]any)["name"] = "../etc/passwd"
			})
		}, trust, "not a clean relative path"},
		{"symlinks allowed", func() *Bundle {
			return resign(t, k, dir, PayloadType, func(st map[string]any) {
				st["predicate"].(map[string]any)["serialization"].(map[string]any)["allow_symlinks"] = true
			})
		}, trust, "allow_symlinks"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := VerifyModel(dir, tc.b(), tc.trust, nil)
			if !errors.Is(err, ErrVerification) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want a verification failure with %q", err, tc.want)
			}
		})
	}
}

type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

var serial int64

func newCA(t *testing.T, name string) *testCA {
	t.Helper()
	k := newKey(t)
	serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return &testCA{cert: c, key: k}
}

func (ca *testCA) issue(t *testing.T, key *ecdsa.PrivateKey, email, uri string, eku x509.ExtKeyUsage) *x509.Certificate {
	t.Helper()
	serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "signer"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{eku},
	}
	if email != "" {
		tmpl.EmailAddresses = []string{email}
	}
	if uri != "" {
		u, _ := url.Parse(uri)
		tmpl.URIs = []*url.URL{u}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c
}

func TestCertificateChains(t *testing.T) {
	root := newCA(t, "root")
	otherRoot := newCA(t, "other root")
	k := newKey(t)
	dir := modelDir(t)
	leaf := root.issue(t, k, "ml@example.com", "", x509.ExtKeyUsageCodeSigning)
	uriLeaf := root.issue(t, k, "", "https://github.com/org/repo/.github/workflows/release.yml@refs/heads/main", x509.ExtKeyUsageCodeSigning)
	tlsLeaf := root.issue(t, k, "ml@example.com", "", x509.ExtKeyUsageServerAuth)
	strangerLeaf := otherRoot.issue(t, k, "ml@example.com", "", x509.ExtKeyUsageCodeSigning)
	pool := func(cs ...*x509.Certificate) *x509.CertPool {
		p := x509.NewCertPool()
		for _, c := range cs {
			p.AddCert(c)
		}
		return p
	}
	if _, err := NewSigner(newKey(t), []*x509.Certificate{leaf}); err == nil {
		t.Fatal("a certificate for another key was accepted")
	}
	for _, tc := range []struct {
		name  string
		leaf  *x509.Certificate
		trust *Trust
		want  string // "" for success
	}{
		{"good chain, no identity", leaf, &Trust{Roots: pool(root.cert)}, ""},
		{"good chain, email identity", leaf, &Trust{Roots: pool(root.cert), Identity: "ml@example.com"}, ""},
		{"good chain, URI identity", uriLeaf, &Trust{Roots: pool(root.cert), Identity: "https://github.com/org/repo/.github/workflows/release.yml@refs/heads/main"}, ""},
		{"wrong identity", leaf, &Trust{Roots: pool(root.cert), Identity: "mallory@example.com"}, "wrong identity"},
		{"untrusted root", strangerLeaf, &Trust{Roots: pool(root.cert)}, "certificate chain"},
		{"not for code signing", tlsLeaf, &Trust{Roots: pool(root.cert)}, "certificate chain"},
		{"expired", leaf, &Trust{Roots: pool(root.cert), Now: time.Now().Add(48 * time.Hour)}, "certificate chain"},
		{"key bundle against roots", nil, &Trust{Roots: pool(root.cert)}, "no certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var chain []*x509.Certificate
			if tc.leaf != nil {
				chain = []*x509.Certificate{tc.leaf}
			}
			s, err := NewSigner(k, chain)
			if err != nil {
				t.Fatal(err)
			}
			b := signModel(t, s, dir, HashOptions{})
			_, err = VerifyModel(dir, b, tc.trust, nil)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrVerification) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want a verification failure with %q", err, tc.want)
			}
		})
	}
}

// A v0.3 bundle may carry the leaf alone in "certificate".
func TestCertificateField(t *testing.T) {
	root := newCA(t, "root")
	k := newKey(t)
	leaf := root.issue(t, k, "ml@example.com", "", x509.ExtKeyUsageCodeSigning)
	s, _ := NewSigner(k, []*x509.Certificate{leaf})
	dir := modelDir(t)
	b := signModel(t, s, dir, HashOptions{})
	b.VerificationMaterial.Certificate = &RawCert{RawBytes: leaf.Raw}
	b.VerificationMaterial.X509CertificateChain = nil
	pool := x509.NewCertPool()
	pool.AddCert(root.cert)
	if _, err := VerifyModel(dir, b, &Trust{Roots: pool, Identity: "ml@example.com"}, nil); err != nil {
		t.Fatal(err)
	}
	b.VerificationMaterial.Certificate = &RawCert{RawBytes: []byte("not DER")}
	if _, err := VerifyModel(dir, b, &Trust{Roots: pool}, nil); !errors.Is(err, ErrVerification) {
		t.Fatalf("err %v, want a verification failure", err)
	}
}

func TestEveryProblemReported(t *testing.T) {
	k := newKey(t)
	s, _ := NewSigner(k, nil)
	dir := modelDir(t)
	b := signModel(t, s, dir, HashOptions{})
	writeFile(t, filepath.Join(dir, "config.json"), "{}")
	os.Remove(filepath.Join(dir, "tokenizer.json"))
	writeFile(t, filepath.Join(dir, "new.bin"), "n")
	_, err := VerifyModel(dir, b, &Trust{Key: &k.PublicKey}, nil)
	for _, want := range []string{`"config.json" tampered`, `"tokenizer.json" missing`, `"new.bin" not in the signed manifest`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err %v, want %q", err, want)
		}
	}
}

func TestParseBundleRejects(t *testing.T) {
	env := `"dsseEnvelope":{"payload":"e30=","payloadType":"application/vnd.in-toto+json","signatures":[{"sig":"AA=="}]}`
	for _, tc := range []struct{ name, in, want string }{
		{"not JSON", "nope", "not a Sigstore bundle"},
		{"wrong media type", `{"mediaType":"application/json",` + env + `}`, "media type"},
		{"no envelope", `{"mediaType":"` + BundleMediaType + `"}`, "no DSSE envelope"},
		{"two signatures", `{"mediaType":"` + BundleMediaType + `","dsseEnvelope":{"payload":"e30=","signatures":[{"sig":"AA=="},{"sig":"AA=="}]}}`, "2 signatures"},
		{"bad base64", `{"mediaType":"` + BundleMediaType + `","dsseEnvelope":{"payload":"!!!","signatures":[{"sig":"AA=="}]}}`, "not a Sigstore bundle"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseBundle([]byte(tc.in))
			if !errors.Is(err, ErrVerification) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := ParseBundle([]byte(`{"mediaType":"` + BundleMediaType + `",` + env + `}`)); err != nil {
		t.Fatal(err)
	}
}

func TestGenerateKey(t *testing.T) {
	dir := t.TempDir()
	priv, pub, err := GenerateKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(priv)
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("private key mode %v", st.Mode().Perm())
	}
	pb, _ := os.ReadFile(priv)
	kb, _ := os.ReadFile(pub)
	if !strings.HasPrefix(string(pb), "-----BEGIN PRIVATE KEY-----") || !strings.HasPrefix(string(kb), "-----BEGIN PUBLIC KEY-----") {
		t.Fatal("keys are not PKCS#8 / PKIX PEM")
	}
	k, err := ParsePrivateKey(pb)
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParsePublicKey(kb)
	if err != nil || !p.Equal(k.Public()) {
		t.Fatalf("public key does not match: %v", err)
	}
	if _, _, err := GenerateKey(dir); err == nil {
		t.Fatal("existing keys were overwritten")
	}
}

func FuzzParseBundle(f *testing.F) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	s, _ := NewSigner(k, nil)
	b, _ := s.Sign(PayloadType, []byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"m","digest":{"sha256":"`+strings.Repeat("0", 64)+`"}}],"predicateType":"https://model_signing/signature/v1.0","predicate":{"serialization":{"method":"shards","hash_type":"sha256","shard_size":1,"allow_symlinks":false,"ignore_paths":[]},"resources":[{"name":"a:0:1","algorithm":"sha256","digest":"`+strings.Repeat("1", 64)+`"}]}}`))
	seed, _ := json.Marshal(b)
	f.Add(seed)
	f.Add([]byte(`{"mediaType":"` + BundleMediaType + `","dsseEnvelope":{"payload":"` + base64.StdEncoding.EncodeToString([]byte("{}")) + `","signatures":[{"sig":"AA=="}]}}`))
	f.Add([]byte(`{}`))
	if ref, err := os.ReadFile(filepath.Join("testdata", "reference", "model.sig")); err == nil {
		f.Add(ref)
	}
	dir := f.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a"), []byte("x"), 0o644); err != nil {
		f.Fatal(err)
	}
	trust := &Trust{Key: &k.PublicKey}
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := ParseBundle(data)
		if err != nil {
			if !errors.Is(err, ErrVerification) {
				t.Fatalf("parse error not a verification failure: %v", err)
			}
			return
		}
		// Parsing must never panic, and a bundle the fuzzer made up must
		// never verify.
		if _, err := VerifyModel(dir, b, trust, nil); err == nil {
			t.Fatal("a made-up bundle verified")
		}
		// The statement decoder on its own, without a signature check.
		_, _, _ = parseStatement(b.DSSEEnvelope.Payload, SignaturePredicate)
		for _, pt := range []string{b.DSSEEnvelope.PayloadType} {
			_ = PAE(pt, b.DSSEEnvelope.Payload)
		}
	})
}

// FuzzSignedStatement signs whatever payload the fuzzer makes, so the
// statement and predicate checks behind the signature check get fuzzed too.
func FuzzSignedStatement(f *testing.F) {
	dir := f.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a"), []byte("x"), 0o644); err != nil {
		f.Fatal(err)
	}
	m, err := Hash(dir, HashOptions{})
	if err != nil {
		f.Fatal(err)
	}
	p, _ := m.Payload()
	f.Add(p)
	m2, _ := Hash(dir, HashOptions{ForceShards: true, ShardSize: 1})
	p2, _ := m2.Payload()
	f.Add(p2)
	f.Add([]byte(`{"_type":"https://in-toto.io/Statement/v1","predicateType":"https://model_signing/signature/v1.0","subject":[{"digest":{"sha256":"` + strings.Repeat("0", 64) + `"}}],"predicate":{"serialization":{"method":"shards","hash_type":"sha256","shard_size":-1}}}`))
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	s, _ := NewSigner(k, nil)
	trust := &Trust{Key: &k.PublicKey}
	f.Fuzz(func(t *testing.T, payload []byte) {
		b, err := s.Sign(PayloadType, payload)
		if err != nil {
			t.Fatal(err)
		}
		res, err := VerifyModel(dir, b, trust, nil)
		if err == nil && res.Files != 1 {
			t.Fatalf("verified with %d files", res.Files)
		}
	})
}

// TestReferenceBundle verifies a bundle made outside rampart, with Python's
// cryptography package and the reference implementation's layout
// (testdata/reference/gen.py).
func TestReferenceBundle(t *testing.T) {
	dir := filepath.Join("testdata", "reference")
	data, err := os.ReadFile(filepath.Join(dir, "model.sig"))
	if err != nil {
		t.Fatal(err)
	}
	kb, err := os.ReadFile(filepath.Join(dir, "public.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ParsePublicKey(kb)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ParseBundle(data)
	if err != nil {
		t.Fatal(err)
	}
	res, err := VerifyModel(filepath.Join(dir, "model"), b, &Trust{Key: pub}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Files != 4 || res.Method != MethodFiles {
		t.Fatalf("result %+v", res)
	}
	if _, err := VerifyModel(filepath.Join(dir, "model"), b, &Trust{Key: &newKey(t).PublicKey}, nil); !errors.Is(err, ErrVerification) {
		t.Fatalf("another key: %v", err)
	}
}

// BenchmarkHash measures manifest hashing of one large file; SHA-256 is
// the bound, so the figure is close to the machine's SHA-256 throughput.
func BenchmarkHash(b *testing.B) {
	for _, shard := range []int64{0, 16 << 20} {
		name := "files"
		if shard > 0 {
			name = "shards"
		}
		b.Run(name, func(b *testing.B) {
			dir := b.TempDir()
			p := filepath.Join(dir, "weights.bin")
			data := make([]byte, 64<<20)
			for i := range data {
				data[i] = byte(i * 7)
			}
			if err := os.WriteFile(p, data, 0o644); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(data)))
			b.ResetTimer()
			for b.Loop() {
				if _, err := Hash(dir, HashOptions{ShardSize: shard, ForceShards: shard > 0}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
