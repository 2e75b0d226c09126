package cli

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/rampart-ai/rampart/internal/audit"
)

// runAudit runs "rampart audit ARGS" through a root command configured like
// Run's, and returns stdout, stderr and the exit status.
func runAudit(t *testing.T, ctx context.Context, args ...string) (string, string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	env := &Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr}
	root := &cobra.Command{Use: "rampart", SilenceUsage: true, SilenceErrors: true}
	root.SetArgs(append([]string{"audit"}, args...))
	root.SetOut(&stdout)
	root.SetErr(&stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return Usage("%v", err) })
	root.AddCommand(newAuditCmd(env))
	err := root.ExecuteContext(ctx)
	if err != nil && !errors.As(err, new(*ExitError)) && isUsageErr(err) {
		err = &ExitError{Status: 2, Err: err}
	}
	code := ExitCode(err, &stderr)
	return stdout.String(), stderr.String(), code
}

func makeAuditLog(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	l, err := audit.Open(t.Context(), audit.Config{Dir: dir, FlushInterval: time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		// Durable appends commit one by one, so the log keeps an early
		// checkpoint to roll back to.
		if err := l.AppendDurable(t.Context(), audit.Record{RequestID: fmt.Sprintf("req-%d", i), Principal: "key:alice", Decision: audit.DecisionAllow}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestAuditVerifyCommand(t *testing.T) {
	dir := makeAuditLog(t, 30)
	cp := filepath.Join(t.TempDir(), "cp.note")

	out, errOut, code := runAudit(t, t.Context(), "verify", "--dir", dir, "--save-checkpoint", cp)
	if code != 0 || !strings.Contains(out, "result       OK") || !strings.Contains(out, "records      30") {
		t.Fatalf("verify clean log: code %d\n%s\n%s", code, out, errOut)
	}
	saved, err := os.ReadFile(cp)
	if err != nil || !bytes.HasPrefix(saved, []byte("rampart.audit\n30\n")) {
		t.Fatalf("saved checkpoint %q: %v", saved, err)
	}

	out, _, code = runAudit(t, t.Context(), "verify", "--dir", dir, "--checkpoint", cp, "--format", "json")
	var rep struct {
		OK          bool     `json:"ok"`
		Size        int64    `json:"size"`
		TrustedSize int64    `json:"trusted_size"`
		Problems    []string `json:"problems"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 0 || !rep.OK || rep.Size != 30 || rep.TrustedSize != 30 {
		t.Fatalf("json verify: code %d err %v %+v\n%s", code, err, rep, out)
	}

	// Roll the log back to 10 records; only the saved checkpoint notices.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, audit.DBFile))
	if err != nil {
		t.Fatal(err)
	}
	var sizes []int64
	rows, err := db.Query(`SELECT size FROM checkpoints ORDER BY size`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s int64
		rows.Scan(&s)
		sizes = append(sizes, s)
	}
	rows.Close()
	keep := sizes[0] // the first batch's checkpoint
	if keep >= 30 {
		t.Fatalf("no early checkpoint to roll back to (checkpoint sizes %v)", sizes)
	}
	for _, q := range []string{`DELETE FROM records WHERE seq >= ?`, `DELETE FROM checkpoints WHERE size > ?`} {
		if _, err := db.Exec(q, keep); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec(`DELETE FROM hashes WHERE id >= ?`, tlog.StoredHashIndex(0, keep)); err != nil {
		t.Fatal(err)
	}
	db.Close()

	out, _, code = runAudit(t, t.Context(), "verify", "--dir", dir, "--checkpoint", cp, "--save-checkpoint", cp)
	if code != 1 || !strings.Contains(out, "problem: trusted checkpoint at size 30 is beyond") {
		t.Fatalf("rolled-back log: code %d\n%s", code, out)
	}
	if again, _ := os.ReadFile(cp); !bytes.Equal(again, saved) {
		t.Fatal("--save-checkpoint overwrote the trusted checkpoint after a failed verification")
	}
}

func TestAuditCommandUsageErrors(t *testing.T) {
	dir := makeAuditLog(t, 1)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no subcommand", nil, "needs a subcommand"},
		{"verify without dir", []string{"verify"}, "--dir is required"},
		{"verify missing dir", []string{"verify", "--dir", filepath.Join(dir, "nope")}, "no such file"},
		{"verify bad format", []string{"verify", "--dir", dir, "--format", "xml"}, "--format"},
		{"verify missing checkpoint file", []string{"verify", "--dir", dir, "--checkpoint", filepath.Join(dir, "nope")}, "--checkpoint"},
		{"tail unknown flag", []string{"tail", "--dir", dir, "--bogus"}, "unknown flag"},
		{"tail negative", []string{"tail", "--dir", dir, "-n", "-1"}, "must not be negative"},
		{"export missing dir", []string{"export", "--dir", filepath.Join(dir, "nope")}, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errOut, code := runAudit(t, t.Context(), tt.args...)
			if code != 2 || !strings.Contains(errOut, tt.want) {
				t.Fatalf("code %d, stderr %q; want 2 and %q", code, errOut, tt.want)
			}
		})
	}
}

func TestAuditTailExportCommands(t *testing.T) {
	dir := makeAuditLog(t, 25)
	out, _, code := runAudit(t, t.Context(), "tail", "--dir", dir, "-n", "3")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 3 || !strings.Contains(lines[2], `"request_id":"req-24"`) {
		t.Fatalf("tail: code %d lines %q", code, lines)
	}

	file := filepath.Join(t.TempDir(), "out.jsonl")
	_, errOut, code := runAudit(t, t.Context(), "export", "--dir", dir, "--from", "20", "-o", file)
	if code != 0 || !strings.Contains(errOut, "next seq: 25") {
		t.Fatalf("export: code %d stderr %q", code, errOut)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines = strings.Split(strings.TrimSpace(string(b)), "\n")
	for i, line := range lines {
		var r audit.Record
		if err := json.Unmarshal([]byte(line), &r); err != nil || r.Seq != int64(20+i) {
			t.Fatalf("export line %d %q: %v", i, line, err)
		}
	}
	if len(lines) != 5 {
		t.Fatalf("exported %d lines, want 5", len(lines))
	}
	if fi, _ := os.Stat(file); fi.Mode().Perm() != 0o600 {
		t.Fatalf("export file mode %v, want 0600", fi.Mode().Perm())
	}

	// --follow prints records committed after it started, until cancelled.
	l, err := audit.Open(t.Context(), audit.Config{Dir: dir, FlushInterval: time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	go func() {
		time.Sleep(100 * time.Millisecond)
		l.AppendDurable(ctx, audit.Record{RequestID: "late"})
		time.Sleep(200 * time.Millisecond)
		cancel()
	}()
	out, _, code = runAudit(t, ctx, "tail", "--dir", dir, "-n", "0", "--follow", "--poll", "20ms")
	if code != 0 || strings.TrimSpace(out) == "" || !strings.Contains(out, `"request_id":"late"`) || strings.Count(out, "\n") != 1 {
		t.Fatalf("follow: code %d out %q", code, out)
	}
}
