// Package pickle judges Python pickles (protocols 0–5) by emulating them.
//
// The emulator executes every opcode against a model of the unpickler's
// stack, mark stack and memo, but never builds an object: values are small
// tagged structs that keep only what decides which callables run (names,
// short strings, small tuples that carry globals, and which global produced
// a call's result). Every GLOBAL, STACK_GLOBAL, INST, OBJ, REDUCE, BUILD,
// NEWOBJ, NEWOBJ_EX and EXT1/2/4 is resolved to the callable it imports or
// invokes, and each callable is judged:
//
//   - UNSAFE when it is on the denylist (judge.go): code execution, process
//     spawning, file and network access, nested loaders, callables that
//     build callables, attribute walks through dunders or into dangerous
//     modules, after normalising module aliases (posix/nt → os, __builtin__
//     → builtins, _operator, _io, _pickle …). A call of a callable built at
//     run time (the result of another call) is UNSAFE too, and so is BUILD
//     on an imported object, which sets attributes on global state.
//   - CLEAN when it is on the built-in allowlist of constructors used by
//     PyTorch, NumPy, scikit-learn and joblib, or allowed by the team
//     policy; a policy can never allow a denylisted callable.
//   - SUSPICIOUS otherwise, and for unknown extension-registry codes.
//
// A call is reported at the opcode that makes it (so a call whose result is
// popped is still reported); a global that is imported but never called is
// reported at its import. Several pickles stacked in one stream are all
// emulated; data after them that does not parse is UNSCANNABLE, except the
// raw storage records of torch's legacy format, which are recognised by its
// magic-number pickle and validated against the storages the pickles name.
// Parse errors, truncation, lying FRAME lengths and the emulator's own
// bounds (stack, memo, marks, globals) are UNSCANNABLE findings, and every
// finding made before an error is kept. Every finding carries the byte
// offset of its opcode.
//
// Other analyzers run the emulator on a stream with [Scan] or [ScanWith].
package pickle

import (
	"bytes"
	"context"
	"io"

	"github.com/rampart-ai/rampart/internal/modelscan"
)

// New returns the pickle analyzer.
func New() modelscan.Analyzer { return analyzer{} }

type analyzer struct{}

func (analyzer) Name() string { return "pickle" }

// Match claims content whose first bytes emulate as a pickle: a PROTO 2–5
// header, or for protocols 0 and 1 an opcode prefix that parses (with
// GLOBAL names that are identifiers) for at least a few opcodes or to its
// STOP. Text files fail this within their first bytes.
func (analyzer) Match(head []byte) bool {
	if len(head) > 512 {
		head = head[:512]
	}
	if len(head) < 2 {
		return false
	}
	if head[0] == 0x80 {
		// A PROTO header is not text (0x80 cannot start UTF-8); the next
		// byte must be an opcode. Later errors are the analysis's to report.
		return head[1] >= 2 && head[1] <= 5 && len(head) > 2 && isOpcode[head[2]]
	}
	e := newEmu(nil, bytes.NewReader(head), -1, 0, nil, 1024)
	e.single = true
	e.strictNames = true
	e.reset()
	if err := e.one(); err == nil { // reached STOP
		return true
	}
	// Truncated by the head, or a parse error after a valid prefix (a
	// payload placed before a deliberate error must still be analyzed).
	// The failing opcode was counted.
	return e.stats.Opcodes-1 >= 4
}

// isOpcode marks the bytes that are opcodes in some protocol.
var isOpcode = func() (t [256]bool) {
	for _, c := range []byte("(.012FIJKLMNPQRSTUVXabcd}eghijl]opqrst)uGBC") {
		t[c] = true
	}
	for c := 0x80; c <= 0x98; c++ {
		t[c] = true
	}
	return t
}()

// Analyze emulates every pickle in the input. An uncompressed joblib file
// is a pickle by content, but joblib.load reads array bytes from the file
// after each NumpyArrayWrapper, where pickle.load would read opcodes. The
// file may be loaded either way, so when the plain emulation meets such a
// wrapper the file is emulated again in joblib mode, and the verdict joins
// both readings: the joblib reading's findings, plus every callable the
// plain reading reaches before it fails on the array bytes (that failure
// itself only stops pickle.load, after the callables ran).
func (analyzer) Analyze(ctx context.Context, in *modelscan.Input) ([]modelscan.Finding, error) {
	opt := Options{Size: in.Size, Policy: in.Policy(), Charge: in.Charge}
	plain, st, err := ScanWith(ctx, io.NewSectionReader(in.R, 0, in.Size), opt)
	if err != nil || !st.JoblibWrapper {
		return plain, err
	}
	opt.Joblib = true
	fs, _, err := ScanWith(ctx, io.NewSectionReader(in.R, 0, in.Size), opt)
	if err != nil {
		return fs, err
	}
	type key struct {
		rule, callable string
		off            int64
	}
	seen := map[key]bool{}
	for _, f := range fs {
		seen[key{f.Rule, f.Callable, f.Offset}] = true
	}
	for _, f := range plain {
		if f.Verdict != modelscan.Unscannable && !seen[key{f.Rule, f.Callable, f.Offset}] {
			fs = append(fs, f)
		}
	}
	return fs, nil
}

// Options control [ScanWith].
type Options struct {
	// Offset is added to every finding's offset: the position of the
	// stream within the file or member being reported.
	Offset int64
	// Size is the stream's length when known (lets FRAME and length
	// checks fail early and large payloads be skipped by seeking when r is
	// an io.Seeker); 0 or less means unknown.
	Size int64
	// Policy extends the allowlist; nil means the built-in list only.
	Policy *modelscan.Policy
	// Single stops after the first pickle, for formats that embed one
	// pickle followed by other data; Stats.End tells where it ended.
	Single bool
	// Charge, when set, is called with every count of bytes read; an
	// error from it (modelscan.ErrBudget) stops the scan and is returned.
	Charge func(int64) error
	// Joblib reads the stream as joblib.load does: after the BUILD of
	// each joblib NumpyArrayWrapper come the array's raw bytes (skipped,
	// after checking their length against the wrapper's shape and dtype)
	// or, for object arrays, a nested pickle (emulated). The joblib
	// analyzer sets it for decompressed joblib streams; a plain pickle must
	// not be read this way, since pickle.load would execute those bytes.
	Joblib bool
}

// Scan emulates every pickle stacked in r, reporting findings with offset
// added to their offsets, and judges callables with pol (may be nil).
// Findings describe the content, including parse failures; an error means
// the stream could not be read or ctx ended. Analyzers of containers
// (zip members, joblib, .npy object arrays) use it on decompressed streams.
func Scan(ctx context.Context, r io.Reader, offset int64, pol *modelscan.Policy) ([]modelscan.Finding, Stats, error) {
	return ScanWith(ctx, r, Options{Offset: offset, Policy: pol})
}

// ScanWith is [Scan] with options.
func ScanWith(ctx context.Context, r io.Reader, opt Options) ([]modelscan.Finding, Stats, error) {
	size := opt.Size
	if size <= 0 {
		size = -1
	}
	e := newEmu(ctx, r, size, opt.Offset, opt.Policy, bufSize)
	e.single = opt.Single
	e.joblib = opt.Joblib
	e.in.charge = opt.Charge
	err := e.run()
	return e.findings, e.stats, err
}
