// Package zip judges ZIP archives: PyTorch zip checkpoints, TorchScript
// archives, .npz, .keras and any other zip.
//
// It reads the central directory and every local header itself, so the
// tricks that make two zip readers see two different archives are
// findings rather than skips: CRC mismatches, encrypted or oddly flagged
// members, local/central disagreements, path traversal, symlinks,
// duplicate names, overlapping members and bytes outside any member
// (before the first, between members, after the central directory). Every
// member is handed back to the engine ([modelscan.Input.Scan]) so its
// content, not its name, decides which analyzer judges it; bytes outside
// members are scanned the same way, because a loader that streams local
// headers may read them.
//
// PyTorch raw tensor storages (<prefix>/data/<n> beside <prefix>/data.pkl)
// are tensor bytes that torch never unpickles: they are checked for CRC
// and skipped as CLEAN with a reason. TorchScript code (<prefix>/code/*.py)
// is executable content and is reported UNSAFE: torch.jit.load compiles and
// runs it, so no allowlist over a pickle can vouch for it.
package zip

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	"github.com/rampart-ai/rampart"
	"github.com/rampart-ai/rampart/internal/modelscan"
)

const (
	sigLocal      = 0x04034b50
	sigCentral    = 0x02014b50
	sigEOCD       = 0x06054b50
	sigZip64EOCD  = 0x06064b50
	sigZip64Loc   = 0x07064b50
	sigDescriptor = 0x08074b50

	// maxEntries bounds the central directory we keep in memory; the
	// engine's member budget applies on top.
	maxEntries = 1 << 18
	// maxComment is the largest EOCD comment, fixed by the format.
	maxComment = 0xffff

	flagEncrypted  = 1 << 0
	flagDescriptor = 1 << 3
	flagStrongEnc  = 1 << 6
	flagUTF8       = 1 << 11
	flagMaskedCD   = 1 << 13
	// knownFlags: encryption, compression options, descriptor, UTF-8.
	knownFlags = flagEncrypted | 1<<1 | 1<<2 | flagDescriptor | flagUTF8
)

type analyzer struct{}

// New returns the zip analyzer.
func New() modelscan.Analyzer { return analyzer{} }

func (analyzer) Name() string { return "zip" }

// Match accepts a local file header or an empty archive's end record.
func (analyzer) Match(head []byte) bool {
	return bytes.HasPrefix(head, []byte("PK\x03\x04")) || bytes.HasPrefix(head, []byte("PK\x05\x06"))
}

type entry struct {
	idx        int
	name       string
	made       uint16
	flags      uint16
	method     uint16
	crc        uint32
	csize      uint64
	usize      uint64
	extAttr    uint32
	localOff   int64
	zip64      bool
	dataOff    int64 // from the local header; -1 if it could not be read
	end        int64 // end of data and descriptor
	localName  string
	localFlags uint16
	broken     bool // local header unusable: content not scannable
}

type scanner struct {
	ctx  context.Context
	in   *modelscan.Input
	fs   []modelscan.Finding
	size int64
}

func (s *scanner) add(v modelscan.Verdict, sev rampart.Severity, rule, member string, off int64, format string, args ...any) {
	s.fs = append(s.fs, modelscan.Finding{Verdict: v, Severity: sev, Rule: rule, Message: fmt.Sprintf(format, args...),
		Offset: off, Member: s.memberPath(member)})
}

// memberPath names a member the way Input.Scan does, so findings about a
// member and findings inside it agree.
func (s *scanner) memberPath(name string) string {
	if name == "" {
		return s.in.Member
	}
	if s.in.Member != "" {
		return s.in.Member + "!" + name
	}
	return name
}

func (s *scanner) readAt(off int64, n int) ([]byte, error) {
	if off < 0 || n < 0 || off > s.size || int64(n) > s.size-off {
		return nil, io.ErrUnexpectedEOF
	}
	b := make([]byte, n)
	if _, err := s.in.R.ReadAt(b, off); err != nil && !(errors.Is(err, io.EOF) && n > 0) {
		return nil, err
	}
	return b, s.in.Charge(int64(n))
}

func (analyzer) Analyze(ctx context.Context, in *modelscan.Input) ([]modelscan.Finding, error) {
	s := &scanner{ctx: ctx, in: in, size: in.Size}
	err := s.run()
	return s.fs, err
}

