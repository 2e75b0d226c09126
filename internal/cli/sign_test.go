package cli

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

func runSignCmd(t *testing.T, mk func(*Env) *cobra.Command, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	env := &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb}
	c := mk(env)
	c.SilenceUsage, c.SilenceErrors = true, true
	c.SetArgs(args)
	c.SetOut(&out)
	c.SetErr(&errb)
	code := ExitCode(c.ExecuteContext(context.Background()), &errb)
	return out.String(), errb.String(), code
}

func runSign(t *testing.T, args ...string) (string, string, int) {
	return runSignCmd(t, newSignCmd, args...)
}

func runVerify(t *testing.T, args ...string) (string, string, int) {
	return runSignCmd(t, newVerifyCmd, args...)
}

func signWrite(t *testing.T, p string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// Pickle bytes built here, never loaded: a protocol-2 dict {"a": 1} is
// clean; the others call os.system when a loader unpickles them.
var (
	sigCleanPickle   = []byte("\x80\x02}q\x00X\x01\x00\x00\x00aK\x01s.")
	sigEvilPickle0   = []byte("cos\nsystem\n(S'id'\ntR.")
	sigEvilPickleP4  = []byte("\x80\x04\x95\x1d\x00\x00\x00\x00\x00\x00\x00\x8c\x05posix\x94\x8c\x06system\x94\x93\x94\x8c\x02id\x94\x85\x94R\x94.")
	sigCleanPickleP4 = []byte("\x80\x04\x95\x0a\x00\x00\x00\x00\x00\x00\x00}\x94\x8c\x01b\x94K\x02s.")
)

func signKeys(t *testing.T) (priv, pub string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "keys")
	out, errs, code := runSign(t, "--generate-key", dir)
	if code != 0 {
		t.Fatalf("generate-key: %d %s %s", code, out, errs)
	}
	return filepath.Join(dir, "private.pem"), filepath.Join(dir, "public.pem")
}

func signModelDir(t *testing.T, evil bool) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "model")
	signWrite(t, filepath.Join(dir, "state.pkl"), sigCleanPickle)
	signWrite(t, filepath.Join(dir, "sub", "extra.pkl"), sigCleanPickleP4)
	if evil {
		signWrite(t, filepath.Join(dir, "sub", "weights.bin"), sigEvilPickleP4)
		signWrite(t, filepath.Join(dir, "notes.txt"), sigEvilPickle0)
	}
	return dir
}

func TestSignVerifyRoundTrip(t *testing.T) {
	priv, pub := signKeys(t)
	dir := signModelDir(t, false)
	file := filepath.Join(t.TempDir(), "one", "weights.pkl")
	signWrite(t, file, sigCleanPickle)
	for _, tc := range []struct {
		name, model, sig string
		extra            []string
	}{
		{"directory", dir, filepath.Join(dir, "model.sig"), nil},
		{"file", file, filepath.Join(filepath.Dir(file), "model.sig"), nil},
		{"directory in shards", dir, filepath.Join(dir, "model.sig"), []string{"--shards", "--shard-size", "8"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errs, code := runSign(t, append([]string{tc.model, "--key", priv}, tc.extra...)...)
			if code != 0 {
				t.Fatalf("sign: %d %s %s", code, out, errs)
			}
			if _, err := os.Stat(tc.sig); err != nil {
				t.Fatalf("no signature at %s: %v", tc.sig, err)
			}
			out, errs, code = runVerify(t, tc.model, "--key", pub)
			if code != 0 || !strings.Contains(out, "verified") {
				t.Fatalf("verify: %d %s %s", code, out, errs)
			}
		})
	}
}

