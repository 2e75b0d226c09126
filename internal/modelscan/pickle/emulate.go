package pickle

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/rampart-ai/rampart"
	"github.com/rampart-ai/rampart/internal/modelscan"
)

// Bounds on the emulator's state. Each is far above what a real pickle
// needs (pickle batches APPENDS/SETITEMS by 1000, memo indexes are
// sequential) and keeps a hostile file to about a hundred MB of state.
const (
	maxStack      = 1 << 23 // values on the stack, all mark frames together
	maxMarks      = 1 << 20
	maxMemo       = 1 << 23 // memo entries
	maxGlobals    = 1 << 16 // distinct globals per pickle
	maxSparseMemo = 1 << 20 // memo entries far from the dense range
	maxStrArena   = 64 << 20
	maxItemArena  = 1 << 20
	maxTrackedStr = 256 // longest string kept (module and qualnames are short)
	maxLine       = 4096
	maxTupleTrack = 8
	maxFindings   = 1000
	sparseMemo    = 1 << 16 // a memo index this far beyond the memo's size is forged
)

// kind tags an emulated value. Values are never built: the emulator keeps
// only what decides which callables run.
type kind uint8

const (
	kEmpty  kind = iota // an absent memo slot
	kData               // numbers, bytes, containers: inert data
	kStr                // a str whose text is kept: a, b index the string arena
	kStrX               // a str whose text was not kept (too long, arena full)
	kGlobal             // a resolved global: a indexes the globals table
	kCall               // the result of calling globals[a]
	kTuple              // a tuple whose items are kept: a, b index the item arena
	kPers               // the result of the loader's persistent_load
	kMagic              // torch's legacy magic number
	kInt                // joblib mode: a small int, a = low, b = high 32 bits
	kDict               // joblib mode: a dict; a, b index its key/value pairs in the item arena
)

type value struct {
	k    kind
	a, b uint32
}

type global struct {
	name     string // module.qualname as written in the pickle
	j        judgement
	off      int64
	reported bool // a finding names this global already
	runtime  bool // a call of something it returned was reported
}

// parseError stops the emulation of a stream at an offset.
type parseError struct {
	off  int64
	rule string
	msg  string
}

func (e *parseError) Error() string { return fmt.Sprintf("offset %d: %s", e.off, e.msg) }

// Stats describe one emulation.
type Stats struct {
	// Opcodes is the number of opcodes executed.
	Opcodes int64
	// Pickles is the number of complete pickles (STOP reached).
	Pickles int
	// End is the offset just after the last STOP (or of the last storage
	// record of a legacy torch file).
	End int64
	// MaxStack is the largest number of values on the stack.
	MaxStack int
	// MaxMemo is the largest memo.
	MaxMemo int
	// LegacyTorch is set when the stream is torch's legacy format: five
	// pickles followed by raw storage records, validated against the
	// storages the pickles name.
	LegacyTorch bool
	// JoblibWrapper is set when a pickle references joblib's
	// NumpyArrayWrapper (the stream is likely a joblib file).
	JoblibWrapper bool
	// JoblibArrays counts the arrays consumed in joblib mode.
	JoblibArrays int
}

type emu struct {
	in       input
	ctx      context.Context
	pol      *modelscan.Policy
	offset   int64 // added to every finding's offset
	single   bool
	findings []modelscan.Finding
	stats    Stats

	stack   []value
	marks   []int
	memo    []value
	memoMap map[uint64]value
	memoN   int
	strs    []byte
	items   []value
	globals []global
	gindex  map[string]int32
	sgCache map[uint64]int32
	scratch []byte
	modBuf  []byte
	// joblib: the stream is read by joblib.load, whose unpickler reads
	// array data from the file right after each NumpyArrayWrapper's BUILD.
	joblib bool
	depth  int
	// strictNames rejects GLOBAL lines that are not dotted identifiers;
	// Match uses it so that text files are not taken for pickles.
	strictNames bool
	sparse      bool
	frameEnd    int64
	frameOff    int64

	pickleIdx    int
	legacy       bool
	legacyBad    bool
	legacyKeys   map[string]int64
	firstOpcode  bool
	truncatedMsg string
}

func newEmu(ctx context.Context, r io.Reader, size, offset int64, pol *modelscan.Policy, buf int) *emu {
	e := &emu{ctx: ctx, pol: pol, offset: offset}
	e.in = input{r: r, size: size, buf: make([]byte, buf)}
	if s, ok := r.(io.Seeker); ok && size >= 0 {
		e.in.seeker = s
	}
	e.stack = make([]value, 0, 1024)
	e.gindex = map[string]int32{}
	e.sgCache = map[uint64]int32{}
	e.frameEnd = -1
	return e
}

func (e *emu) add(v modelscan.Verdict, rule, msg, callable string, off int64) {
	if len(e.findings) >= maxFindings {
		return
	}
	sev := rampart.SeverityMedium
	if v == modelscan.Unsafe {
		sev = rampart.SeverityCritical
	}
	e.findings = append(e.findings, modelscan.Finding{Verdict: v, Severity: sev, Rule: rule, Message: msg,
		Callable: callable, Offset: off + e.offset})
}

func (e *emu) fail(off int64, format string, args ...any) error {
	return &parseError{off: off, rule: "pickle.parse-error", msg: fmt.Sprintf(format, args...)}
}

