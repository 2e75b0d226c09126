// Package gguf judges GGUF model files (llama.cpp and its kin).
//
// GGUF carries no pickles, but its metadata does carry code: the
// tokenizer.chat_template* keys hold Jinja templates that model servers
// render on every request, and a template can reach Python internals
// (server-side template injection). The header is parsed completely and
// under bounds (version 2 or 3, tensor and key counts, string and array
// lengths, tensor dimensions, types, alignment and data offsets); every
// chat template is judged by the checks in jinja.go. Tensor data is never
// read.
package gguf

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"sort"
	"strings"

	"github.com/rampart-ai/rampart"
	"github.com/rampart-ai/rampart/internal/modelscan"
)

const (
	maxTensors  = 1 << 20
	maxKVs      = 1 << 20
	maxKey      = 1 << 16
	maxTemplate = 16 << 20
	maxDims     = 4
	maxNesting  = 4
)

// GGUF metadata value types.
const (
	tUint8 = iota
	tInt8
	tUint16
	tInt16
	tUint32
	tInt32
	tFloat32
	tBool
	tString
	tArray
	tUint64
	tInt64
	tFloat64
)

var fixedSize = map[uint32]int64{tUint8: 1, tInt8: 1, tUint16: 2, tInt16: 2, tUint32: 4, tInt32: 4, tFloat32: 4,
	tBool: 1, tUint64: 8, tInt64: 8, tFloat64: 8}

// ggmlTypes: bytes per block and elements per block for each tensor type
// (ggml.h); removed type numbers are absent.
var ggmlTypes = map[uint32][2]uint64{
	0: {4, 1}, 1: {2, 1}, 2: {18, 32}, 3: {20, 32}, 6: {22, 32}, 7: {24, 32}, 8: {34, 32}, 9: {36, 32},
	10: {84, 256}, 11: {110, 256}, 12: {144, 256}, 13: {176, 256}, 14: {210, 256}, 15: {292, 256},
	16: {66, 256}, 17: {74, 256}, 18: {98, 256}, 19: {50, 256}, 20: {18, 32}, 21: {110, 256}, 22: {82, 256},
	23: {136, 256}, 24: {1, 1}, 25: {2, 1}, 26: {4, 1}, 27: {8, 1}, 28: {8, 1}, 29: {56, 256}, 30: {2, 1},
	34: {54, 256}, 35: {66, 256}, 39: {17, 32},
}

type analyzer struct{}

// New returns the GGUF analyzer.
func New() modelscan.Analyzer { return analyzer{} }

func (analyzer) Name() string { return "gguf" }

func (analyzer) Match(head []byte) bool { return bytes.HasPrefix(head, []byte("GGUF")) }

// errStop ends the parse after a finding has been recorded.
var errStop = errors.New("stop")

type reader struct {
	ctx  context.Context
	in   *modelscan.Input
	br   *bufio.Reader
	pos  int64
	size int64
	fs   []modelscan.Finding
}

func (r *reader) add(v modelscan.Verdict, sev rampart.Severity, rule string, off int64, construct, format string, args ...any) {
	r.fs = append(r.fs, modelscan.Finding{Verdict: v, Severity: sev, Rule: rule, Message: fmt.Sprintf(format, args...), Callable: construct, Offset: off})
}

func (r *reader) fail(rule string, off int64, format string, args ...any) error {
	r.add(modelscan.Unscannable, rampart.SeverityMedium, rule, off, "", format, args...)
	return errStop
}

func (r *reader) read(n int64) ([]byte, error) {
	if n > r.size-r.pos {
		return nil, r.fail("gguf.truncated", r.pos, "file ends inside the header (need %d bytes at %d)", n, r.pos)
	}
	if err := r.in.Charge(n); err != nil {
		return nil, err
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r.br, b); err != nil {
		return nil, fmt.Errorf("read gguf: %w", err)
	}
	r.pos += n
	return b, nil
}

func (r *reader) skip(n int64) error {
	if n > r.size-r.pos {
		return r.fail("gguf.truncated", r.pos, "file ends inside the header (need %d bytes at %d)", n, r.pos)
	}
	if err := r.in.Charge(n); err != nil {
		return err
	}
	if _, err := r.br.Discard(int(n)); err != nil {
		return fmt.Errorf("read gguf: %w", err)
	}
	r.pos += n
	return nil
}