func TestVerifyFailures(t *testing.T) {
	priv, pub := signKeys(t)
	_, otherPub := signKeys(t)
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, dir string)
		args   []string
		code   int
		want   string
	}{
		{"tampered", func(t *testing.T, d string) { signWrite(t, filepath.Join(d, "state.pkl"), sigEvilPickle0) }, nil, 1, `"state.pkl" tampered`},
		{"missing", func(t *testing.T, d string) { os.Remove(filepath.Join(d, "sub", "extra.pkl")) }, nil, 1, `"sub/extra.pkl" missing`},
		{"extra", func(t *testing.T, d string) { signWrite(t, filepath.Join(d, "payload.pkl"), sigEvilPickle0) }, nil, 1, `"payload.pkl" not in the signed manifest`},
		{"renamed", func(t *testing.T, d string) {
			os.Rename(filepath.Join(d, "state.pkl"), filepath.Join(d, "state2.pkl"))
		}, nil, 1, `"state.pkl" renamed to "state2.pkl"`},
		{"symlinked", func(t *testing.T, d string) {
			tgt := filepath.Join(t.TempDir(), "x.pkl")
			signWrite(t, tgt, sigCleanPickle)
			os.Remove(filepath.Join(d, "state.pkl"))
			if err := os.Symlink(tgt, filepath.Join(d, "state.pkl")); err != nil {
				t.Skip(err)
			}
		}, nil, 1, "symbolic link"},
		{"wrong key", nil, []string{"--key", otherPub}, 1, "wrong key"},
		{"signature deleted", func(t *testing.T, d string) { os.Remove(filepath.Join(d, "model.sig")) }, nil, 1, "no signature"},
		{"signature garbled", func(t *testing.T, d string) { signWrite(t, filepath.Join(d, "model.sig"), []byte("{")) }, nil, 1, "not a Sigstore bundle"},
		{"no key", nil, []string{"--key", ""}, 2, "exactly one of"},
		{"identity without chain", nil, []string{"--identity", "a@b"}, 2, "--identity needs --cert-chain"},
		{"unreadable key", nil, []string{"--key", "/nonexistent/key.pem"}, 2, "--key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := signModelDir(t, false)
			if _, errs, code := runSign(t, dir, "--key", priv); code != 0 {
				t.Fatalf("sign: %s", errs)
			}
			if tc.change != nil {
				tc.change(t, dir)
			}
			args := append([]string{dir, "--key", pub}, tc.args...)
			_, errs, code := runVerify(t, args...)
			if code != tc.code || !strings.Contains(errs, tc.want) {
				t.Fatalf("exit %d (%s), want %d with %q", code, errs, tc.code, tc.want)
			}
		})
	}
}

func TestSignUsage(t *testing.T) {
	priv, _ := signKeys(t)
	dir := signModelDir(t, false)
	if err := os.Symlink(filepath.Join(dir, "state.pkl"), filepath.Join(dir, "alias.pkl")); err != nil {
		t.Skip(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no key", []string{dir}, "--key is required"},
		{"no model", []string{"--key", priv}, "exactly one MODEL"},
		{"model holding a link", []string{dir, "--key", priv}, "symbolic link"},
		{"public key as private", []string{dir, "--key", filepath.Join(filepath.Dir(priv), "public.pem")}, "no PEM private key"},
		{"missing model", []string{filepath.Join(dir, "nope"), "--key", priv}, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errs, code := runSign(t, tc.args...)
			if code != 2 || !strings.Contains(errs, tc.want) {
				t.Fatalf("exit %d (%s), want 2 with %q", code, errs, tc.want)
			}
		})
	}
}

func TestScanGate(t *testing.T) {
	priv, pub := signKeys(t)
	otherPriv, otherPub := signKeys(t)

	clean := signModelDir(t, false)
	out, errs, code := runSign(t, clean, "--key", priv, "--scan")
	if code != 0 || !strings.Contains(out, "verdict CLEAN") {
		t.Fatalf("sign --scan clean model: %d %s %s", code, out, errs)
	}
	if out, errs, code := runVerify(t, clean, "--key", pub, "--require-clean-scan"); code != 0 || !strings.Contains(out, "CLEAN") {
		t.Fatalf("verify clean: %d %s %s", code, out, errs)
	}

	evil := signModelDir(t, true)
	out, errs, code = runSign(t, evil, "--key", priv, "--scan")
	if code != 1 || !strings.Contains(errs, "UNSAFE") {
		t.Fatalf("sign --scan malicious model: %d %s %s", code, out, errs)
	}
	if _, errs, code := runVerify(t, evil, "--key", pub); code != 0 {
		t.Fatalf("plain verify of a signed malicious model: %d %s", code, errs)
	}
	if _, errs, code := runVerify(t, evil, "--key", pub, "--require-clean-scan"); code != 1 || !strings.Contains(errs, "UNSAFE") {
		t.Fatalf("verify --require-clean-scan malicious: %d %s", code, errs)
	}

	t.Run("no scan attestation", func(t *testing.T) {
		dir := signModelDir(t, false)
		runSign(t, dir, "--key", priv)
		if _, errs, code := runVerify(t, dir, "--key", pub, "--require-clean-scan"); code != 1 || !strings.Contains(errs, "no scan attestation") {
			t.Fatalf("%d %s", code, errs)
		}
	})
	t.Run("scan attestation of another model", func(t *testing.T) {
		dir := signModelDir(t, false)
		signWrite(t, filepath.Join(dir, "more.pkl"), sigCleanPickle)
		runSign(t, dir, "--key", priv)
		data, _ := os.ReadFile(filepath.Join(clean, "model.scan.sig"))
		signWrite(t, filepath.Join(dir, "model.scan.sig"), data)
		if _, errs, code := runVerify(t, dir, "--key", pub, "--require-clean-scan"); code != 1 || !strings.Contains(errs, "root digest") {
			t.Fatalf("%d %s", code, errs)
		}
	})
	t.Run("scan attestation by another signer", func(t *testing.T) {
		dir := signModelDir(t, false)
		runSign(t, dir, "--key", otherPriv, "--scan")
		runSign(t, dir, "--key", priv) // model.sig by priv, model.scan.sig by otherPriv
		if _, errs, code := runVerify(t, dir, "--key", pub, "--require-clean-scan"); code != 1 || !strings.Contains(errs, "scan attestation") || !strings.Contains(errs, "wrong key") {
			t.Fatalf("%d %s", code, errs)
		}
		if _, errs, code := runVerify(t, dir, "--key", otherPub); code != 1 {
			t.Fatalf("model.sig verified with the scan signer's key: %s", errs)
		}
	})
	t.Run("scan of a file that is then tampered", func(t *testing.T) {
		dir := signModelDir(t, false)
		runSign(t, dir, "--key", priv, "--scan")
		signWrite(t, filepath.Join(dir, "state.pkl"), sigEvilPickle0)
		if _, errs, code := runVerify(t, dir, "--key", pub, "--require-clean-scan"); code != 1 || !strings.Contains(errs, "tampered") {
			t.Fatalf("%d %s", code, errs)
		}
	})
}