func (e *emu) limit(off int64, what string) error {
	return &parseError{off: off, rule: "pickle.limit", msg: "pickle exceeds the emulator's bound on " + what}
}

// run emulates every pickle in the stream.
func (e *emu) run() error {
	if e.in.atEOF() {
		if e.in.ioErr != nil {
			return e.in.ioErr
		}
		e.add(modelscan.Unscannable, "pickle.truncated", "empty pickle stream", "", 0)
		return nil
	}
	for {
		start := e.in.off()
		e.reset()
		e.firstOpcode = true
		err := e.one()
		e.flushGlobals()
		if err != nil {
			var pe *parseError
			if errors.As(err, &pe) {
				if e.pickleIdx > 0 && pe.rule == "pickle.parse-error" && e.firstOpcode {
					e.add(modelscan.Unscannable, "pickle.trailing-data",
						fmt.Sprintf("data after pickle at offset %d is not a pickle: %s", start+e.offset, pe.msg), "", pe.off)
				} else {
					e.add(modelscan.Unscannable, pe.rule, pe.msg, "", pe.off)
				}
				break
			}
			if errors.Is(err, errTruncated) {
				e.add(modelscan.Unscannable, "pickle.truncated",
					fmt.Sprintf("pickle starting at offset %d ends before its STOP opcode", start+e.offset), "", e.in.off())
				break
			}
			return err
		}
		e.pickleIdx++
		e.stats.Pickles++
		e.stats.End = e.in.off() + e.offset
		if e.single {
			break
		}
		if e.legacy && e.pickleIdx == 5 {
			if err := e.legacyTail(); err != nil {
				return err
			}
			break
		}
		if e.in.atEOF() {
			break
		}
	}
	if e.in.ioErr != nil {
		return e.in.ioErr
	}
	if e.legacy && !e.single && e.pickleIdx < 5 {
		e.add(modelscan.Unscannable, "pickle.legacy-storage",
			fmt.Sprintf("legacy torch file ends after %d of its 5 pickles", e.pickleIdx), "", e.in.off())
	}
	if e.frameEnd >= 0 && e.in.size < 0 && e.in.atEOF() && e.frameEnd > e.in.off() {
		e.add(modelscan.Unscannable, "pickle.frame",
			fmt.Sprintf("FRAME claims data up to offset %d, beyond the end of data at %d", e.frameEnd+e.offset, e.in.off()+e.offset),
			"", e.frameOff)
	}
	return nil
}

// reset clears the per-pickle state; every pickle.load starts afresh.
func (e *emu) reset() {
	e.stack = e.stack[:0]
	e.marks = e.marks[:0]
	clear(e.memo)
	e.memo = e.memo[:0]
	e.memoMap = nil
	e.memoN = 0
	e.strs = e.strs[:0]
	e.items = e.items[:0]
	e.globals = e.globals[:0]
	// A cleared map keeps its buckets, and clearing costs their number:
	// replace big maps so many tiny stacked pickles stay cheap.
	if len(e.gindex) > 256 {
		e.gindex = map[string]int32{}
	} else if len(e.gindex) > 0 {
		clear(e.gindex)
	}
	if len(e.sgCache) > 256 {
		e.sgCache = map[uint64]int32{}
	} else if len(e.sgCache) > 0 {
		clear(e.sgCache)
	}
}

// flushGlobals reports globals that were imported but not called: the
// import itself runs module code, and a stored callable may be called by
// the code that uses the loaded object.
func (e *emu) flushGlobals() {
	for i := range e.globals {
		g := &e.globals[i]
		if g.j.verdict == modelscan.Clean || g.reported {
			continue
		}
		g.reported = true
		e.add(g.j.verdict, ruleFor(g.j.verdict), fmt.Sprintf("pickle references %s: %s", g.name, g.j.reason), g.name, g.off)
	}
}

func ruleFor(v modelscan.Verdict) string {
	if v == modelscan.Unsafe {
		return "pickle.unsafe-callable"
	}
	return "pickle.suspicious-callable"
}

func (e *emu) push(v value, off int64) error {
	if len(e.stack) >= maxStack {
		return e.limit(off, "stack size")
	}
	e.stack = append(e.stack, v)
	return nil
}

func (e *emu) fence() int {
	if n := len(e.marks); n > 0 {
		return e.marks[n-1]
	}
	return 0
}

func (e *emu) pop(off int64) (value, error) {
	n := len(e.stack)
	if n <= e.fence() {
		return value{}, e.fail(off, "unpickling stack underflow")
	}
	v := e.stack[n-1]
	e.stack = e.stack[:n-1]
	return v, nil
}

// popMark returns the values above the topmost MARK and removes them and
// the mark. The slice is valid until the next push.
func (e *emu) popMark(off int64) ([]value, error) {
	n := len(e.marks)
	if n == 0 {
		return nil, e.fail(off, "could not find MARK")
	}
	m := e.marks[n-1]
	e.marks = e.marks[:n-1]
	items := e.stack[m:]
	e.stack = e.stack[:m]
	return items, nil
}

func (e *emu) top(off int64) (*value, error) {
	n := len(e.stack)
	if n <= e.fence() {
		return nil, e.fail(off, "unpickling stack underflow")
	}
	return &e.stack[n-1], nil
}

