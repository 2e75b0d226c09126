package audit

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"path/filepath"
)

// Reader reads a log's records without writing to it; it is safe to use
// while a gateway is appending.
type Reader struct {
	db *sql.DB
}

// OpenReader opens the log in dir read-only.
func OpenReader(dir string) (*Reader, error) {
	db, err := openDB(filepath.Join(dir, DBFile), true)
	if err != nil {
		return nil, err
	}
	return &Reader{db: db}, nil
}

// Close releases the reader.
func (r *Reader) Close() error { return r.db.Close() }

// Size returns the number of records (the next seq).
func (r *Reader) Size(ctx context.Context) (int64, error) {
	var n int64
	if err := r.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq)+1, 0) FROM records`).Scan(&n); err != nil {
		return 0, fmt.Errorf("audit: read size: %w", err)
	}
	return n, nil
}

// Export writes records with seq >= from to w as JSON Lines, exactly the
// bytes that were hashed into the tree, and returns the seq to resume from.
func (r *Reader) Export(ctx context.Context, from int64, w io.Writer) (next int64, err error) {
	next = max(from, 0)
	rows, err := r.db.QueryContext(ctx, `SELECT seq, data FROM records WHERE seq >= ? ORDER BY seq`, next)
	if err != nil {
		return next, fmt.Errorf("audit: read records: %w", err)
	}
	defer rows.Close()
	bw := bufio.NewWriterSize(w, 64<<10)
	for rows.Next() {
		var seq int64
		var data []byte
		if err := rows.Scan(&seq, &data); err != nil {
			return next, fmt.Errorf("audit: read records: %w", err)
		}
		bw.Write(data)
		if err := bw.WriteByte('\n'); err != nil {
			return next, fmt.Errorf("audit: export: %w", err)
		}
		next = seq + 1
	}
	if err := rows.Err(); err != nil {
		return next, fmt.Errorf("audit: read records: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return next, fmt.Errorf("audit: export: %w", err)
	}
	return next, nil
}

// Tail writes the last n records to w as JSON Lines and returns the seq to
// follow from.
func (r *Reader) Tail(ctx context.Context, n int64, w io.Writer) (next int64, err error) {
	size, err := r.Size(ctx)
	if err != nil {
		return 0, err
	}
	return r.Export(ctx, max(size-max(n, 0), 0), w)
}

// LatestCheckpoint returns the newest stored checkpoint note, unverified;
// use [Verify]'s report (VerifyReport.Newest) when it must be trusted.
func (r *Reader) LatestCheckpoint(ctx context.Context) ([]byte, error) {
	var msg []byte
	err := r.db.QueryRowContext(ctx, `SELECT note FROM checkpoints ORDER BY size DESC LIMIT 1`).Scan(&msg)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNoCheckpoint
	}
	if err != nil {
		return nil, fmt.Errorf("audit: read checkpoint: %w", err)
	}
	return msg, nil
}

// Export writes the records of the log in dir with seq >= from as JSON Lines.
func Export(ctx context.Context, dir string, from int64, w io.Writer) (next int64, err error) {
	r, err := OpenReader(dir)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	return r.Export(ctx, from, w)
}

// Tail writes the last n records of the log in dir as JSON Lines.
func Tail(ctx context.Context, dir string, n int64, w io.Writer) (next int64, err error) {
	r, err := OpenReader(dir)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	return r.Tail(ctx, n, w)
}
