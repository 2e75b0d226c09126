// Package safetensors judges safetensors files and the index files of
// sharded checkpoints.
//
// safetensors holds no code, so what can go wrong is the header: a
// length that asks for gigabytes, JSON that two parsers read differently
// (duplicate keys, invalid UTF-8), and offsets that point outside the file,
// disagree with dtype × shape, overlap (two tensors aliasing one buffer) or
// leave gaps where unrelated bytes hide. The header is parsed strictly and
// every tensor is checked; tensor data itself is never read. Sharded
// checkpoints are judged file by file; the index (model.safetensors.index.json)
// is checked so its weight_map cannot send a loader outside the model
// directory.
package safetensors

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/rampart-ai/rampart"
	"github.com/rampart-ai/rampart/internal/modelscan"
)

// MaxHeader is the largest header accepted, as in the reference loader.
const MaxHeader = 100 << 20

// dtypeBits gives each dtype's width in bits.
var dtypeBits = map[string]uint64{
	"BOOL": 8, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8, "F8_E8M0": 8,
	"I16": 16, "U16": 16, "F16": 16, "BF16": 16,
	"I32": 32, "U32": 32, "F32": 32,
	"I64": 64, "U64": 64, "F64": 64, "C64": 64,
	"F4": 4, "F6_E2M3": 6, "F6_E3M2": 6,
}

type analyzer struct{}

// New returns the safetensors analyzer.
func New() modelscan.Analyzer { return analyzer{} }

func (analyzer) Name() string { return "safetensors" }

// Match: a little-endian header length, then a JSON object.
func (analyzer) Match(head []byte) bool {
	if len(head) < 10 || head[8] != '{' {
		return false
	}
	n := binary.LittleEndian.Uint64(head)
	if n < 2 {
		return false
	}
	switch head[9] {
	case '"', '}', ' ', '\n', '\r', '\t':
		return true
	}
	return false
}

type finder struct{ fs []modelscan.Finding }

func (f *finder) add(v modelscan.Verdict, sev rampart.Severity, rule string, off int64, format string, args ...any) {
	f.fs = append(f.fs, modelscan.Finding{Verdict: v, Severity: sev, Rule: rule, Message: fmt.Sprintf(format, args...), Offset: off})
}

type tensor struct {
	name       string
	begin, end uint64
}

func (analyzer) Analyze(ctx context.Context, in *modelscan.Input) ([]modelscan.Finding, error) {
	var f finder
	var pre [8]byte
	if in.Size < 8 {
		f.add(modelscan.Unscannable, rampart.SeverityMedium, "safetensors.truncated", 0, "file too short for a header length")
		return f.fs, nil
	}
	if _, err := in.R.ReadAt(pre[:], 0); err != nil {
		return nil, fmt.Errorf("read safetensors header: %w", err)
	}
	n := binary.LittleEndian.Uint64(pre[:])
	if n > MaxHeader || n > uint64(in.Size-8) {
		f.add(modelscan.Unscannable, rampart.SeverityMedium, "safetensors.header-size", 0,
			"header length %d exceeds the file (%d bytes) or the %d-byte limit", n, in.Size, MaxHeader)
		return f.fs, nil
	}
	if err := in.Charge(int64(8 + n)); err != nil {
		return nil, err
	}
	hb := make([]byte, n)
	if _, err := in.R.ReadAt(hb, 8); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read safetensors header: %w", err)
	}
	v, err := StrictJSON(hb)
	if err != nil {
		f.add(modelscan.Unscannable, rampart.SeverityMedium, "safetensors.bad-header", 8, "header is not strict JSON: %v", err)
		return f.fs, nil
	}
	top, ok := v.(map[string]any)
	if !ok {
		f.add(modelscan.Unscannable, rampart.SeverityMedium, "safetensors.bad-header", 8, "header is not a JSON object")
		return f.fs, nil
	}
	dataLen := uint64(in.Size) - 8 - n
	var ts []tensor
	for name, raw := range top {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if name == "__metadata__" {
			m, ok := raw.(map[string]any)
			if !ok {
				f.add(modelscan.Unscannable, rampart.SeverityMedium, "safetensors.bad-metadata", 8, "__metadata__ is not an object")
				continue
			}
			for k, mv := range m {
				if _, ok := mv.(string); !ok {
					f.add(modelscan.Unscannable, rampart.SeverityMedium, "safetensors.bad-metadata", 8, "__metadata__[%q] is not a string", k)
				}
			}
			continue
		}
		t, why := parseTensor(name, raw)
		if why != "" {
			f.add(modelscan.Unscannable, rampart.SeverityMedium, "safetensors.bad-tensor", 8, "tensor %q: %s", name, why)
			continue
		}
		if t.end > dataLen {
			f.add(modelscan.Unscannable, rampart.SeverityHigh, "safetensors.out-of-file", int64(8+n),
				"tensor %q data_offsets [%d, %d) run past the %d-byte data section", name, t.begin, t.end, dataLen)
			continue
		}
		ts = append(ts, t)
	}
	sort.Slice(ts, func(i, j int) bool {
		if ts[i].begin != ts[j].begin {
			return ts[i].begin < ts[j].begin
		}
		return ts[i].name < ts[j].name
	})
	base := int64(8 + n)
	pos := uint64(0)
	var prev string
	for _, t := range ts {
		switch {
		case t.begin < pos:
			f.add(modelscan.Suspicious, rampart.SeverityHigh, "safetensors.overlap", base+int64(t.begin),
				"tensor %q [%d, %d) overlaps tensor %q: two tensors alias the same bytes", t.name, t.begin, t.end, prev)
		case t.begin > pos:
			f.add(modelscan.Suspicious, rampart.SeverityMedium, "safetensors.gap", base+int64(pos),
				"%d bytes before tensor %q belong to no tensor", t.begin-pos, t.name)
		}
		if t.end > pos {
			pos, prev = t.end, t.name
		}
	}
	if pos < dataLen {
		f.add(modelscan.Suspicious, rampart.SeverityMedium, "safetensors.trailing-data", base+int64(pos),
			"%d bytes after the last tensor belong to no tensor", dataLen-pos)
	}
	return f.fs, nil
}

