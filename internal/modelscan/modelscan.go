// Package modelscan decides whether model files can run code when a model
// server loads them. It decides by content (magic bytes and structure,
// never by file name), over a complete parse, against allowlists, and fails
// closed: what cannot be parsed is UNSCANNABLE, never CLEAN.
//
// An [Engine] holds an explicit table of [Analyzer]s. For each file it asks
// every analyzer, cheaply, whether the first bytes are its format
// ([Analyzer.Match]); the first that says yes analyzes the file under the
// engine's byte, time and depth budgets. Container analyzers (zip, joblib
// compression, npz, nested archives) hand their members back to the engine
// through [Input.Scan], so a pickle inside a zip inside a tar is judged by
// the pickle analyzer like any other.
//
// A file no analyzer claims is UNSCANNABLE ("unknown format"): an unknown
// blob next to a model may be exactly what a loader executes.
package modelscan

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/rampart-ai/rampart"
)

// Verdict is a file's outcome, ordered from best to worst.
type Verdict int

const (
	Clean Verdict = iota
	// Suspicious: something not on an allowlist, not known to be dangerous.
	Suspicious
	// Unscannable: the file could not be parsed completely (truncated,
	// corrupt, over budget, unknown or encrypted format).
	Unscannable
	// Unsafe: a construct known to run code, touch files or the network.
	Unsafe
)

var verdictNames = [...]string{"CLEAN", "SUSPICIOUS", "UNSCANNABLE", "UNSAFE"}

func (v Verdict) String() string {
	if v < 0 || int(v) >= len(verdictNames) {
		return fmt.Sprintf("Verdict(%d)", int(v))
	}
	return verdictNames[v]
}

// MarshalText implements encoding.TextMarshaler.
func (v Verdict) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

// Finding is one observation about a file.
type Finding struct {
	Verdict  Verdict          `json:"verdict"`
	Severity rampart.Severity `json:"severity"`
	// Rule is a stable ID, e.g. "pickle.unsafe-callable", "zip.path-traversal".
	Rule    string `json:"rule"`
	Message string `json:"message"`
	// Callable is the module-qualified callable or construct involved
	// ("posix.system", "keras.layers.Lambda"), when there is one.
	Callable string `json:"callable,omitempty"`
	// Offset is the byte offset within Member (or the file), -1 if unknown.
	Offset int64 `json:"offset"`
	// Member is the path inside an archive ("archive/data.pkl"), nested
	// members joined with "!"; empty for the file itself.
	Member string `json:"member,omitempty"`
}

// Result is the verdict for one file.
type Result struct {
	Path    string  `json:"path"`
	Format  string  `json:"format"`
	Verdict Verdict `json:"verdict"`
	Size    int64   `json:"size"`
	// SHA256 is the hex digest of the file's bytes, when asked for, so a
	// verdict can be tied to exactly the bytes it judged.
	SHA256   string        `json:"sha256,omitempty"`
	Findings []Finding     `json:"findings"`
	Duration time.Duration `json:"-"`
}

// Worst returns the worst verdict among findings (Clean when none).
func Worst(fs []Finding) Verdict {
	v := Clean
	for _, f := range fs {
		if f.Verdict > v {
			v = f.Verdict
		}
	}
	return v
}

// Analyzer judges one format.
type Analyzer interface {
	// Name is the format's name in results ("pickle", "zip", "safetensors").
	Name() string
	// Match reports, from at most the first 512 bytes, whether the content
	// is this format. It must be cheap and must not trust file names.
	Match(head []byte) bool
	// Analyze parses the whole input and returns findings. A parse failure
	// is an Unscannable finding, not an error; an error means the scan
	// itself could not run (I/O failure, context cancelled).
	Analyze(ctx context.Context, in *Input) ([]Finding, error)
}

// Limits bound the work for one top-level file.
type Limits struct {
	// MaxBytes is the most bytes read in total, members included.
	MaxBytes int64
	// MaxDepth is the deepest archive nesting.
	MaxDepth int
	// MaxMembers is the most archive members.
	MaxMembers int
	// Timeout bounds one top-level file.
	Timeout time.Duration
}

// DefaultLimits: 64 GiB read, depth 8, 100 000 members, 10 minutes.
func DefaultLimits() Limits {
	return Limits{MaxBytes: 64 << 30, MaxDepth: 8, MaxMembers: 100_000, Timeout: 10 * time.Minute}
}

// Input is what an analyzer reads.
type Input struct {
	// Name is the file path or the member path, for messages only.
	Name string
	R    io.ReaderAt
	Size int64
	// Member is the path inside the top-level file ("" for the file).
	Member string
	Depth  int

	engine *Engine
	budget *budget
}

