package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDataOutputRefusesToOverwriteInput is the regression test for data
// loss: `data profile victim.csv -o victim.csv` replaced the only copy of
// the dataset with its profile.
func TestDataOutputRefusesToOverwriteInput(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "victim.csv")
	body := "a,b\n1,2\n3,4\n"
	os.WriteFile(p, []byte(body), 0o600)
	var out, errb bytes.Buffer
	err := Run(context.Background(), []string{"data", "profile", p, "-o", p}, nil, &out, &errb)
	if ExitCode(err, &errb) != 2 || !strings.Contains(errb.String(), "also an input") {
		t.Errorf("err %v, stderr %q", err, errb.String())
	}
	if b, _ := os.ReadFile(p); string(b) != body {
		t.Errorf("the input was overwritten")
	}
}

// TestDataOutputKeepsMode: an existing output keeps its permissions (a
// 0600 profile did not stay private when rewritten).
func TestDataOutputKeepsMode(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "d.csv")
	os.WriteFile(in, []byte("a,b\n1,2\n"), 0o644)
	out := filepath.Join(dir, "p.json")
	os.WriteFile(out, nil, 0o600)
	var o, e bytes.Buffer
	if err := Run(context.Background(), []string{"data", "profile", in, "-o", out}, nil, &o, &e); err != nil {
		t.Fatalf("%v %s", err, e.String())
	}
	st, _ := os.Stat(out)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
}

// TestErrorsAreTerminalSafe: a file name with an escape sequence is
// printed escaped.
func TestErrorsAreTerminalSafe(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "evil\x1b[2Jname.csv")
	os.WriteFile(p, []byte("a,b\n1\n"), 0o644)
	var o, e bytes.Buffer
	err := Run(context.Background(), []string{"data", "profile", p}, nil, &o, &e)
	ExitCode(err, &e)
	if strings.Contains(e.String(), "\x1b") {
		t.Errorf("raw escape in %q", e.String())
	}
}
