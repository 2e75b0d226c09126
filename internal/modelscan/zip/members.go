package zip

import (
	"bufio"
	"compress/bzip2"
	"compress/flate"
	"context"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"strings"

	"github.com/rampart-ai/rampart"
	"github.com/rampart-ai/rampart/internal/modelscan"
)

func bufioReader(r io.Reader) *bufio.Reader { return bufio.NewReaderSize(r, 64<<10) }

// kind is what the PyTorch layout says a member is.
type kind int

const (
	kindScan    kind = iota // hand to the engine
	kindStorage             // raw tensor bytes
	kindMeta                // small torch bookkeeping text
	kindCode                // TorchScript source
)

// torchPrefixes returns the top-level directories laid out as a PyTorch
// archive: <prefix>/data.pkl (state) or <prefix>/constants.pkl
// (TorchScript), and whether each holds TorchScript.
func torchPrefixes(entries []*entry) map[string]bool {
	p := map[string]bool{}
	for _, e := range entries {
		dir, base, ok := strings.Cut(e.name, "/")
		if !ok || dir == "" {
			continue
		}
		switch base {
		case "data.pkl":
			if _, seen := p[dir]; !seen {
				p[dir] = false
			}
		case "constants.pkl":
			p[dir] = true
		}
	}
	return p
}

