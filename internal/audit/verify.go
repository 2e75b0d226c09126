package audit

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"path/filepath"
	"slices"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// VerifyReport is the outcome of [Verify]. Problems lists evidence of
// tampering; an error from Verify means the check itself could not run.
type VerifyReport struct {
	Dir    string `json:"dir"`
	Origin string `json:"origin"`
	// Size is the number of records in the store and RootHash (base64) the
	// tree hash recomputed from them.
	Size     int64  `json:"size"`
	RootHash string `json:"root_hash"`
	// Checkpoints is how many stored checkpoints were checked and
	// NewestCheckpoint the size the newest valid one covers.
	Checkpoints      int    `json:"checkpoints"`
	NewestCheckpoint int64  `json:"newest_checkpoint"`
	Newest           []byte `json:"-"` // the newest valid checkpoint note, for saving
	// TrustedSize is the size of the trusted checkpoint, -1 when none was given.
	TrustedSize int64    `json:"trusted_size"`
	Problems    []string `json:"problems"`
}

// OK reports whether no problem was found.
func (r *VerifyReport) OK() bool { return len(r.Problems) == 0 }

// maxProblems keeps a report readable when one edit breaks every later checkpoint.
const maxProblems = 50

func (r *VerifyReport) problem(format string, args ...any) {
	if len(r.Problems) == maxProblems {
		r.Problems = append(r.Problems, "further problems omitted")
	}
	if len(r.Problems) > maxProblems {
		return
	}
	r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
}

// VerifyOptions tune [VerifyWith].
type VerifyOptions struct {
	// Trusted is a checkpoint note saved earlier, outside the log directory.
	Trusted []byte
	// VerifierKey, when set, is used instead of Dir/checkpoint.pub. Pinning
	// it elsewhere catches a log re-signed under a new key.
	VerifierKey string
}

// Verify checks the log in dir; trusted is an optional checkpoint saved earlier.
func Verify(ctx context.Context, dir string, trusted []byte) (*VerifyReport, error) {
	return VerifyWith(ctx, dir, VerifyOptions{Trusted: trusted})
}