func (r *reader) u32() (uint32, error) {
	b, err := r.read(4)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

func (r *reader) u64() (uint64, error) {
	b, err := r.read(8)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}

// str reads a string, keeping at most keep bytes (the rest is skipped);
// keep < 0 keeps nothing.
func (r *reader) str(keep int64) (string, int64, error) {
	n, err := r.u64()
	if err != nil {
		return "", 0, err
	}
	start := r.pos
	if n > uint64(r.size-r.pos) {
		return "", start, r.fail("gguf.truncated", start-8, "string of %d bytes runs past the file", n)
	}
	if keep < 0 || int64(n) > keep {
		return "", start, r.skip(int64(n))
	}
	b, err := r.read(int64(n))
	return string(b), start, err
}

func (analyzer) Analyze(ctx context.Context, in *modelscan.Input) ([]modelscan.Finding, error) {
	r := &reader{ctx: ctx, in: in, br: bufio.NewReaderSize(io.NewSectionReader(in.R, 0, in.Size), 64<<10), size: in.Size}
	err := r.parse()
	if errors.Is(err, errStop) {
		err = nil
	}
	return r.fs, err
}

type tensorInfo struct {
	name       string
	off, size  uint64
	infoOffset int64
}

func (r *reader) parse() error {
	if _, err := r.read(4); err != nil {
		return err
	}
	version, err := r.u32()
	if err != nil {
		return err
	}
	if version != 2 && version != 3 {
		return r.fail("gguf.version", 4, "GGUF version %d is not supported (want 2 or 3)", version)
	}
	nt, err := r.u64()
	if err != nil {
		return err
	}
	nkv, err := r.u64()
	if err != nil {
		return err
	}
	// Each tensor info needs at least 8+4+8+4+8 bytes, each KV 8+4+1.
	if nt > maxTensors || nt*32 > uint64(r.size) {
		return r.fail("gguf.counts", 8, "tensor count %d is implausible for a %d-byte file", nt, r.size)
	}
	if nkv > maxKVs || nkv*13 > uint64(r.size) {
		return r.fail("gguf.counts", 16, "key count %d is implausible for a %d-byte file", nkv, r.size)
	}
	alignment := uint64(32)
	seen := map[string]bool{}
	for i := uint64(0); i < nkv; i++ {
		if err := r.ctx.Err(); err != nil {
			return err
		}
		keyOff := r.pos
		key, _, err := r.str(maxKey)
		if err != nil {
			return err
		}
		if key == "" && r.pos-keyOff > 8 {
			return r.fail("gguf.bad-key", keyOff, "key longer than %d bytes", maxKey)
		}
		if seen[key] {
			r.add(modelscan.Suspicious, rampart.SeverityMedium, "gguf.duplicate-key", keyOff, key,
				"key %q appears twice: readers disagree on its value", key)
		}
		seen[key] = true
		typ, err := r.u32()
		if err != nil {
			return err
		}
		switch {
		case strings.HasPrefix(key, "tokenizer.chat_template"):
			if typ != tString {
				r.add(modelscan.Suspicious, rampart.SeverityMedium, "gguf.template-type", keyOff, key, "%s is not a string", key)
				if err := r.value(typ, 0); err != nil {
					return err
				}
				continue
			}
			lenOff := r.pos
			tpl, start, err := r.str(maxTemplate)
			if err != nil {
				return err
			}
			if tpl == "" && r.pos-lenOff > 8 {
				r.add(modelscan.Unscannable, rampart.SeverityMedium, "gguf.template-too-large", lenOff, key,
					"%s is larger than %d bytes", key, maxTemplate)
				continue
			}
			for _, is := range judgeTemplate(tpl) {
				sev := rampart.SeverityMedium
				if is.verdict == modelscan.Unsafe {
					sev = rampart.SeverityCritical
				}
				r.add(is.verdict, sev, is.rule, start+int64(is.off), is.construct, "%s: %s", key, is.msg)
			}
		case key == "general.alignment":
			if typ != tUint32 {
				return r.fail("gguf.alignment", keyOff, "general.alignment is not a uint32")
			}
			a, err := r.u32()
			if err != nil {
				return err
			}
			if a == 0 || a&(a-1) != 0 || a > 1<<20 {
				return r.fail("gguf.alignment", keyOff, "general.alignment %d is not a power of two", a)
			}
			alignment = uint64(a)
		default:
			if err := r.value(typ, 0); err != nil {
				return err
			}
		}
	}
	var ts []tensorInfo
	for i := uint64(0); i < nt; i++ {
		if err := r.ctx.Err(); err != nil {
			return err
		}
		infoOff := r.pos
		name, _, err := r.str(maxKey)
		if err != nil {
			return err
		}
		nd, err := r.u32()
		if err != nil {
			return err
		}
		if nd == 0 || nd > maxDims {
			return r.fail("gguf.tensor-dims", infoOff, "tensor %q has %d dimensions (1..%d allowed)", name, nd, maxDims)
		}
		nelem := uint64(1)
		var ne0 uint64
		for d := uint32(0); d < nd; d++ {
			v, err := r.u64()
			if err != nil {
				return err
			}
			if d == 0 {
				ne0 = v
			}
			hi, lo := bits.Mul64(nelem, v)
			if hi != 0 || lo > 1<<62 {
				return r.fail("gguf.tensor-dims", infoOff, "tensor %q dimensions overflow", name)
			}
			nelem = lo
		}
		typ, err := r.u32()
		if err != nil {
			return err
		}
		bt, ok := ggmlTypes[typ]
		if !ok {
			return r.fail("gguf.tensor-type", infoOff, "tensor %q has unknown type %d", name, typ)
		}
		if ne0%bt[1] != 0 {
			return r.fail("gguf.tensor-dims", infoOff, "tensor %q: row of %d is not a multiple of the %d-element block", name, ne0, bt[1])
		}
		off, err := r.u64()
		if err != nil {
			return err
		}
		if off%alignment != 0 {
			return r.fail("gguf.tensor-offset", infoOff, "tensor %q offset %d is not aligned to %d", name, off, alignment)
		}
		ts = append(ts, tensorInfo{name: name, off: off, size: nelem / bt[1] * bt[0], infoOffset: infoOff})
	}
	dataStart := (uint64(r.pos) + alignment - 1) / alignment * alignment
	if nt > 0 && dataStart > uint64(r.size) {
		return r.fail("gguf.truncated", r.pos, "no tensor data section")
	}
	avail := uint64(r.size) - min(dataStart, uint64(r.size))
	sort.Slice(ts, func(i, j int) bool { return ts[i].off < ts[j].off })
	var end uint64
	for i, t := range ts {
		if t.off > avail || t.size > avail-t.off {
			r.add(modelscan.Unscannable, rampart.SeverityMedium, "gguf.out-of-file", t.infoOffset, t.name,
				"tensor %q [%d, +%d) runs past the end of the file", t.name, t.off, t.size)
			continue
		}
		if i > 0 && t.off < end {
			r.add(modelscan.Suspicious, rampart.SeverityHigh, "gguf.tensor-overlap", t.infoOffset, t.name,
				"tensor %q overlaps the previous tensor's data", t.name)
		}
		end = max(end, t.off+t.size)
	}
	return nil
}

// value skips one metadata value of type typ, bounding arrays.
func (r *reader) value(typ uint32, depth int) error {
	if n, ok := fixedSize[typ]; ok {
		return r.skip(n)
	}
	switch typ {
	case tString:
		_, _, err := r.str(-1)
		return err
	case tArray:
		if depth >= maxNesting {
			return r.fail("gguf.bad-value", r.pos, "arrays nested deeper than %d", maxNesting)
		}
		et, err := r.u32()
		if err != nil {
			return err
		}
		n, err := r.u64()
		if err != nil {
			return err
		}
		if sz, ok := fixedSize[et]; ok {
			if n > uint64(r.size-r.pos)/uint64(sz) {
				return r.fail("gguf.truncated", r.pos-8, "array of %d elements runs past the file", n)
			}
			return r.skip(int64(n) * sz)
		}
		if et != tString && et != tArray {
			return r.fail("gguf.bad-value", r.pos-12, "unknown array element type %d", et)
		}
		// Strings and arrays need at least 8 bytes each.
		if n > uint64(r.size-r.pos)/8 {
			return r.fail("gguf.truncated", r.pos-8, "array of %d elements runs past the file", n)
		}
		for i := uint64(0); i < n; i++ {
			if i%4096 == 0 {
				if err := r.ctx.Err(); err != nil {
					return err
				}
			}
			if err := r.value(et, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	return r.fail("gguf.bad-value", r.pos-4, "unknown metadata value type %d", typ)
}
