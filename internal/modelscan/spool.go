package modelscan

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
)

// SpoolMemLimit is how many decompressed bytes a container analyzer keeps
// in memory before it spills to an unlinked temporary file: members of a
// multi-GB checkpoint must never be held whole.
const SpoolMemLimit = 16 << 20

// Spooled is decompressed member content that can be read at random
// offsets, as [Input.Scan] needs.
type Spooled struct {
	R    io.ReaderAt
	Size int64
	f    *os.File
}

// Close releases the temporary file, if any.
func (s *Spooled) Close() error {
	if s == nil || s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}

// Spool copies r into memory, then into an unlinked temporary file once
// more than memLimit bytes have come, charging every byte to in's budget
// and stopping after max bytes (max < 0: no cap other than the budget).
// On error the bytes spooled so far are still returned (never nil), so
// an analyzer can judge a payload placed before a corrupt tail; the error
// is the reader's, [ErrBudget], or the context's.
func Spool(ctx context.Context, in *Input, r io.Reader, memLimit, max int64) (*Spooled, error) {
	var mem bytes.Buffer
	var f *os.File
	var n int64
	buf := make([]byte, 64<<10)
	out := func() *Spooled {
		if f != nil {
			return &Spooled{R: f, Size: n, f: f}
		}
		return &Spooled{R: bytes.NewReader(mem.Bytes()), Size: n}
	}
	for {
		if err := ctx.Err(); err != nil {
			return out(), err
		}
		want := len(buf)
		if max >= 0 && max-n < int64(want) {
			want = int(max - n)
			if want == 0 {
				return out(), nil
			}
		}
		k, rerr := r.Read(buf[:want])
		if k > 0 {
			if err := in.Charge(int64(k)); err != nil {
				return out(), err
			}
			if f == nil && int64(mem.Len()+k) > memLimit {
				tf, err := os.CreateTemp("", "rampart-scan-*")
				if err != nil {
					return out(), fmt.Errorf("spool: %w", err)
				}
				// Unlinked at once: the bytes vanish with the descriptor,
				// even if the scan is killed.
				_ = os.Remove(tf.Name())
				if _, err := tf.Write(mem.Bytes()); err != nil {
					tf.Close()
					return out(), fmt.Errorf("spool: %w", err)
				}
				f = tf
				mem = bytes.Buffer{}
			}
			if f != nil {
				if _, err := f.Write(buf[:k]); err != nil {
					return out(), fmt.Errorf("spool: %w", err)
				}
			} else {
				mem.Write(buf[:k])
			}
			n += int64(k)
		}
		if rerr != nil {
			if errors.Is(rerr, io.EOF) {
				return out(), nil
			}
			return out(), rerr
		}
	}
}