// str keeps a string's text when it is short and the arena has room.
func (e *emu) str(b []byte) value {
	if len(b) > maxTrackedStr || len(e.strs)+len(b) > maxStrArena {
		return value{k: kStrX}
	}
	a := len(e.strs)
	e.strs = append(e.strs, b...)
	return value{k: kStr, a: uint32(a), b: uint32(len(b))}
}

func (e *emu) strText(v value) []byte { return e.strs[v.a : v.a+v.b] }

// tuple keeps a tuple's items when it is small and holds anything but
// inert data: only such tuples can carry callables, names or arguments
// worth inspecting.
func (e *emu) tuple(items []value) value {
	if len(items) == 0 {
		return value{k: kTuple}
	}
	if len(items) > maxTupleTrack || len(e.items)+len(items) > maxItemArena {
		return value{k: kData}
	}
	keep := false
	for _, it := range items {
		if it.k != kData {
			keep = true
			break
		}
	}
	if !keep {
		return value{k: kData}
	}
	a := len(e.items)
	e.items = append(e.items, items...)
	return value{k: kTuple, a: uint32(a), b: uint32(len(items))}
}

func (e *emu) tupleItems(v value) []value {
	if v.k != kTuple {
		return nil
	}
	return e.items[v.a : v.a+v.b]
}

// resolve returns the globals-table index for module.name, judging it the
// first time it is seen in this pickle.
func (e *emu) resolve(module, name []byte, off int64) (int32, error) {
	e.scratch = append(append(append(e.scratch[:0], module...), '\n'), name...)
	if i, ok := e.gindex[string(e.scratch)]; ok {
		return i, nil
	}
	if len(e.globals) >= maxGlobals {
		return 0, e.limit(off, "distinct globals")
	}
	m, n := string(module), string(name)
	g := global{name: m + "." + n, j: judge(m, n, e.pol), off: off}
	if !utf8.ValidString(m) || !utf8.ValidString(n) {
		g.name = strconv.Quote(m) + "." + strconv.Quote(n)
		g.j = judgement{modelscan.Suspicious, "module or name is not valid UTF-8", checkNone}
	}
	if joblibWrappers[g.name] {
		e.stats.JoblibWrapper = true
	}
	i := int32(len(e.globals))
	e.globals = append(e.globals, g)
	e.gindex[string(e.scratch)] = i
	return i, nil
}

// pseudo adds a globals-table entry for a callable that has no name (an
// extension code, an untracked STACK_GLOBAL).
func (e *emu) pseudo(name string, j judgement, off int64) (int32, error) {
	if len(e.globals) >= maxGlobals {
		return 0, e.limit(off, "distinct globals")
	}
	e.globals = append(e.globals, global{name: name, j: j, off: off})
	return int32(len(e.globals) - 1), nil
}

// call records that fn is invoked with args by the opcode at off and
// returns the result's value.
func (e *emu) call(fn, args value, off int64, via string) value {
	switch fn.k {
	case kGlobal:
		g := &e.globals[fn.a]
		if g.j.verdict != modelscan.Clean && !g.reported {
			g.reported = true
			e.add(g.j.verdict, ruleFor(g.j.verdict), fmt.Sprintf("%s calls %s: %s", via, g.name, g.j.reason), g.name, off)
		}
		if e.joblib && g.name == "numpy.dtype" {
			if it := e.tupleItems(args); len(it) > 0 && it[0].k == kStr {
				return value{k: kCall, a: fn.a, b: dtypeInfo(e.strText(it[0]))}
			}
		}
		if g.j.check != checkNone {
			if why := e.checkArgs(g.j.check, args); why != "" {
				e.add(modelscan.Suspicious, "pickle.unexpected-arguments",
					fmt.Sprintf("%s calls %s with %s", via, g.name, why), g.name, off)
			}
		}
		return value{k: kCall, a: fn.a}
	case kCall:
		g := &e.globals[fn.a]
		if !g.runtime {
			g.runtime = true
			e.add(modelscan.Unsafe, "pickle.runtime-callable",
				fmt.Sprintf("%s calls a callable built at run time by %s", via, g.name), g.name, off)
		}
		return value{k: kCall, a: fn.a}
	case kPers:
		e.add(modelscan.Suspicious, "pickle.runtime-callable",
			fmt.Sprintf("%s calls an object returned by the loader's persistent_load", via), "", off)
		return value{k: kData}
	default:
		e.add(modelscan.Unscannable, "pickle.not-callable",
			fmt.Sprintf("%s calls a value that is not callable; a loader would fail here", via), "", off)
		return value{k: kData}
	}
}

var codecsEncodings = map[string]bool{"latin1": true, "latin-1": true, "iso-8859-1": true, "iso8859-1": true,
	"utf-8": true, "utf8": true, "ascii": true}

func (e *emu) checkArgs(c argCheck, args value) string {
	items := e.tupleItems(args)
	switch c {
	case checkCodecs:
		if len(items) != 2 || items[1].k != kStr || !codecsEncodings[strings.ToLower(string(e.strText(items[1])))] {
			return "arguments other than (text, a Latin-1/UTF-8/ASCII encoding)"
		}
	case checkReconstructor:
		if len(items) != 3 || items[0].k != kGlobal || items[1].k != kGlobal {
			return "a class or base that is not a named global"
		}
	case checkRebuildFromType:
		if len(items) < 1 || items[0].k != kGlobal {
			return "a function to call that is not a named global"
		}
	}
	return ""
}

