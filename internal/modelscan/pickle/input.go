package pickle

import (
	"bytes"
	"errors"
	"io"
)

const bufSize = 64 << 10

// errTruncated is a stream that ended inside an opcode.
var errTruncated = errors.New("pickle data truncated")

// input is a forward-only buffered reader that knows the stream offset of
// every byte, skips large payloads without keeping them (by seeking when it
// can), and reports I/O failures separately from the end of data.
type input struct {
	r        io.Reader
	seeker   io.Seeker // set when skips may seek instead of read
	size     int64     // total stream size when known, else -1
	buf      []byte
	pos, end int
	base     int64 // stream offset of buf[0]
	eof      bool
	ioErr    error // a read failure other than io.EOF
	charge   func(int64) error
}

func (in *input) off() int64 { return in.base + int64(in.pos) }

func (in *input) avail() int { return in.end - in.pos }

// fill tries to make at least need bytes available (need <= len(buf)). It
// returns false when the stream ends first or a read fails (see ioErr).
func (in *input) fill(need int) bool {
	if in.end-in.pos >= need {
		return true
	}
	if in.pos > 0 {
		n := copy(in.buf, in.buf[in.pos:in.end])
		in.base += int64(in.pos)
		in.pos, in.end = 0, n
	}
	for in.end-in.pos < need && !in.eof && in.ioErr == nil {
		n, err := in.r.Read(in.buf[in.end:])
		if n > 0 && in.charge != nil {
			if cerr := in.charge(int64(n)); cerr != nil {
				in.ioErr = cerr
			}
		}
		in.end += n
		if err != nil {
			if errors.Is(err, io.EOF) {
				in.eof = true
			} else {
				in.ioErr = err
			}
		} else if n == 0 {
			// A reader that returns nothing and no error: treat a run of
			// them as the end rather than spin.
			in.eof = true
		}
	}
	return in.end-in.pos >= need
}

// atEOF reports whether no byte is left.
func (in *input) atEOF() bool { return !in.fill(1) }

// skip discards n bytes, seeking when the reader allows it.
func (in *input) skip(n uint64) error {
	if a := uint64(in.avail()); n <= a {
		in.pos += int(n)
		return nil
	}
	n -= uint64(in.avail())
	in.base += int64(in.end)
	in.pos, in.end = 0, 0
	if in.size >= 0 {
		if n > uint64(in.size-in.base) {
			// Consume what is there so offsets stay honest, then fail.
			in.base = in.size
			in.eof = true
			return errTruncated
		}
		if in.seeker != nil {
			if _, err := in.seeker.Seek(int64(n), io.SeekCurrent); err != nil {
				in.ioErr = err
				return err
			}
			in.base += int64(n)
			return nil
		}
	}
	for n > 0 {
		if !in.fill(1) {
			if in.ioErr != nil {
				return in.ioErr
			}
			return errTruncated
		}
		k := uint64(in.avail())
		if k > n {
			k = n
		}
		in.pos += int(k)
		n -= k
	}
	return nil
}

// line reads up to and including the next '\n' and returns the line
// without it. Lines longer than keep are consumed whole but returned as
// nil with long set, so a protocol 0 string of any length costs no memory.
func (in *input) line(keep int) (b []byte, long bool, err error) {
	if keep > len(in.buf)-1 {
		keep = len(in.buf) - 1
	}
	scanned := 0
	for {
		if i := bytes.IndexByte(in.buf[in.pos+scanned:in.end], '\n'); i >= 0 {
			b = in.buf[in.pos : in.pos+scanned+i]
			in.pos += scanned + i + 1
			return b, false, nil
		}
		scanned = in.avail()
		if scanned >= keep {
			// Too long to keep: discard through the newline.
			for {
				if i := bytes.IndexByte(in.buf[in.pos:in.end], '\n'); i >= 0 {
					in.pos += i + 1
					return nil, true, nil
				}
				in.pos = in.end
				if !in.fill(1) {
					return nil, true, in.endErr()
				}
			}
		}
		if !in.fill(scanned + 1) {
			return nil, false, in.endErr()
		}
	}
}

func (in *input) endErr() error {
	if in.ioErr != nil {
		return in.ioErr
	}
	return errTruncated
}
