package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/rampart-ai/rampart/internal/authn/apikey"
)

// execCmd runs a command built by mk the way Run does and returns its
// output and exit status.
func execCmd(t *testing.T, mk func(*Env) *cobra.Command, args ...string) (stdout, stderr string, status int) {
	t.Helper()
	var out, errb bytes.Buffer
	env := &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb}
	cmd := mk(env)
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	cmd.SilenceUsage = true
	cmd.SilenceErrors = true
	err := cmd.ExecuteContext(context.Background())
	status = ExitCode(err, &errb)
	return out.String(), errb.String(), status
}

func TestKeysCommand(t *testing.T) {
	db := filepath.Join(t.TempDir(), "keys.db")
	out, errOut, st := execCmd(t, newKeysCmd, "create", "--db", db, "--name", "ci", "--role", "analyst", "--role", "metadata-reader",
		"--tenant", "acme", "--expires", "720h", "--rate", "5", "--burst", "10", "--attr", "team=fraud")
	if st != 0 {
		t.Fatalf("create: status %d: %s", st, errOut)
	}
	if !strings.Contains(errOut, "only time the key is shown") {
		t.Fatalf("no warning on stderr: %q", errOut)
	}
	var plain string
	for _, f := range strings.Fields(out) {
		if strings.HasPrefix(f, "rk_") {
			plain = f
		}
	}
	if len(plain) != apikey.KeyLen {
		t.Fatalf("no key in output %q", out)
	}

	// The printed key authenticates with the attributes given.
	s, err := apikey.OpenStore(db)
	if err != nil {
		t.Fatal(err)
	}
	p, err := apikey.NewAuthenticator(s).Check(plain)
	s.Close()
	if err != nil || p.Tenant != "acme" || len(p.Roles) != 2 || p.Attrs["team"] != "fraud" || p.Rate.PerSecond != 5 || p.Rate.Burst != 10 {
		t.Fatalf("created key: %+v, %v", p, err)
	}
	id := strings.TrimPrefix(p.ID, "key:")

	out, _, st = execCmd(t, newKeysCmd, "list", "--db", db)
	if st != 0 || !strings.Contains(out, id) || !strings.Contains(out, "active") || strings.Contains(out, plain[20:]) {
		t.Fatalf("list: %d %q", st, out)
	}

	out, _, st = execCmd(t, newKeysCmd, "rotate", id, "--db", db, "--grace", "1h", "--format", "json")
	var rotated struct {
		Key         string `json:"key"`
		ID          string `json:"id"`
		RotatedFrom string `json:"rotated_from"`
	}
	if st != 0 || json.Unmarshal([]byte(out), &rotated) != nil || rotated.RotatedFrom != id || !strings.HasPrefix(rotated.Key, "rk_"+rotated.ID+"_") {
		t.Fatalf("rotate: %d %q", st, out)
	}

	_, _, st = execCmd(t, newKeysCmd, "revoke", rotated.ID, "--db", db)
	if st != 0 {
		t.Fatalf("revoke: %d", st)
	}
	out, _, st = execCmd(t, newKeysCmd, "list", "--db", db, "--format", "json")
	var rows []struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	}
	if st != 0 || json.Unmarshal([]byte(out), &rows) != nil || len(rows) != 2 {
		t.Fatalf("list json: %d %q", st, out)
	}
	want := map[string]string{id: "revoking", rotated.ID: "revoked"}
	for _, r := range rows {
		if want[r.ID] != r.Status {
			t.Fatalf("status of %s = %s, want %s", r.ID, r.Status, want[r.ID])
		}
	}

	for _, tt := range []struct {
		name string
		args []string
		want int
	}{
		{"missing db", []string{"list"}, 2},
		{"bad format", []string{"list", "--db", db, "--format", "xml"}, 2},
		{"expiry in the past", []string{"create", "--db", db, "--expires", "2001-01-01T00:00:00Z"}, 2},
		{"bad expiry", []string{"create", "--db", db, "--expires", "soon"}, 2},
		{"bad attr", []string{"create", "--db", db, "--attr", "novalue"}, 2},
		{"revoke unknown", []string{"revoke", "aaaaaaaaaaaaaaaa", "--db", db}, 2},
		{"rotate unknown", []string{"rotate", "aaaaaaaaaaaaaaaa", "--db", db}, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, errOut, st := execCmd(t, newKeysCmd, tt.args...); st != tt.want {
				t.Fatalf("status %d, want %d (%s)", st, tt.want, errOut)
			}
		})
	}
}

func TestParseExpiry(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"24h", now.Add(24 * time.Hour), true},
		{"2027-01-01T00:00:00Z", time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), true},
		{"-1h", time.Time{}, false},
		{"2025-01-01T00:00:00Z", time.Time{}, false},
		{"tomorrow", time.Time{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseExpiry(tt.in, now)
			if (err == nil) != tt.ok || !got.Equal(tt.want) {
				t.Fatalf("parseExpiry(%q) = %v, %v", tt.in, got, err)
			}
		})
	}
}