// memoPut stores v at key. Dense keys live in a slice; a key far beyond
// the memo's size (which no pickler writes) goes to a map and is reported
// once as a forged memo index.
func (e *emu) memoPut(key uint64, v value, off int64) error {
	if key < uint64(len(e.memo)) {
		if e.memo[key].k == kEmpty {
			e.memoN++
		}
		e.memo[key] = v
	} else if key <= uint64(len(e.memo))+64 && key < maxMemo && len(e.memo) <= 2*e.memoN+1024 {
		// Dense enough for a slice: holes never outnumber entries, so a
		// run of forged indexes cannot make the slice outgrow the file.
		for uint64(len(e.memo)) < key {
			e.memo = append(e.memo, value{})
		}
		e.memo = append(e.memo, v)
		e.memoN++
	} else {
		if !e.sparse && key > uint64(e.memoN)+sparseMemo {
			e.sparse = true
			e.add(modelscan.Suspicious, "pickle.memo-bomb",
				fmt.Sprintf("memo index %d far beyond the memo's %d entries: no pickler writes this", key, e.memoN), "", off)
		}
		if e.memoMap == nil {
			e.memoMap = map[uint64]value{}
		}
		if len(e.memoMap) >= maxSparseMemo {
			return e.limit(off, "sparse memo entries")
		}
		if _, ok := e.memoMap[key]; !ok {
			e.memoN++
		}
		e.memoMap[key] = v
	}
	if e.memoN > maxMemo {
		return e.limit(off, "memo size")
	}
	if e.memoN > e.stats.MaxMemo {
		e.stats.MaxMemo = e.memoN
	}
	return nil
}

func (e *emu) memoGet(key uint64, off int64) (value, error) {
	if key < uint64(len(e.memo)) && e.memo[key].k != kEmpty {
		return e.memo[key], nil
	}
	if v, ok := e.memoMap[key]; ok {
		return v, nil
	}
	return value{}, e.fail(off, "memo key %d not found", key)
}

// payload consumes an n-byte argument and returns it when it is short
// enough to keep.
func (e *emu) payload(n uint64, keep bool) ([]byte, error) {
	if keep && n <= maxTrackedStr {
		if !e.in.fill(int(n)) {
			return nil, e.in.endErr()
		}
		b := e.in.buf[e.in.pos : e.in.pos+int(n)]
		e.in.pos += int(n)
		return b, nil
	}
	return nil, e.in.skip(n)
}

// one emulates a single pickle up to its STOP.
func (e *emu) one() error {
	in := &e.in
	for {
		if in.end-in.pos < 16 && !in.fill(16) && in.pos >= in.end {
			return in.endErr()
		}
		if e.stats.Opcodes&0xffff == 0 && e.ctx != nil {
			if err := e.ctx.Err(); err != nil {
				return err
			}
		}
		off := in.base + int64(in.pos)
		op := in.buf[in.pos]
		in.pos++
		e.stats.Opcodes++
		if err := e.step(op, off); err != nil {
			if err == errStop {
				return nil
			}
			return err
		}
		e.firstOpcode = false
		if len(e.stack) > e.stats.MaxStack {
			e.stats.MaxStack = len(e.stack)
		}
	}
}

var errStop = errors.New("stop")

var magicLong = []byte{0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19}

const magicText = "119547037146038801333356"