func (s *scanner) run() error {
	eocd, err := s.findEOCD()
	if err != nil || eocd == nil {
		return err
	}
	entries, err := s.readCentral(eocd)
	if err != nil || entries == nil {
		return err
	}
	for _, e := range entries {
		if err := s.readLocal(e); err != nil {
			return err
		}
		s.checkEntry(e)
	}
	s.checkNames(entries)
	if err := s.checkLayout(entries, eocd); err != nil {
		return err
	}
	return s.scanMembers(entries)
}

type eocdInfo struct {
	off      int64 // EOCD record
	dirEnd   int64 // where the central directory must end (EOCD or zip64 record)
	cdOff    int64
	cdSize   int64
	entries  uint64
	zip64Off int64 // -1 if none
}

func (s *scanner) findEOCD() (*eocdInfo, error) {
	tailLen := int64(22 + maxComment + 20)
	if tailLen > s.size {
		tailLen = s.size
	}
	tail, err := s.readAt(s.size-tailLen, int(tailLen))
	if err != nil {
		return nil, err
	}
	base := s.size - tailLen
	exact, loose := int64(-1), int64(-1)
	for i := len(tail) - 22; i >= 0; i-- {
		if binary.LittleEndian.Uint32(tail[i:]) != sigEOCD {
			continue
		}
		clen := int64(binary.LittleEndian.Uint16(tail[i+20:]))
		end := base + int64(i) + 22 + clen
		if end == s.size {
			exact = base + int64(i)
			break
		}
		if end < s.size && loose < 0 {
			loose = base + int64(i)
		}
	}
	off := exact
	if off < 0 {
		off = loose
	}
	if off < 0 {
		s.add(modelscan.Unscannable, rampart.SeverityMedium, "zip.no-central-directory", "", -1,
			"no end of central directory record: truncated or not a zip")
		return nil, nil
	}
	rec := tail[off-base:]
	e := &eocdInfo{off: off, dirEnd: off, zip64Off: -1}
	disk, cdDisk := binary.LittleEndian.Uint16(rec[4:]), binary.LittleEndian.Uint16(rec[6:])
	e.entries = uint64(binary.LittleEndian.Uint16(rec[10:]))
	e.cdSize = int64(binary.LittleEndian.Uint32(rec[12:]))
	e.cdOff = int64(binary.LittleEndian.Uint32(rec[16:]))
	end := off + 22 + int64(binary.LittleEndian.Uint16(rec[20:]))
	if end < s.size {
		s.add(modelscan.Suspicious, rampart.SeverityMedium, "zip.trailing-data", "", end,
			"%d bytes after the end of central directory record", s.size-end)
		if err := s.scanRegion("<trailing-data>", end, s.size-end); err != nil {
			return nil, err
		}
	}
	// A zip64 locator sits right before the EOCD record.
	if off >= 20 {
		loc, err := s.readAt(off-20, 20)
		if err != nil {
			return nil, err
		}
		if binary.LittleEndian.Uint32(loc) == sigZip64Loc {
			z64 := int64(binary.LittleEndian.Uint64(loc[8:]))
			rec, err := s.readAt(z64, 56)
			if err != nil || binary.LittleEndian.Uint32(rec) != sigZip64EOCD || z64 > off-20 {
				s.add(modelscan.Unscannable, rampart.SeverityMedium, "zip.bad-zip64", "", off-20,
					"zip64 locator points to no zip64 end record")
				return nil, nil
			}
			disk, cdDisk = uint16(binary.LittleEndian.Uint32(rec[16:])), uint16(binary.LittleEndian.Uint32(rec[20:]))
			e.entries = binary.LittleEndian.Uint64(rec[32:])
			e.cdSize = int64(binary.LittleEndian.Uint64(rec[40:]))
			e.cdOff = int64(binary.LittleEndian.Uint64(rec[48:]))
			e.zip64Off = z64
			e.dirEnd = z64
		}
	}
	if disk != 0 || cdDisk != 0 {
		s.add(modelscan.Unscannable, rampart.SeverityMedium, "zip.multi-disk", "", off, "multi-disk archives are not supported")
		return nil, nil
	}
	if e.cdOff < 0 || e.cdSize < 0 || e.cdOff > e.dirEnd || e.cdSize > e.dirEnd-e.cdOff {
		s.add(modelscan.Unscannable, rampart.SeverityMedium, "zip.bad-central-directory", "", off,
			"central directory (offset %d, size %d) lies outside the archive", e.cdOff, e.cdSize)
		return nil, nil
	}
	return e, nil
}

