package e2e

import (
	"strings"
	"testing"
)

// TestDemo runs the README's first command: the guided tour must pass on
// embedded defaults alone.
func TestDemo(t *testing.T) {
	out, errOut, code := rampart(t, "demo")
	if code != 0 {
		t.Fatalf("rampart demo exited %d:\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"HTTP 200 (expected 200) PASS", "HTTP 401 (expected 401) PASS", "HTTP 403 (expected 403) PASS",
		"HTTP 400 (expected 400) PASS", "HTTP 413 (expected 413) PASS", "HTTP 429 (expected 429) PASS", "Tour passed"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out+errOut, "FAIL") {
		t.Errorf("a step failed:\n%s", out)
	}
}

// TestUsageErrors checks exit status 2 and a clear message for bad usage
// and a bad config, with the file and line.
func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	bad := writeFile(t, dir, "rampart.yaml", "routes:\n  - name: x\n    prefix: /v2\n    protocol: oip\n    upstream: http://127.0.0.1:1\n    anonymous: true\n    mode: block\n")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"serve"}, "--config is required"},
		{[]string{"serve", "--config", bad}, bad + ":7: "},
		{[]string{"serve", "--config", dir + "/missing.yaml"}, "no such file"},
		{[]string{"nonsense"}, "unknown command"},
		{[]string{"demo", "--bogus"}, "unknown flag"},
	}
	for _, tc := range cases {
		_, errOut, code := rampart(t, tc.args...)
		if code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, code, errOut, tc.want)
		}
	}
	out, _, code := rampart(t, "serve", "--help")
	if code != 0 || !strings.Contains(out, "rampart serve --config") {
		t.Errorf("serve --help: %d %s", code, out)
	}
}
