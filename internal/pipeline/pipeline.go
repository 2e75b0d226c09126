// Package pipeline holds the stage contract and runs a route's stages over
// one decoded request.
//
// A Stage reads the canonical [rampart.Inference] (decoded once by the
// gateway) and returns findings. An error means the stage itself broke
// (a store is down, a JWKS cannot be fetched); it is never used to say
// "denied". What a broken stage does is the stage's [FailMode]:
// authentication, authorization and validation always fail closed; other
// detectors follow the route's on_error setting.
//
// Stages are composed per route at config load ([Compile]); extra detectors
// are added by configuration alone through the explicit [Factories] table.
package pipeline

import (
	"context"
	"net/http"
	"net/netip"
	"time"

	"github.com/rampart-ai/rampart"
)

// Request is what stages see. Stages may set Principal (authentication
// does); everything else is read-only.
type Request struct {
	ID        string
	Route     string
	Mode      rampart.Mode
	Inf       *rampart.Inference
	Principal *rampart.Principal
	HTTP      *http.Request
	ClientIP  netip.Addr
	Body      []byte
	Now       time.Time
	// ModelAttrs are the declared attributes of Inf.Model on this route.
	ModelAttrs map[string]string
}

// Stage is one check in a route's pipeline.
type Stage interface {
	// Name labels the stage in findings, metrics and logs.
	Name() string
	// Check inspects req. Findings describe what was seen; err means the
	// stage could not do its job.
	Check(ctx context.Context, req *Request) ([]rampart.Finding, error)
}

// FailMode says what a stage's technical failure does.
type FailMode int

const (
	// FailClosed refuses the request (the default for every stage).
	FailClosed FailMode = iota
	// FailOpen lets the request through and counts the failure.
	FailOpen
)

// FailModer is implemented by stages whose failure mode is configurable.
type FailModer interface{ FailMode() FailMode }

// Closer is implemented by stages holding resources.
type Closer interface{ Close() error }

// Result is the outcome of running a pipeline.
type Result struct {
	Decision rampart.Decision
	// Err is the first technical failure of a fail-closed stage; when set the
	// request is refused with CodeUnavailable whatever the mode.
	Err      error
	ErrStage string
	// Degraded counts fail-open stages that broke.
	Degraded []string
}

// Run runs stages in order. In enforce mode it stops at the first refusing
// finding (later stages must not see, for example, an unauthenticated
// caller); in monitor mode it stops only at a mandatory refusal (access
// control) and otherwise runs every stage so the record shows everything
// that would have been refused.
func Run(ctx context.Context, mode rampart.Mode, stages []Stage, req *Request) Result {
	var res Result
	var findings []rampart.Finding
	for _, s := range stages {
		fs, err := s.Check(ctx, req)
		if err != nil {
			if fm, ok := s.(FailModer); ok && fm.FailMode() == FailOpen {
				res.Degraded = append(res.Degraded, s.Name())
				continue
			}
			res.Err, res.ErrStage = err, s.Name()
			break
		}
		findings = append(findings, fs...)
		if refuses(fs, mode) {
			break
		}
	}
	res.Decision = rampart.Decide(mode, findings)
	return res
}

// refuses reports whether fs stop the pipeline: any refusal in enforce
// mode, only mandatory ones in monitor mode.
func refuses(fs []rampart.Finding, mode rampart.Mode) bool {
	for i := range fs {
		if (fs[i].Verdict == rampart.VerdictBlock || fs[i].Verdict == rampart.VerdictThrottle) &&
			(mode == rampart.ModeEnforce || fs[i].Mandatory) {
			return true
		}
	}
	return false
}