func (s *scanner) readCentral(eo *eocdInfo) ([]*entry, error) {
	if eo.entries > maxEntries {
		s.add(modelscan.Unscannable, rampart.SeverityMedium, "zip.too-many-entries", "", eo.off,
			"%d entries: more than %d", eo.entries, maxEntries)
		return nil, nil
	}
	if err := s.in.Charge(eo.cdSize); err != nil {
		return nil, err
	}
	r := bufioReader(io.NewSectionReader(s.in.R, eo.cdOff, eo.cdSize))
	var entries []*entry
	pos := eo.cdOff
	fixed := make([]byte, 46)
	for pos < eo.cdOff+eo.cdSize {
		if err := s.ctx.Err(); err != nil {
			return nil, err
		}
		if len(entries) >= maxEntries {
			s.add(modelscan.Unscannable, rampart.SeverityMedium, "zip.too-many-entries", "", pos, "more than %d entries", maxEntries)
			return nil, nil
		}
		if _, err := io.ReadFull(r, fixed); err != nil || binary.LittleEndian.Uint32(fixed) != sigCentral {
			s.add(modelscan.Unscannable, rampart.SeverityMedium, "zip.bad-central-directory", "", pos,
				"corrupt central directory entry")
			return nil, nil
		}
		e := &entry{idx: len(entries), made: binary.LittleEndian.Uint16(fixed[4:]), flags: binary.LittleEndian.Uint16(fixed[8:]),
			method: binary.LittleEndian.Uint16(fixed[10:]), crc: binary.LittleEndian.Uint32(fixed[16:]),
			csize: uint64(binary.LittleEndian.Uint32(fixed[20:])), usize: uint64(binary.LittleEndian.Uint32(fixed[24:])),
			extAttr: binary.LittleEndian.Uint32(fixed[38:]), localOff: int64(binary.LittleEndian.Uint32(fixed[42:])), dataOff: -1}
		nl, xl, cl := int(binary.LittleEndian.Uint16(fixed[28:])), int(binary.LittleEndian.Uint16(fixed[30:])), int(binary.LittleEndian.Uint16(fixed[32:]))
		varLen := nl + xl + cl
		if pos+46+int64(varLen) > eo.cdOff+eo.cdSize {
			s.add(modelscan.Unscannable, rampart.SeverityMedium, "zip.bad-central-directory", "", pos,
				"central directory entry runs past the directory")
			return nil, nil
		}
		v := make([]byte, varLen)
		if _, err := io.ReadFull(r, v); err != nil {
			return nil, fmt.Errorf("read central directory: %w", err)
		}
		e.name = string(v[:nl])
		if ok := e.applyZip64(v[nl:nl+xl], true); !ok {
			s.add(modelscan.Unscannable, rampart.SeverityMedium, "zip.bad-zip64", e.name, pos, "zip64 extra field missing or short")
			e.broken = true
		}
		entries = append(entries, e)
		pos += 46 + int64(varLen)
	}
	if uint64(len(entries)) != eo.entries {
		s.add(modelscan.Suspicious, rampart.SeverityMedium, "zip.entry-count", "", eo.off,
			"end record declares %d entries, central directory holds %d", eo.entries, len(entries))
	}
	return entries, nil
}

// applyZip64 replaces 0xffffffff placeholders from the zip64 extra field.
func (e *entry) applyZip64(extra []byte, central bool) bool {
	needU, needC := e.usize == 0xffffffff, e.csize == 0xffffffff
	needO := central && e.localOff == 0xffffffff
	if !needU && !needC && !needO {
		return true
	}
	for len(extra) >= 4 {
		id, n := binary.LittleEndian.Uint16(extra), int(binary.LittleEndian.Uint16(extra[2:]))
		if 4+n > len(extra) {
			return false
		}
		body := extra[4 : 4+n]
		extra = extra[4+n:]
		if id != 0x0001 {
			continue
		}
		e.zip64 = true
		take := func(p *uint64) bool {
			if len(body) < 8 {
				return false
			}
			*p = binary.LittleEndian.Uint64(body)
			body = body[8:]
			return true
		}
		if needU && !take(&e.usize) {
			return false
		}
		if needC && !take(&e.csize) {
			return false
		}
		if needO {
			var o uint64
			if !take(&o) {
				return false
			}
			e.localOff = int64(o)
		}
		return true
	}
	return false
}

