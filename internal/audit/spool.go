package audit

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// spool is the disk fallback for records the store cannot take right now.
// Files are append-only JSON lines named so that lexical order is creation
// order; the file being written is never replayed, so replay rotates first.
type spool struct {
	dir   string
	count atomic.Int64 // records waiting in spool files

	mu    sync.Mutex
	f     *os.File
	name  string
	dirty bool
}

const (
	spoolPrefix = "spool-"
	spoolSuffix = ".jsonl"
	// maxSpoolLine bounds one spooled record; opted-in payloads make records
	// large, but a line beyond this is corrupt, not a record.
	maxSpoolLine = 64 << 20
)

// write appends records as JSON lines. With sync the file is fsynced before
// returning; the hot path skips that and lets the writer sync on its tick.
func (s *spool) write(recs []Record, sync bool) error {
	var buf bytes.Buffer
	for _, r := range recs {
		r.Seq = 0
		b, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("audit: spool encode: %w", err)
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		name := fmt.Sprintf("%s%020d-%s%s", spoolPrefix, time.Now().UnixNano(), randHex(4), spoolSuffix)
		f, err := os.OpenFile(filepath.Join(s.dir, name), os.O_WRONLY|os.O_CREATE|os.O_APPEND|os.O_EXCL, 0o600)
		if err != nil {
			return fmt.Errorf("audit: spool: %w", err)
		}
		s.f, s.name = f, name
	}
	if _, err := s.f.Write(buf.Bytes()); err != nil {
		// A partial line is skipped at replay; start a fresh file so the
		// next write does not land after it on the same line.
		s.f.Close()
		s.f = nil
		return fmt.Errorf("audit: spool write: %w", err)
	}
	s.count.Add(int64(len(recs)))
	s.dirty = true
	if sync {
		return s.syncLocked()
	}
	return nil
}

func (s *spool) sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.syncLocked()
}

func (s *spool) syncLocked() error {
	if s.f == nil || !s.dirty {
		return nil
	}
	s.dirty = false
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("audit: spool sync: %w", err)
	}
	return nil
}

// rotate closes the current file and returns every closed spool file, oldest first.
func (s *spool) rotate() ([]string, error) {
	s.mu.Lock()
	var err error
	if s.f != nil {
		err = s.syncLocked()
		if cerr := s.f.Close(); err == nil {
			err = cerr
		}
		s.f = nil
	}
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return s.files()
}

func (s *spool) files() ([]string, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("audit: spool: %w", err)
	}
	s.mu.Lock()
	current := s.name
	if s.f == nil {
		current = ""
	}
	s.mu.Unlock()
	var out []string
	for _, e := range ents {
		n := e.Name()
		if e.Type().IsRegular() && strings.HasPrefix(n, spoolPrefix) && strings.HasSuffix(n, spoolSuffix) && n != current {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out, nil
}

func (s *spool) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.syncLocked()
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	s.f = nil
	return err
}

// decodeSpool reads JSON-lines records from r, calling fn with each record
// and the number of bytes consumed through the end of its line. Lines that
// are not valid records, and a final line without a newline (a write torn
// by a crash), are skipped and counted in bad; they never stop the replay of
// the records after them. An error from fn stops decoding and is returned.
func decodeSpool(r io.Reader, fn func(rec Record, end int64) error) (bad int, err error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var off int64
	var line []byte
	for {
		line = line[:0]
		tooLong := false
		for {
			chunk, err := br.ReadSlice('\n')
			if len(line)+len(chunk) > maxSpoolLine {
				tooLong = true
			} else {
				line = append(line, chunk...)
			}
			off += int64(len(chunk))
			if err == nil {
				break
			}
			if errors.Is(err, bufio.ErrBufferFull) {
				continue
			}
			if errors.Is(err, io.EOF) {
				if len(line) > 0 || tooLong {
					bad++
				}
				return bad, nil
			}
			return bad, fmt.Errorf("audit: spool read: %w", err)
		}
		if tooLong {
			bad++
			continue
		}
		body := bytes.TrimSpace(line)
		if len(body) == 0 {
			continue
		}
		rec, ok := decodeRecord(body)
		if !ok {
			bad++
			continue
		}
		if err := fn(rec, off); err != nil {
			return bad, err
		}
	}
}

// decodeRecord parses one JSON record strictly: unknown fields or trailing
// data mean the bytes are not something this package wrote.
func decodeRecord(b []byte) (Record, bool) {
	var rec Record
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rec); err != nil {
		return Record{}, false
	}
	if dec.More() {
		return Record{}, false
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Record{}, false
	}
	return rec, true
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b)
}