func (e *emu) step(op byte, off int64) error {
	in := &e.in
	switch op {
	case '(': // MARK
		if len(e.marks) >= maxMarks {
			return e.limit(off, "MARK depth")
		}
		e.marks = append(e.marks, len(e.stack))
	case '.': // STOP
		v, err := e.pop(off)
		if err != nil {
			return err
		}
		if e.pickleIdx == 0 && v.k == kMagic {
			e.legacy = true
			e.stats.LegacyTorch = true
			e.legacyKeys = map[string]int64{}
		}
		return errStop
	case '0': // POP
		if len(e.stack) > e.fence() {
			e.stack = e.stack[:len(e.stack)-1]
		} else if len(e.marks) > 0 {
			e.marks = e.marks[:len(e.marks)-1]
		} else {
			return e.fail(off, "unpickling stack underflow")
		}
	case '1': // POP_MARK
		if _, err := e.popMark(off); err != nil {
			return err
		}
	case '2': // DUP
		t, err := e.top(off)
		if err != nil {
			return err
		}
		return e.push(*t, off)
	case 'N', 0x88, 0x89: // NONE, NEWTRUE, NEWFALSE
		return e.push(value{k: kData}, off)
	case 'K': // BININT1
		if in.end-in.pos < 1 && !in.fill(1) {
			return in.endErr()
		}
		v := value{k: kData}
		if e.joblib {
			v = intValue(int64(in.buf[in.pos]))
		}
		in.pos++
		return e.push(v, off)
	case 'M': // BININT2
		if in.end-in.pos < 2 && !in.fill(2) {
			return in.endErr()
		}
		v := value{k: kData}
		if e.joblib {
			v = intValue(int64(binary.LittleEndian.Uint16(in.buf[in.pos:])))
		}
		in.pos += 2
		return e.push(v, off)
	case 'J': // BININT
		if in.end-in.pos < 4 && !in.fill(4) {
			return in.endErr()
		}
		v := value{k: kData}
		if e.joblib {
			v = intValue(int64(int32(binary.LittleEndian.Uint32(in.buf[in.pos:]))))
		}
		in.pos += 4
		return e.push(v, off)
	case 'G': // BINFLOAT
		if in.end-in.pos < 8 && !in.fill(8) {
			return in.endErr()
		}
		in.pos += 8
		return e.push(value{k: kData}, off)
	case 'I', 'F', 'L': // INT, FLOAT, LONG
		l, long, err := in.line(maxLine)
		if err != nil {
			return err
		}
		if long || !numberText(l, op) {
			return e.fail(off, "invalid number argument for opcode %q", op)
		}
		if op == 'L' && strings.TrimSuffix(string(l), "L") == magicText {
			return e.push(value{k: kMagic}, off)
		}
		return e.push(value{k: kData}, off)
	case 0x8a: // LONG1
		if !in.fill(1) {
			return in.endErr()
		}
		n := int(in.buf[in.pos])
		in.pos++
		if !in.fill(n) {
			return in.endErr()
		}
		v := value{k: kData}
		if n == len(magicLong) && string(in.buf[in.pos:in.pos+n]) == string(magicLong) {
			v.k = kMagic
		} else if e.joblib && n <= 8 {
			var x int64
			for i := n - 1; i >= 0; i-- {
				x = x<<8 | int64(in.buf[in.pos+i])
			}
			if n > 0 && n < 8 && in.buf[in.pos+n-1]&0x80 != 0 {
				x -= 1 << (8 * n)
			}
			v = intValue(x)
		}
		in.pos += n
		return e.push(v, off)
	case 0x8b: // LONG4
		if !in.fill(4) {
			return in.endErr()
		}
		n := int32(binary.LittleEndian.Uint32(in.buf[in.pos:]))
		in.pos += 4
		if n < 0 {
			return e.fail(off, "LONG pickle has negative byte count")
		}
		if err := in.skip(uint64(n)); err != nil {
			return err
		}
		return e.push(value{k: kData}, off)
	case 'S': // STRING
		l, long, err := in.line(maxLine)
		if err != nil {
			return err
		}
		if long {
			return e.push(value{k: kStrX}, off)
		}
		s, ok := e.decodeString(l)
		if !ok {
			return e.fail(off, "the STRING opcode argument must be quoted")
		}
		return e.push(s, off)
	case 'V': // UNICODE
		l, long, err := in.line(maxLine)
		if err != nil {
			return err
		}
		if long {
			return e.push(value{k: kStrX}, off)
		}
		return e.push(e.decodeRawUnicode(l), off)
	case 'T', 'X', 'U', 0x8c, 0x8d: // BINSTRING, BINUNICODE, SHORT_BINSTRING, SHORT_BINUNICODE, BINUNICODE8
		n, err := e.length(op, off)
		if err != nil {
			return err
		}
		b, err := e.payload(n, true)
		if err != nil {
			return err
		}
		if b == nil {
			return e.push(value{k: kStrX}, off)
		}
		return e.push(e.str(b), off)
	case 'B', 'C', 0x8e, 0x96: // BINBYTES, SHORT_BINBYTES, BINBYTES8, BYTEARRAY8
		n, err := e.length(op, off)
		if err != nil {
			return err
		}
		if _, err := e.payload(n, false); err != nil {
			return err
		}
		return e.push(value{k: kData}, off)
	case 'P': // PERSID
		if _, _, err := in.line(maxLine); err != nil {
			return err
		}
		return e.push(value{k: kPers}, off)
	case 'Q': // BINPERSID
		pid, err := e.pop(off)
		if err != nil {
			return err
		}
		if e.legacy && e.pickleIdx == 3 {
			e.legacyRecord(pid)
		}
		return e.push(value{k: kPers}, off)
	case 'R': // REDUCE
		args, err := e.pop(off)
		if err != nil {
			return err
		}
		fn, err := e.pop(off)
		if err != nil {
			return err
		}
		return e.push(e.call(fn, args, off, "REDUCE"), off)
	case 0x81: // NEWOBJ
		args, err := e.pop(off)
		if err != nil {
			return err
		}
		cls, err := e.pop(off)
		if err != nil {
			return err
		}
		return e.push(e.call(cls, args, off, "NEWOBJ"), off)
	case 0x92: // NEWOBJ_EX
		if _, err := e.pop(off); err != nil { // kwargs
			return err
		}
		args, err := e.pop(off)
		if err != nil {
			return err
		}
		cls, err := e.pop(off)
		if err != nil {
			return err
		}
		return e.push(e.call(cls, args, off, "NEWOBJ_EX"), off)
	case 'o': // OBJ
		items, err := e.popMark(off)
		if err != nil {
			return err
		}
		if len(items) == 0 {
			return e.fail(off, "OBJ without a class")
		}
		cls := items[0]
		args := e.tuple(items[1:])
		return e.push(e.call(cls, args, off, "OBJ"), off)
	case 'c', 'i': // GLOBAL, INST
		mod, long, err := in.line(maxLine)
		if err != nil {
			return err
		}
		if long {
			return e.fail(off, "module name longer than %d bytes", maxLine)
		}
		// The next line read may move the buffer: keep the module.
		e.modBuf = append(e.modBuf[:0], mod...)
		name, long, err := in.line(maxLine)
		if err != nil {
			return err
		}
		if long {
			return e.fail(off, "name longer than %d bytes", maxLine)
		}
		if e.strictNames && (!identPath(e.modBuf) || !identPath(name)) {
			return e.fail(off, "GLOBAL names are not identifiers")
		}
		gi, err := e.resolve(e.modBuf, name, off)
		if err != nil {
			return err
		}
		if op == 'c' {
			return e.push(value{k: kGlobal, a: uint32(gi)}, off)
		}
		items, err := e.popMark(off)
		if err != nil {
			return err
		}
		args := e.tuple(items)
		return e.push(e.call(value{k: kGlobal, a: uint32(gi)}, args, off, "INST"), off)
	case 0x93: // STACK_GLOBAL
		name, err := e.pop(off)
		if err != nil {
			return err
		}
		mod, err := e.pop(off)
		if err != nil {
			return err
		}
		if (mod.k != kStr && mod.k != kStrX) || (name.k != kStr && name.k != kStrX) {
			return e.fail(off, "STACK_GLOBAL requires str")
		}
		if mod.k == kStrX || name.k == kStrX {
			gi, err := e.pseudo("<untracked name>", judgement{modelscan.Suspicious,
				"STACK_GLOBAL with a module or name too long to track", checkNone}, off)
			if err != nil {
				return err
			}
			return e.push(value{k: kGlobal, a: uint32(gi)}, off)
		}
		key := uint64(mod.a)<<32 | uint64(name.a)
		gi, ok := e.sgCache[key]
		if !ok {
			gi, err = e.resolve(e.strText(mod), e.strText(name), off)
			if err != nil {
				return err
			}
			e.sgCache[key] = gi
		}
		return e.push(value{k: kGlobal, a: uint32(gi)}, off)
	case 0x82, 0x83, 0x84: // EXT1, EXT2, EXT4
		n := map[byte]int{0x82: 1, 0x83: 2, 0x84: 4}[op]
		if !in.fill(n) {
			return in.endErr()
		}
		var code uint32
		switch n {
		case 1:
			code = uint32(in.buf[in.pos])
		case 2:
			code = uint32(binary.LittleEndian.Uint16(in.buf[in.pos:]))
		default:
			code = binary.LittleEndian.Uint32(in.buf[in.pos:])
		}
		in.pos += n
		if int32(code) <= 0 {
			return e.fail(off, "EXT specifies code <= 0")
		}
		gi, err := e.pseudo(fmt.Sprintf("<extension code %d>", code), judgement{modelscan.Suspicious,
			"the callable comes from the loader's copyreg extension registry, which the pickle does not name", checkNone}, off)
		if err != nil {
			return err
		}
		return e.push(value{k: kGlobal, a: uint32(gi)}, off)
	case 'b': // BUILD
		state, err := e.pop(off)
		if err != nil {
			return err
		}
		t, err := e.top(off)
		if err != nil {
			return err
		}
		if t.k == kGlobal {
			g := &e.globals[t.a]
			e.add(modelscan.Unsafe, "pickle.global-mutation",
				fmt.Sprintf("BUILD sets attributes on the imported object %s itself", g.name), g.name, off)
		}
		if e.joblib && t.k == kCall && joblibWrappers[e.globals[t.a].name] {
			return e.joblibArray(state, off)
		}
	case 'a': // APPEND
		if _, err := e.pop(off); err != nil {
			return err
		}
		if _, err := e.top(off); err != nil {
			return err
		}
	case 's': // SETITEM
		if _, err := e.pop(off); err != nil {
			return err
		}
		if _, err := e.pop(off); err != nil {
			return err
		}
		if _, err := e.top(off); err != nil {
			return err
		}
	case 'e', 'u', 0x90: // APPENDS, SETITEMS, ADDITEMS
		items, err := e.popMark(off)
		if err != nil {
			return err
		}
		if op == 'u' && len(items)%2 != 0 {
			return e.fail(off, "odd number of items for SETITEMS")
		}
		t, err := e.top(off)
		if err != nil {
			return err
		}
		if op == 'u' && t.k == kDict && t.b == 0 && len(items) <= 32 && len(e.items)+len(items) <= maxItemArena {
			t.a, t.b = uint32(len(e.items)), uint32(len(items))
			e.items = append(e.items, items...)
		}
	case 'd', 'l', 0x91: // DICT, LIST, FROZENSET
		items, err := e.popMark(off)
		if err != nil {
			return err
		}
		if op == 'd' && len(items)%2 != 0 {
			return e.fail(off, "odd number of items for DICT")
		}
		return e.push(value{k: kData}, off)
	case 't': // TUPLE
		items, err := e.popMark(off)
		if err != nil {
			return err
		}
		return e.push(e.tuple(items), off)
	case ')': // EMPTY_TUPLE
		return e.push(value{k: kTuple}, off)
	case 0x85, 0x86, 0x87: // TUPLE1, TUPLE2, TUPLE3
		n := int(op - 0x84)
		if len(e.stack)-e.fence() < n {
			return e.fail(off, "unpickling stack underflow")
		}
		v := e.tuple(e.stack[len(e.stack)-n:])
		e.stack = e.stack[:len(e.stack)-n]
		return e.push(v, off)
	case '}', ']', 0x8f: // EMPTY_DICT, EMPTY_LIST, EMPTY_SET
		if op == '}' && e.joblib {
			return e.push(value{k: kDict}, off)
		}
		return e.push(value{k: kData}, off)
	case 'g', 'h', 'j': // GET, BINGET, LONG_BINGET
		key, err := e.memoKey(op, off)
		if err != nil {
			return err
		}
		v, err := e.memoGet(key, off)
		if err != nil {
			return err
		}
		return e.push(v, off)
	case 'p', 'q', 'r', 0x94: // PUT, BINPUT, LONG_BINPUT, MEMOIZE
		var key uint64
		if op == 0x94 {
			key = uint64(e.memoN)
		} else {
			k, err := e.memoKey(op, off)
			if err != nil {
				return err
			}
			key = k
		}
		t, err := e.top(off)
		if err != nil {
			return err
		}
		return e.memoPut(key, *t, off)
	case 0x80: // PROTO
		if !in.fill(1) {
			return in.endErr()
		}
		p := in.buf[in.pos]
		in.pos++
		if p > 5 {
			return e.fail(off, "unsupported pickle protocol: %d", p)
		}
	case 0x95: // FRAME
		if !in.fill(8) {
			return in.endErr()
		}
		n := binary.LittleEndian.Uint64(in.buf[in.pos:])
		in.pos += 8
		here := in.off()
		if e.frameEnd > off {
			e.add(modelscan.Unscannable, "pickle.frame",
				fmt.Sprintf("FRAME begins before the previous frame (ending at %d) ends", e.frameEnd+e.offset), "", off)
		}
		end := int64(math.MaxInt64)
		if n < uint64(math.MaxInt64-here) {
			end = here + int64(n)
		}
		e.frameEnd, e.frameOff = end, off
		if in.size >= 0 && end > in.size {
			e.add(modelscan.Unscannable, "pickle.frame",
				fmt.Sprintf("FRAME claims %d bytes, beyond the end of data (%d bytes left)", n, in.size-here), "", off)
			e.frameEnd = -1
		}
	case 0x97: // NEXT_BUFFER
		return e.push(value{k: kData}, off)
	case 0x98: // READONLY_BUFFER
		if _, err := e.top(off); err != nil {
			return err
		}
	default:
		return e.fail(off, "invalid opcode 0x%02x", op)
	}
	return nil
}