func (s *scanner) readLocal(e *entry) error {
	if e.broken {
		return nil
	}
	if e.localOff < 0 || e.localOff > s.size-30 {
		s.add(modelscan.Unscannable, rampart.SeverityMedium, "zip.bad-local-header", e.name, e.localOff, "local header lies outside the archive")
		e.broken = true
		return nil
	}
	h, err := s.readAt(e.localOff, 30)
	if err != nil {
		return err
	}
	if binary.LittleEndian.Uint32(h) != sigLocal {
		s.add(modelscan.Unscannable, rampart.SeverityMedium, "zip.bad-local-header", e.name, e.localOff, "no local header at the recorded offset")
		e.broken = true
		return nil
	}
	nl, xl := int(binary.LittleEndian.Uint16(h[26:])), int(binary.LittleEndian.Uint16(h[28:]))
	v, err := s.readAt(e.localOff+30, nl+xl)
	if err != nil {
		s.add(modelscan.Unscannable, rampart.SeverityMedium, "zip.bad-local-header", e.name, e.localOff, "local header runs past the archive")
		e.broken = true
		return nil
	}
	loc := &entry{flags: binary.LittleEndian.Uint16(h[6:]), method: binary.LittleEndian.Uint16(h[8:]), crc: binary.LittleEndian.Uint32(h[14:]),
		csize: uint64(binary.LittleEndian.Uint32(h[18:])), usize: uint64(binary.LittleEndian.Uint32(h[22:]))}
	e.localName = string(v[:nl])
	e.localFlags = loc.flags
	loc.applyZip64(v[nl:], false)
	e.dataOff = e.localOff + 30 + int64(nl+xl)
	if e.localName != e.name {
		s.add(modelscan.Suspicious, rampart.SeverityHigh, "zip.name-mismatch", e.name, e.localOff,
			"local header names the member %q, the central directory %q: readers disagree on what it is", e.localName, e.name)
		s.checkPath(e.localName, e.name, e.localOff)
	}
	var diffs []string
	if loc.method != e.method {
		diffs = append(diffs, fmt.Sprintf("method %d/%d", loc.method, e.method))
	}
	if (loc.flags^e.flags)&(flagEncrypted|flagStrongEnc|flagDescriptor) != 0 {
		diffs = append(diffs, fmt.Sprintf("flags %#x/%#x", loc.flags, e.flags))
	}
	// With a data descriptor the local fields may be zero; otherwise they
	// must agree with the directory.
	lax := loc.flags&flagDescriptor != 0
	if !(lax && loc.csize == 0) && loc.csize != e.csize {
		diffs = append(diffs, fmt.Sprintf("compressed size %d/%d", loc.csize, e.csize))
	}
	if !(lax && loc.usize == 0) && loc.usize != e.usize {
		diffs = append(diffs, fmt.Sprintf("size %d/%d", loc.usize, e.usize))
	}
	if !(lax && loc.crc == 0) && loc.crc != e.crc {
		diffs = append(diffs, fmt.Sprintf("crc %08x/%08x", loc.crc, e.crc))
	}
	if len(diffs) > 0 {
		// Readers that trust the local header read other bytes than those
		// that trust the directory: what a loader sees is undecidable.
		s.add(modelscan.Unscannable, rampart.SeverityHigh, "zip.header-mismatch", e.name, e.localOff,
			"local and central headers disagree (local/central): %s", strings.Join(diffs, ", "))
	}
	if e.dataOff > s.size || e.csize > uint64(s.size-e.dataOff) {
		s.add(modelscan.Unscannable, rampart.SeverityMedium, "zip.truncated-member", e.name, e.dataOff,
			"member data (%d bytes) runs past the end of the archive", e.csize)
		e.broken = true
		return nil
	}
	e.end = e.dataOff + int64(e.csize)
	if e.flags&flagDescriptor != 0 {
		d, err := s.readAt(e.end, 4)
		n := int64(12)
		if e.zip64 {
			n = 20
		}
		if err == nil && binary.LittleEndian.Uint32(d) == sigDescriptor {
			n += 4
		}
		if e.end+n <= s.size {
			e.end += n
		}
	}
	return nil
}

