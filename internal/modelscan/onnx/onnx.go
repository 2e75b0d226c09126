// Package onnx judges ONNX models (protobuf ModelProto).
//
// An ONNX file runs no Python, but it can make the runtime read files and
// run native code: tensors with external data name a file the runtime
// opens relative to the model (a location with "..", an absolute path, or
// a symlink or hard link next to the model reads anything on the host),
// and nodes in custom operator domains need a custom-op library loaded
// into the runtime. Both are reported: escaping locations UNSAFE, custom
// domains SUSPICIOUS with the domain named.
//
// The protobuf is walked with our own reader straight from the
// io.ReaderAt: submessages are visited by offset and tensor payloads are
// skipped, never loaded, so multi-GB models cost a few header reads.
// Every graph is visited: the main graph, subgraphs in node attributes
// (If, Loop, Scan), training graphs and model-local functions.
package onnx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/rampart-ai/rampart"
	"github.com/rampart-ai/rampart/internal/modelscan"
)

// StandardDomains are the operator domains every runtime ships.
var StandardDomains = map[string]bool{
	"": true, "ai.onnx": true, "ai.onnx.ml": true, "ai.onnx.training": true,
	"ai.onnx.preview.training": true, "com.microsoft": true,
}

const (
	maxDepth  = 64
	maxString = 1 << 16
)

// Wire types.
const (
	wVarint = 0
	wI64    = 1
	wLen    = 2
	wI32    = 5
)

type analyzer struct{}

// New returns the ONNX analyzer.
func New() modelscan.Analyzer { return analyzer{} }

func (analyzer) Name() string { return "onnx" }

// modelFields are ModelProto's field numbers and wire types.
var modelFields = map[uint64]int{1: wVarint, 2: wLen, 3: wLen, 4: wLen, 5: wVarint, 6: wLen, 7: wLen, 8: wLen,
	14: wLen, 20: wLen, 25: wLen}

// Match: ONNX has no magic, so the head must read as a ModelProto that
// starts with a plausible ir_version and continues with ModelProto fields.
func (analyzer) Match(head []byte) bool {
	if len(head) < 4 || head[0] != 0x08 || head[1] == 0 || head[1] > 64 {
		return false
	}
	i, fields := 2, 1
	for i < len(head) {
		tag, n := uvarint(head[i:])
		if n <= 0 {
			break
		}
		wt, ok := modelFields[tag>>3]
		if !ok || int(tag&7) != wt {
			return false
		}
		i += n
		fields++
		if wt == wVarint {
			_, n = uvarint(head[i:])
			if n <= 0 {
				break
			}
			i += n
		} else {
			l, n := uvarint(head[i:])
			if n <= 0 {
				break
			}
			i += n
			if l > uint64(len(head)-i) {
				break
			}
			i += int(l)
		}
	}
	return fields >= 2 || i == len(head)
}

// uvarint decodes a varint; n is 0 if truncated, -1 if over 10 bytes.
func uvarint(b []byte) (uint64, int) {
	var v uint64
	for i := 0; i < len(b) && i < 10; i++ {
		v |= uint64(b[i]&0x7f) << (7 * i)
		if b[i] < 0x80 {
			if i == 9 && b[i] > 1 {
				return 0, -1
			}
			return v, i + 1
		}
	}
	if len(b) >= 10 {
		return 0, -1
	}
	return 0, 0
}

var errStop = errors.New("stop")

type walker struct {
	ctx     context.Context
	in      *modelscan.Input
	size    int64
	win     []byte
	winOff  int64
	fs      []modelscan.Finding
	nfields int
	nodes   []nodeRef
	funcs   map[string]bool // domain + "\x00" + name of model-local functions
	onDisk  string          // model directory when scanning a real file
	checked map[string]bool
}

type nodeRef struct {
	domain, op string
	off        int64
}