// length reads the length prefix of a sized opcode.
func (e *emu) length(op byte, off int64) (uint64, error) {
	in := &e.in
	var w int
	switch op {
	case 'U', 'C', 0x8c:
		w = 1
	case 'T', 'X', 'B':
		w = 4
	default:
		w = 8
	}
	if !in.fill(w) {
		return 0, in.endErr()
	}
	b := in.buf[in.pos : in.pos+w]
	in.pos += w
	switch w {
	case 1:
		return uint64(b[0]), nil
	case 4:
		n := binary.LittleEndian.Uint32(b)
		if op == 'T' && int32(n) < 0 {
			return 0, e.fail(off, "BINSTRING pickle has negative byte count")
		}
		return uint64(n), nil
	}
	n := binary.LittleEndian.Uint64(b)
	if n > math.MaxInt64 {
		return 0, e.fail(off, "length %d exceeds the largest Python object", n)
	}
	if in.size >= 0 && n > uint64(in.size-in.off()) {
		return 0, e.fail(off, "length %d runs past the end of data", n)
	}
	return n, nil
}

func (e *emu) memoKey(op byte, off int64) (uint64, error) {
	in := &e.in
	switch op {
	case 'h', 'q':
		if !in.fill(1) {
			return 0, in.endErr()
		}
		k := in.buf[in.pos]
		in.pos++
		return uint64(k), nil
	case 'j', 'r':
		if !in.fill(4) {
			return 0, in.endErr()
		}
		k := binary.LittleEndian.Uint32(in.buf[in.pos:])
		in.pos += 4
		return uint64(k), nil
	}
	l, long, err := in.line(64)
	if err != nil {
		return 0, err
	}
	if long {
		return 0, e.fail(off, "memo key too long")
	}
	k, perr := strconv.ParseUint(strings.TrimSpace(string(l)), 10, 64)
	if perr != nil {
		if op == 'p' && strings.HasPrefix(strings.TrimSpace(string(l)), "-") {
			return 0, e.fail(off, "negative PUT argument")
		}
		return 0, e.fail(off, "invalid memo key %q", l)
	}
	return k, nil
}