// checkEntry reports what one central directory entry says about itself.
func (s *scanner) checkEntry(e *entry) {
	s.checkPath(e.name, e.name, e.localOff)
	if e.flags&(flagEncrypted|flagStrongEnc) != 0 || e.flags&flagMaskedCD != 0 {
		s.add(modelscan.Unscannable, rampart.SeverityMedium, "zip.encrypted", e.name, e.localOff,
			"member is flagged encrypted (flags %#x): its content cannot be judged", e.flags)
	} else if extra := e.flags &^ knownFlags; extra != 0 {
		s.add(modelscan.Suspicious, rampart.SeverityLow, "zip.flags", e.name, e.localOff,
			"member sets unusual general-purpose flag bits %#x", extra)
	}
	switch e.method {
	case 0, 8, 12:
	default:
		s.add(modelscan.Unscannable, rampart.SeverityMedium, "zip.unsupported-compression", e.name, e.localOff,
			"compression method %d is not supported", e.method)
	}
	// Unix file type lives in the high 16 bits of the external attributes
	// when the archive was made on Unix (3) or macOS (19).
	if os := e.made >> 8; os == 3 || os == 19 {
		switch mode := e.extAttr >> 16 & 0xf000; mode {
		case 0, 0x8000, 0x4000:
		case 0xa000:
			target := ""
			if !e.broken && e.dataOff >= 0 && e.csize <= 4096 && e.method == 0 {
				if b, err := s.readAt(e.dataOff, int(e.csize)); err == nil {
					target = fmt.Sprintf(" to %q", b)
				}
			}
			s.add(modelscan.Unsafe, rampart.SeverityHigh, "zip.symlink", e.name, e.localOff,
				"member is a symbolic link%s: extracting it lets later members or loaders reach files outside the model", target)
		default:
			s.add(modelscan.Suspicious, rampart.SeverityMedium, "zip.special-file", e.name, e.localOff,
				"member is a special file (mode %#o)", mode)
		}
	}
}

// checkPath reports names that escape the extraction directory.
func (s *scanner) checkPath(name, member string, off int64) {
	why := ""
	switch {
	case name == "":
		s.add(modelscan.Suspicious, rampart.SeverityMedium, "zip.empty-name", member, off, "member has an empty name")
		return
	case strings.IndexByte(name, 0) >= 0:
		why = "a NUL byte"
	case strings.HasPrefix(name, "/"):
		why = "an absolute path"
	case len(name) >= 2 && name[1] == ':' && (name[0]|0x20) >= 'a' && (name[0]|0x20) <= 'z':
		why = "a drive letter"
	case strings.Contains(name, "\\"):
		why = "a backslash"
	default:
		for _, c := range strings.Split(name, "/") {
			if c == ".." {
				why = "a '..' component"
				break
			}
		}
	}
	if why != "" {
		s.add(modelscan.Unsafe, rampart.SeverityHigh, "zip.path-traversal", member, off,
			"member name %q has %s: extraction can write outside the target directory", name, why)
	}
}

func (s *scanner) checkNames(entries []*entry) {
	exact := make(map[string]int, len(entries))
	folded := make(map[string]int, len(entries))
	for _, e := range entries {
		if first, ok := exact[e.name]; ok {
			s.add(modelscan.Suspicious, rampart.SeverityHigh, "zip.duplicate-name", e.name, e.localOff,
				"name also used by entry %d: readers disagree on which one is loaded", first)
			continue
		}
		exact[e.name] = e.idx
		key := strings.ToLower(path.Clean(strings.ReplaceAll(e.name, "\\", "/")))
		if strings.HasSuffix(e.name, "/") {
			key += "/"
		}
		if first, ok := folded[key]; ok {
			s.add(modelscan.Suspicious, rampart.SeverityMedium, "zip.duplicate-name-case", e.name, e.localOff,
				"name collides with entry %d (%q) on case-insensitive or normalizing file systems", first, entries[first].name)
			continue
		}
		folded[key] = e.idx
	}
}

