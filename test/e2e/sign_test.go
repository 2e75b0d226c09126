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
