package audit

import (
	"bufio"
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

	"golang.org/x/mod/sumdb/tlog"
)

func testConfig(dir string) Config {
	return Config{
		Dir:                dir,
		FlushInterval:      5 * time.Millisecond,
		CheckpointInterval: time.Nanosecond, // keep every checkpoint, so tests see history
		RetryInterval:      20 * time.Millisecond,
	}
}

func openTest(t *testing.T, cfg Config) *Log {
	t.Helper()
	l, err := Open(t.Context(), cfg, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return l
}

func rec(i int) Record {
	return Record{
		Time:      time.Date(2025, 1, 2, 3, 4, 5, i, time.FixedZone("x", 3600)),
		RequestID: fmt.Sprintf("req-%06d", i),
		Principal: "key:alice",
		Route:     "chat",
		Model:     "m",
		Action:    "infer",
		Decision:  DecisionAllow,
		Reasons:   []Reason{{Detector: "d", Kind: "k", Severity: "low", Verdict: "allow", Reason: "ok"}},
		Status:    200,
	}
}

// readAll returns every record in dir via the read-only Reader.
func readAll(t *testing.T, dir string) []Record {
	t.Helper()
	var buf bytes.Buffer
	if _, err := Export(t.Context(), dir, 0, &buf); err != nil {
		t.Fatalf("Export: %v", err)
	}
	var out []Record
	sc := bufio.NewScanner(&buf)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("export line %q: %v", sc.Text(), err)
		}
		out = append(out, r)
	}
	return out
}

func mustVerify(t *testing.T, dir string, trusted []byte) *VerifyReport {
	t.Helper()
	rep, err := Verify(t.Context(), dir, trusted)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return rep
}

func TestFrontierMatchesTlog(t *testing.T) {
	var stored []tlog.Hash
	r := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = stored[x]
		}
		return out, nil
	})
	f := &frontier{}
	for n := int64(0); n < 300; n++ {
		want, err := tlog.TreeHash(n, r)
		if err != nil {
			t.Fatal(err)
		}
		got, err := f.root()
		if err != nil {
			t.Fatalf("size %d: %v", n, err)
		}
		if got != want {
			t.Fatalf("size %d: frontier root %v, tlog %v", n, got, want)
		}
		data := []byte(fmt.Sprint("leaf", n))
		hs, err := tlog.StoredHashes(n, data, r)
		if err != nil {
			t.Fatal(err)
		}
		stored = append(stored, hs...)
		fhs, err := f.append(data)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(fhs) != fmt.Sprint(hs) {
			t.Fatalf("record %d: stored hashes differ", n)
		}
		if len(f.idx) > 64 {
			t.Fatalf("frontier grew to %d entries", len(f.idx))
		}
	}
}

func TestAppendCloseReopen(t *testing.T) {
	dir := t.TempDir()
	l := openTest(t, testConfig(dir))
	for i := range 1000 {
		l.Append(rec(i))
	}
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if st := l.Stats(); st.Written != 1000 || st.LastCheckpointSize != 1000 || st.Spooled != 0 {
		t.Fatalf("stats after close: %+v", st)
	}
	// Appending after Close must not panic or drop: it spools.
	l.Append(rec(1000))

	got := readAll(t, dir)
	if len(got) != 1000 {
		t.Fatalf("read %d records, want 1000", len(got))
	}
	for i, r := range got {
		if r.Seq != int64(i) || r.RequestID != fmt.Sprintf("req-%06d", i) {
			t.Fatalf("record %d: seq %d id %s", i, r.Seq, r.RequestID)
		}
		if r.Time.Location() != time.UTC || !r.Time.Equal(rec(i).Time) {
			t.Fatalf("record %d: time %v", i, r.Time)
		}
	}
	if rep := mustVerify(t, dir, nil); !rep.OK() || rep.Size != 1000 || rep.NewestCheckpoint != 1000 {
		t.Fatalf("verify: %+v", rep)
	}

	l = openTest(t, testConfig(dir))
	if st := l.Stats(); st.Spooled != 0 || st.LastCheckpointSize != 1001 {
		t.Fatalf("reopen should replay the record spooled after close: %+v", st)
	}
	for i := 1001; i < 1100; i++ {
		l.Append(rec(i))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, dir); len(got) != 1100 || got[1000].RequestID != "req-001000" {
		t.Fatalf("after reopen: %d records", len(got))
	}
	if rep := mustVerify(t, dir, nil); !rep.OK() || rep.Size != 1100 {
		t.Fatalf("verify: %+v", rep)
	}
}

func TestAppendDurable(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.FlushInterval = time.Hour // a durable append must not wait for the flush timer
	l := openTest(t, cfg)
	defer l.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for i := range 3 {
		if err := l.AppendDurable(ctx, rec(i)); err != nil {
			t.Fatalf("AppendDurable: %v", err)
		}
		// A separate read-only connection sees the record and a
		// checkpoint covering it while the log is still open: it is
		// committed, not just queued.
		got := readAll(t, dir)
		if len(got) != i+1 || got[i].RequestID != rec(i).RequestID {
			t.Fatalf("after durable append %d: %d records visible", i, len(got))
		}
		rep := mustVerify(t, dir, nil)
		if !rep.OK() || rep.NewestCheckpoint != int64(i+1) {
			t.Fatalf("after durable append %d: %+v", i, rep)
		}
	}
}