// numberText is a loose check that a protocol 0 number argument is one.
func numberText(l []byte, op byte) bool {
	s := strings.TrimSpace(string(l))
	if op == 'L' {
		s = strings.TrimSuffix(s, "L")
	}
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9', c == '+', c == '-', c == '_':
		case op == 'F' && (c == '.' || c == 'e' || c == 'E' || strings.IndexByte("infatyINFATY", c) >= 0):
		case op != 'F' && strings.IndexByte("xXoObBabcdefABCDEF", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// decodeString decodes a protocol 0 STRING argument: a quoted Python
// bytes literal.
func (e *emu) decodeString(l []byte) (value, bool) {
	if len(l) < 2 || (l[0] != '\'' && l[0] != '"') || l[len(l)-1] != l[0] {
		return value{}, false
	}
	body := l[1 : len(l)-1]
	if len(body) > 4*maxTrackedStr {
		return value{k: kStrX}, true
	}
	var out [4 * maxTrackedStr]byte
	o := out[:0]
	for i := 0; i < len(body); i++ {
		c := body[i]
		if c != '\\' || i+1 >= len(body) {
			o = append(o, c)
			continue
		}
		i++
		switch c = body[i]; c {
		case '\n':
		case 'a':
			o = append(o, 7)
		case 'b':
			o = append(o, 8)
		case 'f':
			o = append(o, 12)
		case 'n':
			o = append(o, 10)
		case 'r':
			o = append(o, 13)
		case 't':
			o = append(o, 9)
		case 'v':
			o = append(o, 11)
		case '\\', '\'', '"':
			o = append(o, c)
		case 'x':
			if i+2 < len(body)+0 && isHex(body[i+1]) && isHex(body[i+2]) {
				v, _ := strconv.ParseUint(string(body[i+1:i+3]), 16, 8)
				o = append(o, byte(v))
				i += 2
			} else {
				return value{}, false
			}
		default:
			if c >= '0' && c <= '7' {
				v := int(c - '0')
				for k := 0; k < 2 && i+1 < len(body) && body[i+1] >= '0' && body[i+1] <= '7'; k++ {
					i++
					v = v*8 + int(body[i]-'0')
				}
				o = append(o, byte(v))
			} else {
				o = append(o, '\\', c)
			}
		}
	}
	return e.str(o), true
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// decodeRawUnicode decodes a protocol 0 UNICODE argument
// (raw-unicode-escape: Latin-1 bytes with \uXXXX and \UXXXXXXXX escapes),
// so a name spelled "\u006fs" is seen as "os".
func (e *emu) decodeRawUnicode(l []byte) value {
	if len(l) > 4*maxTrackedStr {
		return value{k: kStrX}
	}
	var out [8 * maxTrackedStr]byte
	o := out[:0]
	for i := 0; i < len(l); i++ {
		c := l[i]
		if c == '\\' && i+1 < len(l) && (l[i+1] == 'u' || l[i+1] == 'U') {
			w := 4
			if l[i+1] == 'U' {
				w = 8
			}
			if i+2+w <= len(l) {
				if v, err := strconv.ParseUint(string(l[i+2:i+2+w]), 16, 32); err == nil && v <= utf8.MaxRune {
					o = utf8.AppendRune(o, rune(v))
					i += 1 + w
					continue
				}
			}
		}
		o = utf8.AppendRune(o, rune(c))
	}
	return e.str(o)
}

// legacyRecord notes a storage named by the legacy format's main pickle:
// ('storage', torch.XStorage, key, location, numel, view_metadata).
func (e *emu) legacyRecord(pid value) {
	it := e.tupleItems(pid)
	if len(it) < 3 || it[0].k != kStr || string(e.strText(it[0])) != "storage" || it[1].k != kGlobal || it[2].k != kStr {
		e.legacyBad = true
		return
	}
	g := e.globals[it[1].a].name
	size, ok := storageElemSize[g[strings.LastIndexByte(g, '.')+1:]]
	if !ok || !(strings.HasPrefix(g, "torch.") && strings.Count(g, ".") <= 2) {
		e.legacyBad = true
		return
	}
	if len(e.legacyKeys) < maxGlobals {
		e.legacyKeys[string(e.strText(it[2]))] = size
	} else {
		e.legacyBad = true
	}
}

// legacyTail walks the raw storage records that follow the legacy
// format's five pickles: for each storage key in sorted order, an int64
// element count and that many elements. torch.load reads these bytes as
// tensor data, never unpickles them, so they are checked for shape, not
// emulated; anything else there is reported.
func (e *emu) legacyTail() error {
	in := &e.in
	off := in.off()
	if e.legacyBad {
		e.add(modelscan.Unscannable, "pickle.legacy-storage",
			"legacy torch file names storages the scanner cannot account for", "", off)
		return nil
	}
	keys := make([]string, 0, len(e.legacyKeys))
	for k := range e.legacyKeys {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		off = in.off()
		if !in.fill(8) {
			if in.ioErr != nil {
				return in.ioErr
			}
			e.add(modelscan.Unscannable, "pickle.legacy-storage",
				fmt.Sprintf("legacy torch storage %q is missing", k), "", off)
			return nil
		}
		n := binary.LittleEndian.Uint64(in.buf[in.pos:])
		in.pos += 8
		sz := e.legacyKeys[k]
		if n > math.MaxInt64/uint64(sz) {
			e.add(modelscan.Unscannable, "pickle.legacy-storage",
				fmt.Sprintf("legacy torch storage %q has an impossible size", k), "", off)
			return nil
		}
		if err := in.skip(n * uint64(sz)); err != nil {
			if errors.Is(err, errTruncated) {
				e.add(modelscan.Unscannable, "pickle.legacy-storage",
					fmt.Sprintf("legacy torch storage %q runs past the end of data", k), "", off)
				return nil
			}
			return err
		}
	}
	e.stats.End = in.off() + e.offset
	if !in.atEOF() {
		e.add(modelscan.Unscannable, "pickle.trailing-data",
			"data after the legacy torch storages", "", in.off())
	}
	return in.ioErr
}

func identPath(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !(c == '_' || c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}