func signPEM(t *testing.T, p string, certs ...*x509.Certificate) {
	t.Helper()
	var b bytes.Buffer
	for _, c := range certs {
		pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	signWrite(t, p, b.Bytes())
}

func TestSignVerifyCertificates(t *testing.T) {
	priv, _ := signKeys(t)
	kb, _ := os.ReadFile(priv)
	blk, _ := pem.Decode(kb)
	k8, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	key := k8.(*ecdsa.PrivateKey)
	mk := func(tmpl, parent *x509.Certificate, pub *ecdsa.PublicKey, signer *ecdsa.PrivateKey) *x509.Certificate {
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := x509.ParseCertificate(der)
		return c
	}
	now := time.Now()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caT := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "root"}, NotBefore: now.Add(-time.Hour),
		NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	ca := mk(caT, caT, &caKey.PublicKey, caKey)
	interKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	inter := mk(&x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "intermediate"}, NotBefore: now.Add(-time.Hour),
		NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}, ca, &interKey.PublicKey, caKey)
	leaf := mk(&x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "release"}, NotBefore: now.Add(-time.Hour),
		NotAfter: now.Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		EmailAddresses: []string{"release@example.com"}}, inter, &key.PublicKey, interKey)
	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other := mk(caT, caT, &otherKey.PublicKey, otherKey)

	tmp := t.TempDir()
	chain, roots, otherRoots := filepath.Join(tmp, "chain.pem"), filepath.Join(tmp, "roots.pem"), filepath.Join(tmp, "other.pem")
	signPEM(t, chain, leaf, inter)
	signPEM(t, roots, ca)
	signPEM(t, otherRoots, other)

	dir := signModelDir(t, false)
	if _, errs, code := runSign(t, dir, "--key", priv, "--cert", chain, "--scan"); code != 0 {
		t.Fatalf("sign with cert: %s", errs)
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"good chain", []string{"--cert-chain", roots}, 0, "release@example.com"},
		{"good chain and identity, with scan", []string{"--cert-chain", roots, "--identity", "release@example.com", "--require-clean-scan"}, 0, "CLEAN"},
		{"wrong identity", []string{"--cert-chain", roots, "--identity", "eve@example.com"}, 1, "wrong identity"},
		{"untrusted root", []string{"--cert-chain", otherRoots}, 1, "certificate chain"},
		{"key and chain", []string{"--cert-chain", roots, "--key", priv}, 2, "exactly one of"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errs, code := runVerify(t, append([]string{dir}, tc.args...)...)
			if code != tc.code || !strings.Contains(out+errs, tc.want) {
				t.Fatalf("exit %d (%s%s), want %d with %q", code, out, errs, tc.code, tc.want)
			}
		})
	}
	t.Run("certificate for another key", func(t *testing.T) {
		otherPriv, _ := signKeys(t)
		if _, errs, code := runSign(t, dir, "--key", otherPriv, "--cert", chain); code != 2 || !strings.Contains(errs, "does not match") {
			t.Fatalf("%d %s", code, errs)
		}
	})
}
