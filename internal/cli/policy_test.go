package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPolicyCheck(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.cedar")
	os.WriteFile(bad, []byte("permit (principal, action, resource);\npermit (principal action, resource);\n"), 0o644)
	tests := []struct {
		name   string
		args   []string
		status int
		out    string
	}{
		{"examples", []string{"check", "../../examples/policies"}, 0, "ok: 6 policies"},
		{"single file", []string{"check", "../../examples/policies/rbac.cedar"}, 0, "ok: 4 policies"},
		{"parse error", []string{"check", bad}, 2, bad + ":2:"},
		{"missing", []string{"check", filepath.Join(dir, "nope")}, 2, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, st := execCmd(t, newPolicyCmd, tt.args...)
			if st != tt.status || !strings.Contains(out+errOut, tt.out) {
				t.Fatalf("status %d, output %q %q; want %d containing %q", st, out, errOut, tt.status, tt.out)
			}
		})
	}
}

func TestPolicyTest(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	mismatch := write("mismatch.yaml", `
cases:
  - name: analyst cross-tenant claimed allowed
    principal: {id: "jwt:a", roles: [analyst], tenant: acme, method: jwt}
    action: infer
    model: m
    model_attrs: {tenant: globex}
    expect: allow
`)
	unknownKey := write("typo.yaml", "cases:\n  - name: x\n    action: infer\n    expect: deny\n    modle: m\n")
	badAction := write("action.yaml", "cases:\n  - name: x\n    action: delete\n    expect: deny\n")
	badExpect := write("expect.yaml", "cases:\n  - name: x\n    action: infer\n    expect: maybe\n")
	empty := write("empty.yaml", "")
	tests := []struct {
		name   string
		args   []string
		status int
		out    []string
	}{
		{"examples pass", []string{"test", "../../examples/policies/cases.yaml", "--policies", "../../examples/policies"}, 0,
			[]string{"anonymous health check", "health-open", "restricted-internal-network-only", "11 passed, 0 failed"}},
		{"mismatch exits 1", []string{"test", mismatch, "--policies", "../../examples/policies"}, 1,
			[]string{"FAIL", "default deny", "1 of 1 cases failed"}},
		{"unknown field", []string{"test", unknownKey, "--policies", "../../examples/policies"}, 2, []string{"modle"}},
		{"unknown action", []string{"test", badAction, "--policies", "../../examples/policies"}, 2, []string{`unknown action "delete"`}},
		{"bad expect", []string{"test", badExpect, "--policies", "../../examples/policies"}, 2, []string{"expect must be allow or deny"}},
		{"no cases", []string{"test", empty, "--policies", "../../examples/policies"}, 2, []string{"no cases"}},
		{"no policies flag", []string{"test", mismatch}, 2, []string{"--policies is required"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, st := execCmd(t, newPolicyCmd, tt.args...)
			if st != tt.status {
				t.Fatalf("status %d, want %d\n%s%s", st, tt.status, out, errOut)
			}
			for _, w := range tt.out {
				if !strings.Contains(out+errOut, w) {
					t.Fatalf("output lacks %q:\n%s%s", w, out, errOut)
				}
			}
		})
	}
}