// Scan judges a member of a container (its bytes in r) with the engine's
// analyzers, one level deeper. Findings come back with their Member set.
func (in *Input) Scan(ctx context.Context, name string, r io.ReaderAt, size int64) ([]Finding, error) {
	member := name
	if in.Member != "" {
		member = in.Member + "!" + name
	}
	if in.Depth+1 > in.engine.limits.MaxDepth {
		return []Finding{{Verdict: Unscannable, Severity: rampart.SeverityMedium, Rule: "scan.too-deep",
			Message: fmt.Sprintf("archive nesting deeper than %d", in.engine.limits.MaxDepth), Offset: -1, Member: member}}, nil
	}
	if err := in.budget.member(); err != nil {
		return []Finding{{Verdict: Unscannable, Severity: rampart.SeverityMedium, Rule: "scan.too-many-members",
			Message: err.Error(), Offset: -1, Member: member}}, nil
	}
	sub := &Input{Name: name, R: r, Size: size, Member: member, Depth: in.Depth + 1, engine: in.engine, budget: in.budget}
	_, fs, err := in.engine.analyze(ctx, sub)
	return fs, err
}

// Charge counts n more bytes read against the file's budget; analyzers
// call it as they read so a decompression bomb cannot run unbounded.
func (in *Input) Charge(n int64) error { return in.budget.charge(n) }

// Policy extends the built-in allowlists (see [LoadPolicy]).
func (in *Input) Policy() *Policy { return in.engine.policy }

// errFileTimeout is the cause of a per-file timeout.
var errFileTimeout = errors.New("per-file scan timeout")

// ErrBudget reports a file that exceeded its byte budget.
var ErrBudget = errors.New("scan budget exceeded")

type budget struct {
	left    int64
	members int
	maxMem  int
}

func (b *budget) charge(n int64) error {
	b.left -= n
	if b.left < 0 {
		return ErrBudget
	}
	return nil
}

func (b *budget) member() error {
	b.members++
	if b.members > b.maxMem {
		return fmt.Errorf("more than %d archive members", b.maxMem)
	}
	return nil
}

// Engine scans files with an explicit table of analyzers.
type Engine struct {
	analyzers []Analyzer
	limits    Limits
	policy    *Policy
}

// New returns an engine; analyzers are tried in order.
func New(limits Limits, policy *Policy, analyzers ...Analyzer) *Engine {
	if policy == nil {
		policy = &Policy{}
	}
	return &Engine{analyzers: analyzers, limits: limits, policy: policy}
}

// ScanFile scans the file at path. An error means the file could not be
// read at all (usage or I/O error, exit status 2); everything about its
// content is in the Result.
func (e *Engine) ScanFile(ctx context.Context, path string) (Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return Result{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Result{}, err
	}
	if !st.Mode().IsRegular() {
		return Result{}, fmt.Errorf("%s: not a regular file", path)
	}
	return e.Scan(ctx, path, f, st.Size())
}

// Scan judges content of the given size read through r.
func (e *Engine) Scan(ctx context.Context, name string, r io.ReaderAt, size int64) (Result, error) {
	start := time.Now()
	if e.limits.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, e.limits.Timeout, errFileTimeout)
		defer cancel()
	}
	b := &budget{left: e.limits.MaxBytes, maxMem: e.limits.MaxMembers}
	in := &Input{Name: name, R: r, Size: size, engine: e, budget: b}
	format, fs, err := e.analyze(ctx, in)
	res := Result{Path: name, Format: format, Size: size, Findings: fs, Duration: time.Since(start)}
	if err != nil {
		// Only this file's own time limit is a verdict; a caller's deadline
		// or cancellation is the caller's error.
		if context.Cause(ctx) == errFileTimeout && errors.Is(err, context.DeadlineExceeded) {
			res.Findings = append(res.Findings, Finding{Verdict: Unscannable, Severity: rampart.SeverityMedium, Rule: "scan.timeout",
				Message: fmt.Sprintf("scan did not finish within %s", e.limits.Timeout), Offset: -1})
			err = nil
		} else if errors.Is(err, ErrBudget) {
			res.Findings = append(res.Findings, Finding{Verdict: Unscannable, Severity: rampart.SeverityMedium, Rule: "scan.budget",
				Message: fmt.Sprintf("more than %d bytes to read", e.limits.MaxBytes), Offset: -1})
			err = nil
		} else {
			return res, err
		}
	}
	if res.Findings == nil {
		res.Findings = []Finding{}
	}
	res.Verdict = Worst(res.Findings)
	return res, nil
}

// analyze picks the analyzer for in and runs it.
func (e *Engine) analyze(ctx context.Context, in *Input) (string, []Finding, error) {
	head := make([]byte, 512)
	n, err := in.R.ReadAt(head, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return "", nil, fmt.Errorf("read %s: %w", in.Name, err)
	}
	head = head[:n]
	if n == 0 {
		return "empty", []Finding{{Verdict: Unscannable, Severity: rampart.SeverityLow, Rule: "scan.empty",
			Message: "empty file: not a model", Offset: 0, Member: in.Member}}, nil
	}
	for _, a := range e.analyzers {
		if !a.Match(head) {
			continue
		}
		fs, err := a.Analyze(ctx, in)
		for i := range fs {
			if fs[i].Member == "" {
				fs[i].Member = in.Member
			}
		}
		return a.Name(), fs, err
	}
	return "unknown", []Finding{{Verdict: Unscannable, Severity: rampart.SeverityMedium, Rule: "scan.unknown-format",
		Message: "content matches no known model format", Offset: 0, Member: in.Member}}, nil
}