func (w *walker) add(v modelscan.Verdict, sev rampart.Severity, rule string, off int64, construct, format string, args ...any) {
	w.fs = append(w.fs, modelscan.Finding{Verdict: v, Severity: sev, Rule: rule, Message: fmt.Sprintf(format, args...), Callable: construct, Offset: off})
}

func (w *walker) corrupt(off int64, format string, args ...any) error {
	w.add(modelscan.Unscannable, rampart.SeverityMedium, "onnx.malformed", off, "", format, args...)
	return errStop
}

// window returns up to n bytes at off from a cached 64 KiB window.
func (w *walker) window(off int64, n int) ([]byte, error) {
	if off >= w.winOff && off+int64(n) <= w.winOff+int64(len(w.win)) {
		return w.win[off-w.winOff : off-w.winOff+int64(n)], nil
	}
	size := max(n, 64<<10)
	if rest := w.size - off; int64(size) > rest {
		size = int(rest)
	}
	if size < 0 {
		size = 0
	}
	if cap(w.win) < size {
		w.win = make([]byte, size)
	}
	w.win = w.win[:size]
	k, err := w.in.R.ReadAt(w.win, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read onnx: %w", err)
	}
	w.win, w.winOff = w.win[:k], off
	if err := w.in.Charge(int64(k)); err != nil {
		return nil, err
	}
	return w.win[:min(n, k)], nil
}

func (w *walker) varint(off, end int64) (uint64, int64, error) {
	b, err := w.window(off, int(min(10, end-off)))
	if err != nil {
		return 0, 0, err
	}
	v, n := uvarint(b)
	if n <= 0 {
		return 0, 0, w.corrupt(off, "bad varint")
	}
	return v, int64(n), nil
}

type field struct {
	num    uint64
	wt     int
	v      uint64 // varint value
	off    int64  // start of the tag
	data   int64  // length-delimited payload
	length int64
}

// fields calls fn for each field in [start, end).
func (w *walker) fields(start, end int64, fn func(f field) error) error {
	pos := start
	for pos < end {
		if w.nfields++; w.nfields%4096 == 0 {
			if err := w.ctx.Err(); err != nil {
				return err
			}
		}
		tag, n, err := w.varint(pos, end)
		if err != nil {
			return err
		}
		f := field{num: tag >> 3, wt: int(tag & 7), off: pos}
		if f.num == 0 || f.num > 1<<29 {
			return w.corrupt(pos, "bad field number %d", f.num)
		}
		pos += n
		switch f.wt {
		case wVarint:
			v, n, err := w.varint(pos, end)
			if err != nil {
				return err
			}
			f.v = v
			pos += n
		case wI64:
			pos += 8
		case wI32:
			pos += 4
		case wLen:
			l, n, err := w.varint(pos, end)
			if err != nil {
				return err
			}
			pos += n
			if l > uint64(end-pos) {
				return w.corrupt(f.off, "field %d of %d bytes runs past its message", f.num, l)
			}
			f.data, f.length = pos, int64(l)
			pos += int64(l)
		default:
			return w.corrupt(f.off, "unsupported wire type %d", f.wt)
		}
		if pos > end {
			return w.corrupt(f.off, "field %d runs past its message", f.num)
		}
		if err := fn(f); err != nil {
			return err
		}
	}
	return nil
}

func (w *walker) str(f field) (string, error) {
	if f.wt != wLen {
		return "", w.corrupt(f.off, "field %d should be a string", f.num)
	}
	if f.length > maxString {
		return "", w.corrupt(f.off, "string of %d bytes", f.length)
	}
	b, err := w.window(f.data, int(f.length))
	return string(b), err
}

func (w *walker) sub(f field, depth int, fn func(start, end int64, depth int) error) error {
	if f.wt != wLen {
		return w.corrupt(f.off, "field %d should be a message", f.num)
	}
	if depth >= maxDepth {
		return w.corrupt(f.off, "messages nested deeper than %d", maxDepth)
	}
	return fn(f.data, f.data+f.length, depth+1)
}