func classify(name string, prefixes map[string]bool) kind {
	dir, rest, ok := strings.Cut(name, "/")
	if !ok {
		return kindScan
	}
	script, isTorch := prefixes[dir]
	if !isTorch {
		return kindScan
	}
	if n, ok := strings.CutPrefix(rest, "data/"); ok && n != "" && allDigits(n) {
		return kindStorage
	}
	switch rest {
	case "version", ".data/version", "byteorder", ".data/serialization_id", ".format_version", ".storage_alignment":
		return kindMeta
	}
	if script && strings.HasPrefix(rest, "code/") && strings.HasSuffix(rest, ".py") {
		return kindCode
	}
	return kindScan
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// plainMeta accepts torch's bookkeeping records ("3\n", "little", a
// serialization id): short ASCII words.
func plainMeta(b []byte) bool {
	if len(b) == 0 || len(b) > 64 {
		return false
	}
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '\n' || c == '\r' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func (s *scanner) scanMembers(entries []*entry) error {
	prefixes := torchPrefixes(entries)
	storages, codeFiles := 0, 0
	for _, e := range entries {
		if err := s.ctx.Err(); err != nil {
			return err
		}
		if e.broken || !supported(e.method) {
			continue
		}
		switch classify(e.name, prefixes) {
		case kindStorage:
			if err := s.verifyOnly(e); err != nil {
				return err
			}
			storages++
			continue
		case kindCode:
			codeFiles++
			s.add(modelscan.Unsafe, rampart.SeverityHigh, "torchscript.code", e.name, e.localOff,
				"TorchScript code is executable content: torch.jit.load compiles it and the model runs it")
			s.fs[len(s.fs)-1].Callable = "torch.jit.load"
			if err := s.verifyOnly(e); err != nil {
				return err
			}
			continue
		case kindMeta:
			if e.usize <= 64 {
				sp, ok, err := s.decode(e, 64)
				if err != nil {
					return err
				}
				if ok && plainMeta(sp.bytes()) {
					continue
				}
			}
		}
		if err := s.scanEntry(e); err != nil {
			return err
		}
	}
	if storages > 0 {
		s.add(modelscan.Clean, rampart.SeverityInfo, "zip.tensor-storage", "", -1,
			"%d PyTorch tensor storage members hold raw tensor bytes that torch never unpickles; CRC checked, content not parsed", storages)
	}
	return nil
}

func supported(method uint16) bool { return method == 0 || method == 8 || method == 12 }

// spooled wraps modelscan.Spooled with a way to read small content whole.
type spooled struct{ *modelscan.Spooled }

func (sp spooled) bytes() []byte {
	if sp.Size > 1<<20 {
		return nil
	}
	b := make([]byte, sp.Size)
	n, _ := sp.R.ReadAt(b, 0)
	return b[:n]
}

// open returns the member's uncompressed byte stream.
func (s *scanner) open(e *entry) io.Reader {
	raw := io.NewSectionReader(s.in.R, e.dataOff, int64(e.csize))
	switch e.method {
	case 8:
		return flate.NewReader(bufioReader(raw))
	case 12:
		return bzip2.NewReader(bufioReader(raw))
	}
	return raw
}

// decode decompresses a small member for inspection; ok is false when the
// content is corrupt, checks and all left to scanEntry.
func (s *scanner) decode(e *entry, max int64) (spooled, bool, error) {
	h := crc32.NewIEEE()
	sp, err := modelscan.Spool(s.ctx, s.in, io.TeeReader(s.open(e), h), max, max+1)
	if err != nil {
		sp.Close()
		if fatal(s.ctx, err) {
			return spooled{}, false, err
		}
		return spooled{}, false, nil
	}
	if uint64(sp.Size) != e.usize || h.Sum32() != e.crc || e.flags&(flagEncrypted|flagStrongEnc) != 0 {
		sp.Close()
		return spooled{}, false, nil
	}
	return spooled{sp}, true, nil
}

// fatal reports errors that end the scan rather than mark one member.
func fatal(ctx context.Context, err error) bool {
	return errors.Is(err, modelscan.ErrBudget) || ctx.Err() != nil
}

// verifyOnly decompresses and checks a member without judging its content.
func (s *scanner) verifyOnly(e *entry) error {
	h := crc32.NewIEEE()
	n, err := s.copyCharged(h, s.open(e), int64(e.usize)+1)
	if err != nil {
		if fatal(s.ctx, err) {
			return err
		}
		s.add(modelscan.Unscannable, rampart.SeverityMedium, "zip.corrupt-member", e.name, e.dataOff, "cannot decompress member: %v", err)
		return nil
	}
	s.checkSums(e, n, h)
	return nil
}

func (s *scanner) copyCharged(w io.Writer, r io.Reader, max int64) (int64, error) {
	buf := make([]byte, 256<<10)
	var n int64
	for n < max {
		if err := s.ctx.Err(); err != nil {
			return n, err
		}
		k, err := r.Read(buf[:min(int64(len(buf)), max-n)])
		if k > 0 {
			if cerr := s.in.Charge(int64(k)); cerr != nil {
				return n, cerr
			}
			w.Write(buf[:k])
			n += int64(k)
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func (s *scanner) checkSums(e *entry, n int64, h hash.Hash32) {
	if e.flags&(flagEncrypted|flagStrongEnc) != 0 {
		return
	}
	if uint64(n) != e.usize {
		more := ""
		if uint64(n) > e.usize {
			more = "more than "
		}
		s.add(modelscan.Suspicious, rampart.SeverityMedium, "zip.size-mismatch", e.name, e.dataOff,
			"member decompresses to %s%d bytes, its header says %d", more, n, e.usize)
		return
	}
	if got := h.Sum32(); got != e.crc {
		s.add(modelscan.Suspicious, rampart.SeverityMedium, "zip.crc-mismatch", e.name, e.dataOff,
			"CRC-32 is %08x, the header says %08x: the member was altered after the archive was written", got, e.crc)
	}
}

// scanEntry checks a member's integrity and hands its content to the
// engine. Stored members are passed as a section of the archive; others
// are spooled (memory, then an unlinked temp file).
func (s *scanner) scanEntry(e *entry) error {
	if !supported(e.method) {
		return nil
	}
	encrypted := e.flags&(flagEncrypted|flagStrongEnc) != 0
	if strings.HasSuffix(e.name, "/") {
		if e.usize == 0 && e.csize == 0 {
			return nil
		}
		s.add(modelscan.Suspicious, rampart.SeverityMedium, "zip.directory-with-data", e.name, e.localOff,
			"directory entry carries %d bytes of data", e.csize)
	}
	var r io.ReaderAt
	var size int64
	if e.method == 0 {
		if e.csize != e.usize && !encrypted {
			s.add(modelscan.Suspicious, rampart.SeverityMedium, "zip.size-mismatch", e.name, e.dataOff,
				"stored member has compressed size %d but size %d", e.csize, e.usize)
		}
		h := crc32.NewIEEE()
		sec := io.NewSectionReader(s.in.R, e.dataOff, int64(e.csize))
		n, err := s.copyCharged(h, sec, int64(e.csize))
		if err != nil {
			return err
		}
		if e.csize == e.usize {
			s.checkSums(e, n, h)
		}
		r, size = sec, int64(e.csize)
	} else {
		h := crc32.NewIEEE()
		sp, err := modelscan.Spool(s.ctx, s.in, io.TeeReader(s.open(e), h), modelscan.SpoolMemLimit, int64(e.usize)+1)
		defer sp.Close()
		if err != nil {
			if fatal(s.ctx, err) {
				return err
			}
			if !encrypted {
				s.add(modelscan.Unscannable, rampart.SeverityMedium, "zip.corrupt-member", e.name, e.dataOff,
					"cannot decompress member after %d bytes: %v; judging those bytes", sp.Size, err)
			}
		} else {
			s.checkSums(e, sp.Size, h)
		}
		r, size = sp.R, sp.Size
	}
	if size == 0 && encrypted {
		return nil
	}
	fs, err := s.in.Scan(s.ctx, e.name, r, size)
	if encrypted {
		// The flag may be a lie to make scanners skip bytes a loader reads
		// anyway: keep what the content shows, drop "unknown format".
		kept := fs[:0]
		for _, f := range fs {
			if f.Rule != "scan.unknown-format" {
				kept = append(kept, f)
			}
		}
		fs = kept
	}
	if size == 0 && len(fs) == 1 && fs[0].Rule == "scan.empty" {
		// Empty members (e.g. __init__ markers) carry nothing to load.
		fs = nil
	}
	s.fs = append(s.fs, fs...)
	if err != nil {
		return fmt.Errorf("member %s: %w", e.name, err)
	}
	return nil
}