// parseTensor checks {"dtype", "shape", "data_offsets"}; why is empty
// when the entry is consistent.
func parseTensor(name string, raw any) (tensor, string) {
	t := tensor{name: name}
	m, ok := raw.(map[string]any)
	if !ok {
		return t, "entry is not an object"
	}
	for k := range m {
		if k != "dtype" && k != "shape" && k != "data_offsets" {
			return t, fmt.Sprintf("unexpected field %q", k)
		}
	}
	dt, _ := m["dtype"].(string)
	width, ok := dtypeBits[dt]
	if !ok {
		return t, fmt.Sprintf("unknown dtype %q", clip(dt))
	}
	shape, ok := m["shape"].([]any)
	if !ok {
		return t, "shape is not an array"
	}
	nelem := uint64(1)
	for _, d := range shape {
		u, ok := uintOf(d)
		if !ok {
			return t, "shape holds a value that is not a non-negative integer"
		}
		hi, lo := bits.Mul64(nelem, u)
		if hi != 0 {
			return t, "shape overflows"
		}
		nelem = lo
	}
	offs, ok := m["data_offsets"].([]any)
	if !ok || len(offs) != 2 {
		return t, "data_offsets is not a pair"
	}
	b, ok1 := uintOf(offs[0])
	e, ok2 := uintOf(offs[1])
	if !ok1 || !ok2 || e < b {
		return t, "data_offsets are not ordered non-negative integers"
	}
	t.begin, t.end = b, e
	hi, nbits := bits.Mul64(nelem, width)
	if hi != 0 || nbits%8 != 0 {
		return t, fmt.Sprintf("%d elements of %s do not fill whole bytes", nelem, dt)
	}
	if nbits/8 != e-b {
		return t, fmt.Sprintf("dtype %s × shape %v needs %d bytes, data_offsets give %d", dt, shape, nbits/8, e-b)
	}
	return t, ""
}

func uintOf(v any) (uint64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	s := string(n)
	if strings.ContainsAny(s, ".eE-+") {
		return 0, false
	}
	var u uint64
	for _, c := range s {
		if u > (math.MaxUint64-9)/10 {
			return 0, false
		}
		u = u*10 + uint64(c-'0')
	}
	return u, true
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// StrictJSON decodes one JSON value, rejecting what lets two parsers
// disagree: invalid UTF-8, duplicate object keys, trailing content other
// than whitespace. Numbers stay json.Number.
func StrictJSON(b []byte) (any, error) {
	if !utf8.Valid(b) {
		return nil, errors.New("invalid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	v, err := value(dec, 0)
	if err != nil {
		return nil, err
	}
	if rest := bytes.TrimSpace(b[dec.InputOffset():]); len(rest) > 0 {
		return nil, fmt.Errorf("content after the JSON value at %d", dec.InputOffset())
	}
	return v, nil
}

func value(dec *json.Decoder, depth int) (any, error) {
	if depth > 64 {
		return nil, errors.New("nested too deep")
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch tok {
	case json.Delim('{'):
		m := map[string]any{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return nil, err
			}
			k, _ := kt.(string)
			if _, dup := m[k]; dup {
				return nil, fmt.Errorf("duplicate key %q", clip(k))
			}
			v, err := value(dec, depth+1)
			if err != nil {
				return nil, err
			}
			m[k] = v
		}
		if _, err := dec.Token(); err != nil {
			return nil, err
		}
		return m, nil
	case json.Delim('['):
		var a []any
		for dec.More() {
			v, err := value(dec, depth+1)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
		if _, err := dec.Token(); err != nil {
			return nil, err
		}
		if a == nil {
			a = []any{}
		}
		return a, nil
	}
	return tok, nil
}