func (analyzer) Analyze(ctx context.Context, in *modelscan.Input) ([]modelscan.Finding, error) {
	w := &walker{ctx: ctx, in: in, size: in.Size, funcs: map[string]bool{}, checked: map[string]bool{}}
	if in.Member == "" {
		if st, err := os.Stat(in.Name); err == nil && st.Mode().IsRegular() {
			w.onDisk = filepath.Dir(in.Name)
		}
	}
	err := w.model(0, in.Size, 0)
	if errors.Is(err, errStop) {
		err = nil
	}
	if err != nil {
		return w.fs, err
	}
	w.judgeDomains()
	return w.fs, nil
}

func (w *walker) model(start, end int64, depth int) error {
	return w.fields(start, end, func(f field) error {
		switch f.num {
		case 7:
			return w.sub(f, depth, w.graph)
		case 20: // TrainingInfoProto: initialization=1, algorithm=2
			return w.sub(f, depth, func(s, e int64, d int) error {
				return w.fields(s, e, func(g field) error {
					if g.num == 1 || g.num == 2 {
						return w.sub(g, d, w.graph)
					}
					return nil
				})
			})
		case 25:
			return w.sub(f, depth, w.function)
		}
		return nil
	})
}

func (w *walker) graph(start, end int64, depth int) error {
	return w.fields(start, end, func(f field) error {
		switch f.num {
		case 1:
			return w.sub(f, depth, w.node)
		case 5:
			return w.sub(f, depth, w.tensor)
		case 15:
			return w.sub(f, depth, w.sparse)
		}
		return nil
	})
}

func (w *walker) function(start, end int64, depth int) error {
	var name, domain string
	err := w.fields(start, end, func(f field) error {
		var err error
		switch f.num {
		case 1:
			name, err = w.str(f)
		case 10:
			domain, err = w.str(f)
		case 7:
			err = w.sub(f, depth, w.node)
		}
		return err
	})
	w.funcs[domain+"\x00"+name] = true
	return err
}

func (w *walker) node(start, end int64, depth int) error {
	var domain, op string
	err := w.fields(start, end, func(f field) error {
		var err error
		switch f.num {
		case 4:
			op, err = w.str(f)
		case 7:
			domain, err = w.str(f)
		case 5:
			err = w.sub(f, depth, w.attribute)
		}
		return err
	})
	w.nodes = append(w.nodes, nodeRef{domain: domain, op: op, off: start})
	return err
}

func (w *walker) attribute(start, end int64, depth int) error {
	return w.fields(start, end, func(f field) error {
		switch f.num {
		case 5, 10:
			return w.sub(f, depth, w.tensor)
		case 6, 11:
			return w.sub(f, depth, w.graph)
		case 22, 23:
			return w.sub(f, depth, w.sparse)
		}
		return nil
	})
}

func (w *walker) sparse(start, end int64, depth int) error {
	return w.fields(start, end, func(f field) error {
		if f.num == 1 || f.num == 2 {
			return w.sub(f, depth, w.tensor)
		}
		return nil
	})
}