// VerifyWith checks the whole log in dir from the stored record bytes up:
//
//   - every record's seq is its position, with no gaps (deletes, reorders);
//   - every leaf and stored hash is recomputed from the record bytes;
//   - every stored checkpoint's signature is checked and its root compared
//     with the root recomputed at its size (edits, deletes, reorders);
//   - records past the newest checkpoint were appended out of band;
//   - a trusted checkpoint must not be larger than the log (rollback) and a
//     tlog consistency proof must show the log extends it (forks, rewrites).
func VerifyWith(ctx context.Context, dir string, opt VerifyOptions) (*VerifyReport, error) {
	rep := &VerifyReport{Dir: dir, TrustedSize: -1, Problems: []string{}}
	var (
		v   note.Verifier
		err error
	)
	if opt.VerifierKey != "" {
		v, err = note.NewVerifier(string(bytes.TrimSpace([]byte(opt.VerifierKey))))
		if err != nil {
			return nil, fmt.Errorf("audit: verifier key: %w", err)
		}
	} else if v, err = ReadVerifierKey(filepath.Join(dir, VerifierKeyFile)); err != nil {
		return nil, err
	}
	rep.Origin = v.Name()

	var trusted *checkpoint
	if opt.Trusted != nil {
		cp, err := openCheckpoint(opt.Trusted, v)
		if err != nil {
			rep.problem("trusted checkpoint does not verify with the log's key: %v (the key was replaced or the file is not a checkpoint of this log)", err)
		} else {
			trusted = &cp
			rep.TrustedSize = cp.N
		}
	}

	db, err := openDB(filepath.Join(dir, DBFile), true)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	// One read transaction: every query sees the same snapshot even while
	// the gateway keeps appending.
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	defer tx.Rollback()

	cps, err := loadCheckpoints(ctx, tx, v, rep)
	if err != nil {
		return nil, err
	}
	// targets are the sizes whose roots we must know: every checkpoint and
	// the trusted one.
	type target struct {
		n    int64
		want tlog.Hash
		what string
	}
	var targets []target
	for _, cp := range cps {
		targets = append(targets, target{cp.N, cp.Hash, fmt.Sprintf("checkpoint at size %d", cp.N)})
	}
	if trusted != nil {
		targets = append(targets, target{trusted.N, trusted.Hash, fmt.Sprintf("trusted checkpoint at size %d", trusted.N)})
	}
	slices.SortStableFunc(targets, func(a, b target) int { return cmp.Compare(a.n, b.n) })
	checkRoot := func(f *frontier) error {
		for len(targets) > 0 && targets[0].n == f.size {
			h, err := f.root()
			if err != nil {
				return err
			}
			if h != targets[0].want {
				rep.problem("%s: root hash differs from the records (records edited, deleted, reordered or rewritten)", targets[0].what)
			}
			targets = targets[1:]
		}
		return nil
	}

	recRows, err := tx.QueryContext(ctx, `SELECT seq, data FROM records ORDER BY seq`)
	if err != nil {
		return nil, fmt.Errorf("audit: read records: %w", err)
	}
	defer recRows.Close()
	hashRows, err := tx.QueryContext(ctx, `SELECT id, hash FROM hashes ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("audit: read hashes: %w", err)
	}
	defer hashRows.Close()
	hashesOK := true
	nextHash := func() (int64, []byte, bool) {
		if !hashRows.Next() {
			return 0, nil, false
		}
		var id int64
		var h []byte
		if err := hashRows.Scan(&id, &h); err != nil {
			return 0, nil, false
		}
		return id, h, true
	}

	f := &frontier{}
	if err := checkRoot(f); err != nil {
		return nil, err
	}
	aligned := true // seq == position so far; after a gap, stored hashes are not comparable
	for recRows.Next() {
		var seq int64
		var data []byte
		if err := recRows.Scan(&seq, &data); err != nil {
			return nil, fmt.Errorf("audit: read records: %w", err)
		}
		pos := f.size
		if seq != pos {
			if seq > pos {
				rep.problem("records %d to %d are missing (deleted)", pos, seq-1)
			} else {
				rep.problem("record seq %d out of order at position %d", seq, pos)
			}
			aligned = false
		}
		if rec, ok := decodeRecord(data); !ok {
			rep.problem("record %d is not a valid record (edited)", seq)
		} else if rec.Seq != seq {
			rep.problem("record stored at seq %d says it is seq %d (moved or edited)", seq, rec.Seq)
		}
		hs, err := f.append(data)
		if err != nil {
			return nil, fmt.Errorf("audit: hash record %d: %w", seq, err)
		}
		if aligned && hashesOK {
			base := tlog.StoredHashIndex(0, pos)
			for j, h := range hs {
				id, stored, ok := nextHash()
				if !ok || id != base+int64(j) || !bytes.Equal(stored, h[:]) {
					rep.problem("stored hash %d does not match record %d (hash table edited)", base+int64(j), pos)
					hashesOK = false
					break
				}
			}
		}
		if err := checkRoot(f); err != nil {
			return nil, err
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	if err := recRows.Err(); err != nil {
		return nil, fmt.Errorf("audit: read records: %w", err)
	}
	if aligned && hashesOK {
		if id, _, ok := nextHash(); ok {
			rep.problem("stored hash %d belongs to no record (records deleted)", id)
		}
	}
	rep.Size = f.size
	root, err := f.root()
	if err != nil {
		return nil, fmt.Errorf("audit: tree hash: %w", err)
	}
	rep.RootHash = base64.StdEncoding.EncodeToString(root[:])

	for _, t := range targets {
		rep.problem("%s is beyond the log's %d records (records deleted or log rolled back)", t.what, rep.Size)
	}
	switch {
	case len(cps) == 0 && rep.Size > 0:
		rep.problem("no valid checkpoint covers the log's %d records (appended out of band)", rep.Size)
	case len(cps) > 0 && cps[len(cps)-1].N < rep.Size:
		rep.problem("records %d to %d are not covered by any checkpoint (appended out of band)", cps[len(cps)-1].N, rep.Size-1)
	}

	if trusted != nil && trusted.N <= rep.Size && hashesOK && aligned {
		// The roots already matched position by position; the proof is the
		// independent check a remote auditor would run, and it exercises
		// the stored hashes the log serves proofs from.
		p, err := tlog.ProveTree(rep.Size, trusted.N, dbHashReader{ctx: ctx, q: tx})
		if err != nil {
			rep.problem("cannot build consistency proof from size %d to %d: %v", trusted.N, rep.Size, err)
		} else if err := tlog.CheckTree(p, rep.Size, root, trusted.N, trusted.Hash); err != nil {
			rep.problem("log at size %d is not consistent with the trusted checkpoint at size %d: %v", rep.Size, trusted.N, err)
		}
	}
	return rep, nil
}

// loadCheckpoints reads and verifies every stored checkpoint, returning the
// valid ones by size and reporting the rest.
func loadCheckpoints(ctx context.Context, tx *sql.Tx, v note.Verifier, rep *VerifyReport) ([]checkpoint, error) {
	rows, err := tx.QueryContext(ctx, `SELECT size, note FROM checkpoints ORDER BY size`)
	if err != nil {
		return nil, fmt.Errorf("audit: read checkpoints: %w", err)
	}
	defer rows.Close()
	var out []checkpoint
	for rows.Next() {
		var size int64
		var msg []byte
		if err := rows.Scan(&size, &msg); err != nil {
			return nil, fmt.Errorf("audit: read checkpoints: %w", err)
		}
		rep.Checkpoints++
		cp, err := openCheckpoint(msg, v)
		if err != nil {
			rep.problem("checkpoint row %d: %v (forged or edited)", size, err)
			continue
		}
		if cp.N != size {
			rep.problem("checkpoint row %d holds a checkpoint for size %d (moved)", size, cp.N)
			continue
		}
		out = append(out, cp)
		rep.NewestCheckpoint = cp.N
		rep.Newest = msg
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit: read checkpoints: %w", err)
	}
	return out, nil
}

// ErrNoCheckpoint is returned by LatestCheckpoint for an empty log.
var ErrNoCheckpoint = errors.New("audit: log has no checkpoint")
