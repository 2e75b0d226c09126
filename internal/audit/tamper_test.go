package audit

import (
	"crypto/rand"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// buildLog writes 20 records, each durably, so the store holds 20 signed
// checkpoints; it returns the newest checkpoint note as a trusted copy
// saved outside the directory.
func buildLog(t *testing.T) (dir string, trusted []byte) {
	t.Helper()
	dir = t.TempDir()
	l := openTest(t, testConfig(dir))
	for i := range 20 {
		if err := l.AppendDurable(t.Context(), rec(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	rep := mustVerify(t, dir, nil)
	if !rep.OK() || rep.Size != 20 || rep.Checkpoints != 20 {
		t.Fatalf("fresh log does not verify: %+v", rep)
	}
	return dir, rep.Newest
}

func recordData(t *testing.T, db *sql.DB, seq int64) []byte {
	t.Helper()
	var b []byte
	if err := db.QueryRow(`SELECT data FROM records WHERE seq = ?`, seq).Scan(&b); err != nil {
		t.Fatal(err)
	}
	return b
}

// appendOutOfBand adds a well-formed record with correct stored hashes but
// no checkpoint, the best an attacker without the key can do.
func appendOutOfBand(t *testing.T, db *sql.DB) {
	t.Helper()
	var n int64
	if err := db.QueryRow(`SELECT COUNT(*) FROM records`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	f := &frontier{size: n, idx: frontierIndexes(n)}
	hs, err := dbHashReader{ctx: t.Context(), q: db}.ReadHashes(f.idx)
	if err != nil {
		t.Fatal(err)
	}
	f.hash = hs
	r := rec(999)
	r.Seq = n
	data, err := encodeRecord(&r)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := f.append(data)
	if err != nil {
		t.Fatal(err)
	}
	exec(t, db, `INSERT INTO records (seq, data) VALUES (?, ?)`, n, data)
	for j, h := range stored {
		exec(t, db, `INSERT INTO hashes (id, hash) VALUES (?, ?)`, tlog.StoredHashIndex(0, n)+int64(j), h[:])
	}
}

// rewriteAll recomputes every stored hash from the records and re-signs
// every checkpoint with signer: a full history rewrite by someone holding a
// signing key.
func rewriteAll(t *testing.T, db *sql.DB, origin string, signer note.Signer) {
	t.Helper()
	rows, err := db.Query(`SELECT data FROM records ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	var datas [][]byte
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			t.Fatal(err)
		}
		datas = append(datas, b)
	}
	rows.Close()
	exec(t, db, `DELETE FROM hashes`)
	roots := map[int64]tlog.Hash{0: {}}
	f := &frontier{}
	for i, d := range datas {
		hs, err := f.append(d)
		if err != nil {
			t.Fatal(err)
		}
		for j, h := range hs {
			exec(t, db, `INSERT INTO hashes (id, hash) VALUES (?, ?)`, tlog.StoredHashIndex(0, int64(i))+int64(j), h[:])
		}
		roots[f.size], _ = f.root()
	}
	exec(t, db, `DELETE FROM checkpoints`)
	for n := int64(1); n <= int64(len(datas)); n++ {
		msg, err := signCheckpoint(origin, tlog.Tree{N: n, Hash: roots[n]}, signer)
		if err != nil {
			t.Fatal(err)
		}
		exec(t, db, `INSERT INTO checkpoints (size, created, note) VALUES (?, 0, ?)`, n, msg)
	}
}

func dirSigner(t *testing.T, dir string) note.Signer {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, SignerKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestVerifyDetectsTampering(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(t *testing.T, dir string, db *sql.DB)
		// wantPlain is a problem Verify must report without a trusted
		// checkpoint; "" means the tampering is (honestly) invisible
		// without one.
		wantPlain string
		// wantTrusted is a problem Verify must report given the
		// checkpoint saved before the tampering; "" means clean.
		wantTrusted string
		// openFails: Open must refuse to append to the tampered store.
		openFails bool
	}{
		{
			name:   "untouched",
			tamper: func(*testing.T, string, *sql.DB) {},
		},
		{
			name: "edit one byte of a record",
			tamper: func(t *testing.T, _ string, db *sql.DB) {
				d := recordData(t, db, 5)
				d = []byte(strings.Replace(string(d), "alice", "alicf", 1))
				exec(t, db, `UPDATE records SET data = ? WHERE seq = 5`, d)
			},
			wantPlain:   "checkpoint at size 6: root hash differs",
			wantTrusted: "trusted checkpoint at size 20: root hash differs",
		},
		{
			name: "edit a record into invalid JSON",
			tamper: func(t *testing.T, _ string, db *sql.DB) {
				d := recordData(t, db, 7)
				d[len(d)-1] = ' '
				exec(t, db, `UPDATE records SET data = ? WHERE seq = 7`, d)
			},
			wantPlain:   "record 7 is not a valid record",
			wantTrusted: "root hash differs",
		},
		{
			name: "delete a middle record",
			tamper: func(t *testing.T, _ string, db *sql.DB) {
				exec(t, db, `DELETE FROM records WHERE seq = 4`)
			},
			wantPlain:   "records 4 to 4 are missing",
			wantTrusted: "root hash differs",
			openFails:   true,
		},
		{
			name: "delete the last record and its hashes",
			tamper: func(t *testing.T, _ string, db *sql.DB) {
				exec(t, db, `DELETE FROM records WHERE seq = 19`)
				exec(t, db, `DELETE FROM hashes WHERE id >= ?`, tlog.StoredHashIndex(0, 19))
			},
			wantPlain:   "checkpoint at size 20 is beyond the log's 19 records",
			wantTrusted: "beyond the log's 19 records",
			openFails:   true,
		},
		{
			name: "swap two records",
			tamper: func(t *testing.T, _ string, db *sql.DB) {
				a, b := recordData(t, db, 3), recordData(t, db, 4)
				exec(t, db, `UPDATE records SET data = ? WHERE seq = 3`, b)
				exec(t, db, `UPDATE records SET data = ? WHERE seq = 4`, a)
			},
			wantPlain:   "record stored at seq 3 says it is seq 4",
			wantTrusted: "root hash differs",
		},
		{
			name: "swap two records and fix their seq fields",
			tamper: func(t *testing.T, _ string, db *sql.DB) {
				a, b := recordData(t, db, 3), recordData(t, db, 4)
				a = []byte(strings.Replace(string(a), `"seq":3,`, `"seq":4,`, 1))
				b = []byte(strings.Replace(string(b), `"seq":4,`, `"seq":3,`, 1))
				exec(t, db, `UPDATE records SET data = ? WHERE seq = 3`, b)
				exec(t, db, `UPDATE records SET data = ? WHERE seq = 4`, a)
			},
			wantPlain:   "checkpoint at size 4: root hash differs",
			wantTrusted: "root hash differs",
		},
		{
			name: "append a record out of band",
			tamper: func(t *testing.T, _ string, db *sql.DB) {
				appendOutOfBand(t, db)
			},
			wantPlain:   "records 20 to 20 are not covered by any checkpoint",
			wantTrusted: "not covered by any checkpoint",
			openFails:   true,
		},
		{
			name: "append out of band with a checkpoint signed by another key",
			tamper: func(t *testing.T, _ string, db *sql.DB) {
				appendOutOfBand(t, db)
				skey, _, err := note.GenerateKey(rand.Reader, DefaultOrigin)
				if err != nil {
					t.Fatal(err)
				}
				s, _ := note.NewSigner(skey)
				msg, _ := signCheckpoint(DefaultOrigin, tlog.Tree{N: 21}, s)
				exec(t, db, `INSERT INTO checkpoints (size, created, note) VALUES (21, 0, ?)`, msg)
			},
			wantPlain:   "checkpoint row 21: checkpoint signature",
			wantTrusted: "not covered by any checkpoint",
			openFails:   true,
		},
		{
			name: "delete the newest checkpoint",
			tamper: func(t *testing.T, _ string, db *sql.DB) {
				exec(t, db, `DELETE FROM checkpoints WHERE size = 20`)
			},
			wantPlain:   "records 19 to 19 are not covered",
			wantTrusted: "not covered",
			openFails:   true,
		},
		{
			name: "move a checkpoint to another row",
			tamper: func(t *testing.T, _ string, db *sql.DB) {
				exec(t, db, `UPDATE checkpoints SET size = 100 WHERE size = 10`)
			},
			wantPlain:   "checkpoint row 100 holds a checkpoint for size 10",
			wantTrusted: "holds a checkpoint for size 10",
		},
		{
			name: "edit a stored hash",
			tamper: func(t *testing.T, _ string, db *sql.DB) {
				exec(t, db, `UPDATE hashes SET hash = zeroblob(32) WHERE id = 5`)
			},
			wantPlain:   "stored hash 5 does not match",
			wantTrusted: "stored hash 5 does not match",
		},
		{
			// Rolling back to an earlier consistent state leaves a log
			// that is valid on its own; only the saved checkpoint shows it.
			name: "roll back to size 10",
			tamper: func(t *testing.T, _ string, db *sql.DB) {
				exec(t, db, `DELETE FROM records WHERE seq >= 10`)
				exec(t, db, `DELETE FROM hashes WHERE id >= ?`, tlog.StoredHashIndex(0, 10))
				exec(t, db, `DELETE FROM checkpoints WHERE size > 10`)
			},
			wantPlain:   "",
			wantTrusted: "trusted checkpoint at size 20 is beyond the log's 10 records",
		},
		{
			// Someone holding the signing key rewrites history and
			// re-signs every checkpoint; the saved checkpoint catches it.
			name: "rewrite history with the signing key",
			tamper: func(t *testing.T, dir string, db *sql.DB) {
				d := recordData(t, db, 2)
				exec(t, db, `UPDATE records SET data = ? WHERE seq = 2`, []byte(strings.Replace(string(d), `"decision":"allow"`, `"decision":"block"`, 1)))
				rewriteAll(t, db, DefaultOrigin, dirSigner(t, dir))
			},
			wantPlain:   "",
			wantTrusted: "trusted checkpoint at size 20: root hash differs",
		},
		{
			name: "re-key and re-sign everything",
			tamper: func(t *testing.T, dir string, db *sql.DB) {
				skey, vkey, err := note.GenerateKey(rand.Reader, DefaultOrigin)
				if err != nil {
					t.Fatal(err)
				}
				s, _ := note.NewSigner(skey)
				rewriteAll(t, db, DefaultOrigin, s)
				if err := os.WriteFile(filepath.Join(dir, SignerKeyFile), []byte(skey+"\n"), 0o600); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, VerifierKeyFile), []byte(vkey+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			},
			wantPlain:   "",
			wantTrusted: "trusted checkpoint does not verify",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, trusted := buildLog(t)
			db := rawDB(t, dir)
			tt.tamper(t, dir, db)
			db.Close()

			check := func(trustedNote []byte, want string) {
				t.Helper()
				rep := mustVerify(t, dir, trustedNote)
				if want == "" {
					if !rep.OK() {
						t.Fatalf("unexpected problems (trusted=%v): %q", trustedNote != nil, rep.Problems)
					}
					return
				}
				if rep.OK() {
					t.Fatalf("tampering not detected (trusted=%v): %+v", trustedNote != nil, rep)
				}
				for _, p := range rep.Problems {
					if strings.Contains(p, want) {
						return
					}
				}
				t.Fatalf("problems %q (trusted=%v) lack %q", rep.Problems, trustedNote != nil, want)
			}
			check(nil, tt.wantPlain)
			check(trusted, tt.wantTrusted)

			if tt.openFails {
				if l, err := Open(t.Context(), testConfig(dir), nil); err == nil {
					l.Close()
					t.Fatal("Open appended to a tampered store")
				}
			}
		})
	}
}

// TestVerifyPinnedKey: with the verifier key pinned outside the directory,
// a log re-signed under a new key fails even without a saved checkpoint.
func TestVerifyPinnedKey(t *testing.T) {
	dir, _ := buildLog(t)
	pinned, err := os.ReadFile(filepath.Join(dir, VerifierKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := VerifyWith(t.Context(), dir, VerifyOptions{VerifierKey: string(pinned)})
	if err != nil || !rep.OK() {
		t.Fatalf("pinned key, clean log: %v %+v", err, rep)
	}
	skey, vkey, _ := note.GenerateKey(rand.Reader, DefaultOrigin)
	s, _ := note.NewSigner(skey)
	db := rawDB(t, dir)
	rewriteAll(t, db, DefaultOrigin, s)
	db.Close()
	os.WriteFile(filepath.Join(dir, VerifierKeyFile), []byte(vkey+"\n"), 0o644)
	rep, err = VerifyWith(t.Context(), dir, VerifyOptions{VerifierKey: string(pinned)})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || !strings.Contains(strings.Join(rep.Problems, "\n"), "checkpoint signature") {
		t.Fatalf("re-keyed log passed with pinned key: %+v", rep)
	}
}

// TestVerifyTrustedConsistency: a checkpoint saved early stays provably
// consistent as the log grows, and the proof is really checked.
func TestVerifyTrustedConsistency(t *testing.T) {
	dir := t.TempDir()
	l := openTest(t, testConfig(dir))
	for i := range 7 {
		if err := l.AppendDurable(t.Context(), rec(i)); err != nil {
			t.Fatal(err)
		}
	}
	early := mustVerify(t, dir, nil).Newest
	for i := 7; i < 300; i++ {
		l.Append(rec(i))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	rep := mustVerify(t, dir, early)
	if !rep.OK() || rep.TrustedSize != 7 || rep.Size != 300 {
		t.Fatalf("grown log vs early checkpoint: %+v", rep)
	}
	if rep := mustVerify(t, dir, []byte("not a note\n")); rep.OK() {
		t.Fatal("garbage trusted checkpoint accepted")
	}
}