func (w *walker) tensor(start, end int64, depth int) error {
	var name, location string
	external, hasLoc := false, false
	err := w.fields(start, end, func(f field) error {
		switch f.num {
		case 8:
			var err error
			name, err = w.str(f)
			return err
		case 14:
			external = f.v == 1
		case 13:
			external = true
			var key, value string
			err := w.sub(f, depth, func(s, e int64, d int) error {
				return w.fields(s, e, func(g field) error {
					var err error
					switch g.num {
					case 1:
						key, err = w.str(g)
					case 2:
						value, err = w.str(g)
					}
					return err
				})
			})
			if err != nil {
				return err
			}
			if key == "location" {
				location, hasLoc = value, true
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if external {
		w.external(name, location, hasLoc, start)
	}
	return nil
}

func (w *walker) judgeDomains() {
	type agg struct {
		off int64
		ops map[string]bool
	}
	custom := map[string]*agg{}
	for _, n := range w.nodes {
		if StandardDomains[n.domain] || w.funcs[n.domain+"\x00"+n.op] {
			continue
		}
		a := custom[n.domain]
		if a == nil {
			a = &agg{off: n.off, ops: map[string]bool{}}
			custom[n.domain] = a
		}
		a.ops[n.op] = true
	}
	domains := make([]string, 0, len(custom))
	for d := range custom {
		domains = append(domains, d)
	}
	sort.Strings(domains)
	for _, d := range domains {
		var ops []string
		for op := range custom[d].ops {
			ops = append(ops, op)
		}
		sort.Strings(ops)
		if len(ops) > 8 {
			ops = append(ops[:8], "…")
		}
		w.add(modelscan.Suspicious, rampart.SeverityMedium, "onnx.custom-domain", custom[d].off, d,
			"operators %s in custom domain %q need a custom-op library loaded into the runtime", strings.Join(ops, ", "), d)
	}
}

// escapes says why an external-data location leaves the model directory.
func escapes(p string) string {
	switch {
	case strings.IndexByte(p, 0) >= 0:
		return "a NUL byte"
	case strings.HasPrefix(p, "/"):
		return "an absolute path"
	case strings.Contains(p, "\\"):
		return "a backslash"
	case len(p) >= 2 && p[1] == ':':
		return "a drive letter"
	case strings.Contains(p, "://"):
		return "a URL"
	}
	for _, c := range strings.Split(p, "/") {
		if c == ".." {
			return "a '..' component"
		}
	}
	return ""
}

func (w *walker) external(name, location string, hasLoc bool, off int64) {
	if !hasLoc || location == "" {
		w.add(modelscan.Unscannable, rampart.SeverityMedium, "onnx.external-data", off, name,
			"tensor %q has external data without a location", name)
		return
	}
	if why := escapes(location); why != "" {
		w.add(modelscan.Unsafe, rampart.SeverityHigh, "onnx.external-data-escape", off, location,
			"tensor %q reads external data from %q (%s): outside the model directory", name, location, why)
		return
	}
	if w.onDisk == "" || w.checked[location] {
		return
	}
	w.checked[location] = true
	v, rule, why := checkOnDisk(w.onDisk, location)
	if why != "" {
		w.add(v, rampart.SeverityHigh, rule, off, location, "tensor %q reads external data from %q: %s", name, location, why)
	}
}

// checkOnDisk resolves location next to the model: symlinks that lead
// outside the directory, hard links (another name for any file on the
// same file system) and special files are reported.
func checkOnDisk(dir, location string) (modelscan.Verdict, string, string) {
	target := filepath.Join(dir, filepath.FromSlash(location))
	st, err := os.Lstat(target)
	if err != nil {
		return modelscan.Suspicious, "onnx.external-data-missing", "the file is not next to the model, so it could not be checked"
	}
	realDir, err1 := filepath.EvalSymlinks(dir)
	real, err2 := filepath.EvalSymlinks(target)
	if err1 != nil || err2 != nil {
		return modelscan.Unsafe, "onnx.external-data-symlink", "the path does not resolve (dangling or looping symlink)"
	}
	if rel, err := filepath.Rel(realDir, real); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return modelscan.Unsafe, "onnx.external-data-symlink", fmt.Sprintf("a symlink resolves it to %s, outside the model directory", real)
	}
	if st.Mode()&os.ModeSymlink != 0 {
		if st, err = os.Stat(target); err != nil {
			return modelscan.Unsafe, "onnx.external-data-symlink", "the symlink cannot be followed"
		}
	}
	if !st.Mode().IsRegular() {
		return modelscan.Unsafe, "onnx.external-data-special", fmt.Sprintf("it is not a regular file (%s)", st.Mode().Type())
	}
	if n := linkCount(st); n > 1 {
		return modelscan.Unsafe, "onnx.external-data-hardlink",
			fmt.Sprintf("it has %d hard links: it may be another name for a file outside the model directory", n)
	}
	return modelscan.Clean, "", ""
}