// checkLayout finds overlapping members and bytes that belong to no
// member: a streaming reader may see a different archive there.
func (s *scanner) checkLayout(entries []*entry, eo *eocdInfo) error {
	var live []*entry
	for _, e := range entries {
		if !e.broken {
			live = append(live, e)
		}
	}
	sort.SliceStable(live, func(i, j int) bool { return live[i].localOff < live[j].localOff })
	pos := int64(0)
	for _, e := range live {
		if e.localOff < pos {
			s.add(modelscan.Suspicious, rampart.SeverityHigh, "zip.overlapping-members", e.name, e.localOff,
				"member overlaps the previous member's data: a quine-style bomb or a parser-confusion trick")
		} else if e.localOff > pos {
			if err := s.gap(pos, e.localOff); err != nil {
				return err
			}
		}
		if e.end > pos {
			pos = e.end
		}
	}
	if pos > eo.cdOff {
		s.add(modelscan.Suspicious, rampart.SeverityHigh, "zip.overlapping-members", "", eo.cdOff,
			"member data overlaps the central directory")
	} else if pos < eo.cdOff {
		if err := s.gap(pos, eo.cdOff); err != nil {
			return err
		}
	}
	if end := eo.cdOff + eo.cdSize; end < eo.dirEnd {
		s.add(modelscan.Suspicious, rampart.SeverityMedium, "zip.hidden-data", "", end,
			"%d bytes between the central directory and its end record", eo.dirEnd-end)
		if err := s.scanRegion("<hidden-data>", end, eo.dirEnd-end); err != nil {
			return err
		}
	}
	return nil
}

// gap reports and scans bytes outside any listed member. A local header
// there is a member only streaming readers see.
func (s *scanner) gap(from, to int64) error {
	for from < to {
		rule, what := "zip.hidden-data", "between members"
		if from == 0 {
			rule, what = "zip.prepended-data", "before the first listed member"
		}
		h, err := s.readAt(from, min(30, int(to-from)))
		if err != nil {
			return err
		}
		if len(h) < 30 || binary.LittleEndian.Uint32(h) != sigLocal {
			s.add(modelscan.Suspicious, rampart.SeverityMedium, rule, "", from, "%d bytes %s", to-from, what)
			return s.scanRegion(fmt.Sprintf("<data@%d>", from), from, to-from)
		}
		nl, xl := int64(binary.LittleEndian.Uint16(h[26:])), int64(binary.LittleEndian.Uint16(h[28:]))
		name := "?"
		if from+30+nl <= to {
			if nb, err := s.readAt(from+30, int(nl)); err == nil {
				name = string(nb)
			}
		}
		s.add(modelscan.Suspicious, rampart.SeverityHigh, "zip.unlisted-member", "", from,
			"local header for %q %s is not in the central directory: only streaming readers see it", name, what)
		e := &entry{name: "<unlisted:" + name + ">", flags: binary.LittleEndian.Uint16(h[6:]), method: binary.LittleEndian.Uint16(h[8:]),
			crc: binary.LittleEndian.Uint32(h[14:]), csize: uint64(binary.LittleEndian.Uint32(h[18:])), usize: uint64(binary.LittleEndian.Uint32(h[22:])),
			localOff: from, dataOff: from + 30 + nl + xl}
		if e.flags&flagDescriptor != 0 || e.dataOff > to || e.csize > uint64(to-e.dataOff) {
			// Its extent is unknown: judge the rest of the gap as raw bytes.
			return s.scanRegion(fmt.Sprintf("<data@%d>", from), from, to-from)
		}
		s.checkPath(name, e.name, from)
		e.end = e.dataOff + int64(e.csize)
		if err := s.scanEntry(e); err != nil {
			return err
		}
		from = e.end
	}
	return nil
}

func (s *scanner) scanRegion(name string, off, n int64) error {
	fs, err := s.in.Scan(s.ctx, name, io.NewSectionReader(s.in.R, off, n), n)
	s.fs = append(s.fs, fs...)
	return err
}
