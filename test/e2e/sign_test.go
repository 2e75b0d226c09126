package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSignVerifyBinary is the deployment gate as an init container would
// run it: sign a model with its scan verdict, verify both, then catch a
// tampered file and a model whose scan is not clean.
func TestSignVerifyBinary(t *testing.T) {
	dir := t.TempDir()
	keys := filepath.Join(dir, "keys")
	if _, errOut, code := rampart(t, "sign", "--generate-key", keys); code != 0 {
		t.Fatalf("generate key: %s", errOut)
	}
	priv, pub := filepath.Join(keys, "private.pem"), filepath.Join(keys, "public.pem")
	model := filepath.Join(dir, "model")
	if err := os.MkdirAll(model, 0o755); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(repoRoot(t), "internal", "modelscan", "zip", "testdata", "torch_state.pt"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, model, "model.pt", string(src))
	writeFile(t, model, "config.json", `{"hidden_size": 8}`)

	if _, errOut, code := rampart(t, "sign", model, "--key", priv, "--scan"); code != 0 {
		t.Fatalf("sign --scan: exit %d: %s", code, errOut)
	}
	if out, errOut, code := rampart(t, "verify", model, "--key", pub, "--require-clean-scan"); code != 0 {
		t.Fatalf("verify: exit %d: %s %s", code, out, errOut)
	}
	writeFile(t, model, "config.json", `{"hidden_size": 9}`)
	if _, errOut, code := rampart(t, "verify", model, "--key", pub); code != 1 || !strings.Contains(errOut, "config.json") {
		t.Fatalf("tampered model: exit %d: %s", code, errOut)
	}

	evil := filepath.Join(dir, "evil")
	if err := os.MkdirAll(evil, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, evil, "model.bin", "cos\nsystem\n(S'id'\ntR.")
	if _, _, code := rampart(t, "sign", evil, "--key", priv, "--scan"); code != 1 {
		t.Fatalf("sign --scan of a malicious model: exit %d, want 1", code)
	}
	if _, _, code := rampart(t, "verify", evil, "--key", pub, "--require-clean-scan"); code != 1 {
		t.Fatalf("verify --require-clean-scan of a malicious model: exit %d, want 1", code)
	}
}

// TestGatewayServesOnlyWhatVerifies: a route that names a model's signed
// files verifies them when the config loads, shows the verified root
// digest in the model's metadata, and refuses the config once a file is
// tampered with.
func TestGatewayServesOnlyWhatVerifies(t *testing.T) {
	up := startUpstream(t, "oip")
	dir := t.TempDir()
	if _, errOut, code := rampart(t, "sign", "--generate-key", filepath.Join(dir, "keys")); code != 0 {
		t.Fatal(errOut)
	}
	model := filepath.Join(dir, "model")
	if err := os.MkdirAll(model, 0o755); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(repoRoot(t), "internal", "modelscan", "zip", "testdata", "torch_state.pt"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, model, "model.pt", string(src))
	out, errOut, code := rampart(t, "sign", model, "--key", filepath.Join(dir, "keys", "private.pem"), "--scan")
	if code != 0 {
		t.Fatalf("sign: %s", errOut)
	}
	writeFile(t, dir, "policies.cedar", allowAnalysts)
	writeFile(t, dir, "rampart.yaml", `
listen: {address: "127.0.0.1:0"}
admin: {address: "127.0.0.1:0"}
audit: {dir: audit}
identity: {api_keys: {db: keys.db}}
policies: [policies.cedar]
routes:
  - name: models
    prefix: /v2
    protocol: oip
    upstream: "`+up.URL+`"
    models:
      breast-cancer:
        signed: {path: model, key: keys/public.pem, require_clean_scan: true}
`)
	key := createKey(t, filepath.Join(dir, "keys.db"), "a", "t", "--role", "analyst")
	g := startGateway(t, dir)
	r := g.do("GET", "/v2/models/breast-cancer", key, nil)
	if r.Status != 200 {
		t.Fatalf("metadata: %d %s", r.Status, r.Body)
	}
	v, ok := r.json(t)["rampart_verified"].(map[string]any)
	if !ok || v["scan"] != "CLEAN" || !strings.Contains(out, "root sha256:"+v["root_digest"].(string)) {
		t.Fatalf("metadata does not show the verified model: %s (sign said %s)", r.Body, out)
	}
	g.stop()

	writeFile(t, model, "model.pt", string(src)+"x")
	_, errOut, code = rampart(t, "serve", "--config", filepath.Join(dir, "rampart.yaml"), "--check")
	if code != 2 || !strings.Contains(errOut, "does not verify") || !strings.Contains(errOut, "rampart.yaml:") {
		t.Fatalf("a tampered model was accepted: exit %d: %s", code, errOut)
	}
}
