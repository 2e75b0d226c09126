package audit

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/sumdb/note"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Files inside Config.Dir.
const (
	DBFile          = "audit.db"
	SignerKeyFile   = "checkpoint.key" // note signer key, 0600
	VerifierKeyFile = "checkpoint.pub" // note verifier key, public
	PayloadKeyFile  = "payload.key"    // HMAC key for payload hashes, 0600
	SpoolDir        = "spool"
)

// schema is the whole store. STRICT tables make SQLite reject a value of the
// wrong type instead of silently converting it.
const schema = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS records (seq INTEGER PRIMARY KEY, data BLOB NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS hashes (id INTEGER PRIMARY KEY, hash BLOB NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS checkpoints (size INTEGER PRIMARY KEY, created INTEGER NOT NULL, note BLOB NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS spool_progress (file TEXT PRIMARY KEY, offset INTEGER NOT NULL) STRICT;
`

const schemaVersion = "1"

// openDB opens the SQLite store. The writer gets WAL with synchronous=FULL
// so a commit is on disk before AppendDurable returns; readers open the file
// read-only so verifying or exporting can never change it.
func openDB(path string, readOnly bool) (*sql.DB, error) {
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("audit: path %q: '?' and '#' are not allowed", path)
	}
	var dsn string
	if readOnly {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("audit: %w", err)
		}
		dsn = "file:" + path + "?mode=ro&_pragma=busy_timeout(10000)"
	} else {
		dsn = "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate"
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("audit: open %s: %w", path, err)
	}
	// One connection: the writer is the only user, and readers want one
	// consistent snapshot.
	db.SetMaxOpenConns(1)
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, fmt.Errorf("audit: open %s: %w", path, err)
	}
	return db, nil
}

func initSchema(ctx context.Context, db *sql.DB, origin string) error {
	if _, err := db.ExecContext(ctx, schema); err != nil {
		return fmt.Errorf("audit: create schema: %w", err)
	}
	for _, kv := range [][2]string{{"schema_version", schemaVersion}, {"origin", origin}} {
		var have string
		err := db.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = ?`, kv[0]).Scan(&have)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			if _, err := db.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES (?, ?)`, kv[0], kv[1]); err != nil {
				return fmt.Errorf("audit: write meta: %w", err)
			}
		case err != nil:
			return fmt.Errorf("audit: read meta: %w", err)
		case have != kv[1]:
			return fmt.Errorf("audit: store has %s %q, config says %q", kv[0], have, kv[1])
		}
	}
	return nil
}

// keys are the log's secrets and the public half of the signing key.
type keys struct {
	signer   note.Signer
	verifier note.Verifier
	payload  []byte
}

// loadOrCreateKeys reads the keys in dir, creating missing ones. A signer
// key readable by group or others is refused: it is what makes checkpoints
// mean anything.
func loadOrCreateKeys(dir, origin string) (*keys, error) {
	skPath := filepath.Join(dir, SignerKeyFile)
	vkPath := filepath.Join(dir, VerifierKeyFile)
	skey, err := readSecret(skPath)
	if errors.Is(err, fs.ErrNotExist) {
		if _, err := os.Stat(vkPath); err == nil {
			return nil, fmt.Errorf("audit: %s exists but %s is missing; refusing to create a new signing key for an existing log", VerifierKeyFile, SignerKeyFile)
		}
		s, v, err := note.GenerateKey(rand.Reader, origin)
		if err != nil {
			return nil, fmt.Errorf("audit: generate checkpoint key: %w", err)
		}
		if err := writeNewFile(skPath, []byte(s+"\n"), 0o600); err != nil {
			return nil, err
		}
		if err := writeNewFile(vkPath, []byte(v+"\n"), 0o644); err != nil {
			return nil, err
		}
		skey = []byte(s)
	} else if err != nil {
		return nil, err
	}
	signer, err := note.NewSigner(strings.TrimSpace(string(skey)))
	if err != nil {
		return nil, fmt.Errorf("audit: %s: %w", skPath, err)
	}
	if signer.Name() != origin {
		return nil, fmt.Errorf("audit: %s is for origin %q, config says %q", skPath, signer.Name(), origin)
	}
	verifier, err := ReadVerifierKey(vkPath)
	if err != nil {
		return nil, err
	}
	// The public key must belong to the private one, or every checkpoint we
	// write would fail verification later.
	probe, err := note.Sign(&note.Note{Text: "rampart audit key check\n"}, signer)
	if err != nil {
		return nil, fmt.Errorf("audit: sign with %s: %w", skPath, err)
	}
	if _, err := note.Open(probe, note.VerifierList(verifier)); err != nil {
		return nil, fmt.Errorf("audit: %s does not match %s: %w", vkPath, skPath, err)
	}

	pkPath := filepath.Join(dir, PayloadKeyFile)
	pk, err := readSecret(pkPath)
	if errors.Is(err, fs.ErrNotExist) {
		raw := make([]byte, 32)
		if _, err := rand.Read(raw); err != nil {
			return nil, fmt.Errorf("audit: payload key: %w", err)
		}
		if err := writeNewFile(pkPath, []byte(hex.EncodeToString(raw)+"\n"), 0o600); err != nil {
			return nil, err
		}
		pk = []byte(hex.EncodeToString(raw))
	} else if err != nil {
		return nil, err
	}
	payload, err := hex.DecodeString(strings.TrimSpace(string(pk)))
	if err != nil || len(payload) < 16 {
		return nil, fmt.Errorf("audit: %s: want at least 16 hex-encoded bytes", pkPath)
	}
	return &keys{signer: signer, verifier: verifier, payload: payload}, nil
}

// ReadVerifierKey reads a note verifier key file (name+hash+key).
func ReadVerifierKey(path string) (note.Verifier, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("audit: verifier key: %w", err)
	}
	v, err := note.NewVerifier(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("audit: verifier key %s: %w", path, err)
	}
	return v, nil
}

func readSecret(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("audit: %s is accessible by group or others (mode %v); chmod 600 it", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	return b, nil
}

func writeNewFile(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("audit: write %s: %w", path, err)
	}
	return nil
}