func TestHashPayload(t *testing.T) {
	a := openTest(t, testConfig(t.TempDir()))
	defer a.Close()
	b := openTest(t, testConfig(t.TempDir()))
	defer b.Close()
	h1, h2 := a.HashPayload([]byte("secret prompt")), a.HashPayload([]byte("secret prompt"))
	if h1 != h2 || len(h1) != 64 {
		t.Fatalf("hash not stable/hex: %q %q", h1, h2)
	}
	if h1 == a.HashPayload([]byte("secret prompt!")) {
		t.Fatal("different payloads hash equal")
	}
	if h1 == b.HashPayload([]byte("secret prompt")) {
		t.Fatal("two logs share a payload key")
	}
	for _, name := range []string{SignerKeyFile, PayloadKeyFile} {
		fi, err := os.Stat(filepath.Join(a.cfg.Dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", name, fi.Mode().Perm())
		}
	}
}

func TestOpenRefusesLooseKey(t *testing.T) {
	dir := t.TempDir()
	l := openTest(t, testConfig(dir))
	l.Close()
	if err := os.Chmod(filepath.Join(dir, SignerKeyFile), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(t.Context(), testConfig(dir), nil); err == nil || !strings.Contains(err.Error(), "group or others") {
		t.Fatalf("Open with 0644 signer key: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"defaults", func(*Config) {}, ""},
		{"no dir", func(c *Config) { c.Dir = "" }, "dir is required"},
		{"origin with space", func(c *Config) { c.Origin = "a b" }, "origin"},
		{"origin with plus", func(c *Config) { c.Origin = "a+b" }, "origin"},
		{"batch too big", func(c *Config) { c.BatchSize = 1 << 20 }, "batch_size"},
		{"negative flush", func(c *Config) { c.FlushInterval = -1 }, "flush_interval"},
		{"queue smaller than batch", func(c *Config) { c.QueueSize = 10; c.BatchSize = 20 }, "queue_size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Config{Dir: "/x"}
			c.SetDefaults()
			tt.mod(&c)
			err := c.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want mention of %q", err, tt.want)
			}
		})
	}
}

// rawDB opens the store directly, the way an attacker with file access would.
func rawDB(t *testing.T, dir string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, DBFile)+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func exec(t *testing.T, db *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestStoreFailure injects a real store failure (a trigger that makes every
// insert abort): must-log appends fail closed, other records spool, and the
// spool is replayed once the store works again, both live and at Open.
func TestStoreFailure(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.RetryInterval = time.Hour // recovery is driven explicitly below
	l := openTest(t, cfg)
	ctx := t.Context()
	if err := l.AppendDurable(ctx, rec(0)); err != nil {
		t.Fatal(err)
	}
	db := rawDB(t, dir)
	exec(t, db, `CREATE TRIGGER fail BEFORE INSERT ON records BEGIN SELECT RAISE(ABORT, 'injected disk failure'); END`)

	if err := l.AppendDurable(ctx, rec(1)); !errors.Is(err, ErrStore) {
		t.Fatalf("AppendDurable on failing store: %v, want ErrStore", err)
	}
	if st := l.Stats(); !st.Failing || st.StoreErrors == 0 {
		t.Fatalf("stats should show failure: %+v", st)
	}
	for i := 2; i < 12; i++ {
		l.Append(rec(i))
	}
	waitFor(t, "records to spool", func() bool { return l.Stats().Spooled == 10 })
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if st := l.Stats(); st.Spooled != 10 || st.Dropped != 0 {
		t.Fatalf("after close on failing store: %+v", st)
	}
	if n := len(readAll(t, dir)); n != 1 {
		t.Fatalf("%d records in store, want 1", n)
	}

	// Store still failing: Open keeps the spool and reports failure.
	l = openTest(t, cfg)
	if st := l.Stats(); st.Spooled != 10 || !st.Failing {
		t.Fatalf("open on failing store: %+v", st)
	}
	l.Close()

	exec(t, db, `DROP TRIGGER fail`)
	l = openTest(t, cfg)
	if st := l.Stats(); st.Spooled != 0 || st.Failing || st.LastCheckpointSize != 11 {
		t.Fatalf("open after recovery should replay the spool: %+v", st)
	}
	// Live recovery: fail, spool, heal, and let the retry tick replay.
	exec(t, db, `CREATE TRIGGER fail BEFORE INSERT ON records BEGIN SELECT RAISE(ABORT, 'injected disk failure'); END`)
	for i := 12; i < 20; i++ {
		l.Append(rec(i))
	}
	waitFor(t, "records to spool", func() bool { return l.Stats().Spooled == 8 })
	exec(t, db, `DROP TRIGGER fail`)
	if err := l.Close(); err != nil { // Close runs a last replay
		t.Fatal(err)
	}
	if st := l.Stats(); st.Spooled != 0 {
		t.Fatalf("spool not replayed on close: %+v", st)
	}
	got := readAll(t, dir)
	if len(got) != 19 {
		t.Fatalf("%d records, want 19 (all but the failed durable one)", len(got))
	}
	seen := map[string]bool{}
	for _, r := range got {
		seen[r.RequestID] = true
	}
	if seen["req-000001"] || !seen["req-000002"] || !seen["req-000019"] {
		t.Fatalf("wrong records survived: %v", seen)
	}
	if rep := mustVerify(t, dir, nil); !rep.OK() {
		t.Fatalf("verify: %+v", rep)
	}
	if names, _ := (&spool{dir: filepath.Join(dir, SpoolDir)}).files(); len(names) != 0 {
		t.Fatalf("spool files left: %v", names)
	}
}

// TestQueueFullSpools blocks the writer behind another process's write lock
// so the queue fills; the overflow must spool, not block or drop.
func TestQueueFullSpools(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.BatchSize, cfg.QueueSize = 1, 2
	l := openTest(t, cfg)
	db := rawDB(t, dir)
	conn, err := db.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(t.Context(), `BEGIN IMMEDIATE`); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for i := range 20 {
		l.Append(rec(i))
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Append blocked for %v", d)
	}
	if st := l.Stats(); st.Spooled < 17 {
		t.Fatalf("expected overflow to spool: %+v", st)
	}
	if _, err := conn.ExecContext(t.Context(), `ROLLBACK`); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "spool replay", func() bool { st := l.Stats(); return st.Spooled == 0 && st.LastCheckpointSize == 20 })
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, dir); len(got) != 20 {
		t.Fatalf("%d records, want 20", len(got))
	}
	if rep := mustVerify(t, dir, nil); !rep.OK() {
		t.Fatalf("verify: %+v", rep)
	}
}

// TestSpoolReplaySkipsDamage: a torn final line (crash mid-write) and a
// garbage line must not block the valid records around them.
func TestSpoolReplaySkipsDamage(t *testing.T) {
	dir := t.TempDir()
	l := openTest(t, testConfig(dir))
	l.Close()
	good := func(i int) string { b, _ := json.Marshal(rec(i)); return string(b) + "\n" }
	content := good(0) + "not json\n" + `{"seq":0,"bogus_field":1}` + "\n" + good(1) + "\n" + good(2)[:20]
	if err := os.WriteFile(filepath.Join(dir, SpoolDir, "spool-00000000000000000001-aa.jsonl"), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	l = openTest(t, testConfig(dir))
	l.Close()
	got := readAll(t, dir)
	if len(got) != 2 || got[0].RequestID != "req-000000" || got[1].RequestID != "req-000001" {
		t.Fatalf("replayed %+v", got)
	}
	if names, _ := (&spool{dir: filepath.Join(dir, SpoolDir)}).files(); len(names) != 0 {
		t.Fatalf("replayed spool files not removed: %v", names)
	}
}

func TestTailExport(t *testing.T) {
	dir := t.TempDir()
	l := openTest(t, testConfig(dir))
	for i := range 50 {
		l.Append(rec(i))
	}
	l.Close()
	r, err := OpenReader(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var buf bytes.Buffer
	next, err := r.Tail(t.Context(), 5, &buf)
	if err != nil || next != 50 {
		t.Fatalf("Tail: next %d err %v", next, err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 5 || !strings.Contains(lines[0], `"seq":45`) {
		t.Fatalf("tail lines: %q", lines)
	}
	buf.Reset()
	next, err = r.Export(t.Context(), 48, &buf)
	if err != nil || next != 50 || strings.Count(buf.String(), "\n") != 2 {
		t.Fatalf("Export from 48: next %d err %v out %q", next, err, buf.String())
	}
	buf.Reset()
	if next, err = r.Export(t.Context(), 50, &buf); err != nil || next != 50 || buf.Len() != 0 {
		t.Fatalf("Export at end: next %d err %v out %q", next, err, buf.String())
	}
}

// TestSpoolProgressNoDuplicates: a crash after a replay batch committed but
// before its spool file was removed must not replay that batch again; the
// committed offset says where to resume.
func TestSpoolProgressNoDuplicates(t *testing.T) {
	dir := t.TempDir()
	l := openTest(t, testConfig(dir))
	l.Close()
	first, _ := json.Marshal(rec(0))
	second, _ := json.Marshal(rec(1))
	name := "spool-00000000000000000001-bb.jsonl"
	content := string(first) + "\n" + string(second) + "\n"
	if err := os.WriteFile(filepath.Join(dir, SpoolDir, name), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	db := rawDB(t, dir)
	exec(t, db, `INSERT INTO spool_progress (file, offset) VALUES (?, ?)`, name, len(first)+1)
	db.Close()
	l = openTest(t, testConfig(dir))
	l.Close()
	got := readAll(t, dir)
	if len(got) != 1 || got[0].RequestID != "req-000001" {
		t.Fatalf("replayed %+v, want only the uncommitted record", got)
	}
}
