// Package rampart is the security perimeter for machine-learning and AI
// systems. This package holds the shared vocabulary; adapters live under
// internal/ and wiring lives in cmd/rampart and internal/gateway.
//
// # The request path
//
//	client ─TLS/mTLS─▶ listener ─▶ route ─▶ decode (once, bounded) ─▶ authenticate ─▶ authorize
//	  ─▶ admit (limits, concurrency) ─▶ validate ─▶ detect ─▶ decide ─▶ upstream model server
//	  ◀─ response (gateway overhead header) ◀──────────────────────────────────────────┘
//	every decision, allowed or not ─▶ audit log (Merkle tree, signed checkpoints) and metrics
//
// A request body is decoded exactly once into an [Inference], the canonical
// view every stage reads. A stage returns [Finding] values; a technical
// failure is an error, never a finding, so "denied" and "broken" stay
// distinct. [Decide] folds findings into one [Decision] for the route's
// [Mode]: in ModeEnforce a blocking finding stops the request, in
// ModeMonitor the request goes through and the would-be block is recorded.
//
// Clients only ever see an [*Error]'s safe message, in their protocol's own
// format, with a request ID; internals go to the log under the same ID.
package rampart

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Principal is an authenticated caller (or the anonymous one).
type Principal struct {
	// ID is stable and unique within its Method, e.g. "key:<key id>",
	// "jwt:<subject>", "mtls:spiffe://corp/ns/a/sa/b".
	ID     string
	Method AuthMethod
	Tenant string
	Roles  []string
	// Attrs are extra ABAC attributes (JWT claims chosen by config, key labels).
	Attrs map[string]string
	// Rate is a per-principal override of the route's rate limit; zero means
	// the route's default.
	Rate RateLimit
}

// AuthMethod names how a principal proved who it is.
type AuthMethod string

const (
	AuthAnonymous AuthMethod = "anonymous"
	AuthAPIKey    AuthMethod = "apikey"
	AuthJWT       AuthMethod = "jwt"
	AuthMTLS      AuthMethod = "mtls"
)

// RateLimit is a token bucket: PerSecond tokens refill each second up to Burst.
type RateLimit struct {
	PerSecond float64 `yaml:"per_second" json:"per_second,omitempty"`
	Burst     int     `yaml:"burst" json:"burst,omitempty"`
}

// IsZero reports whether no limit is set.
func (r RateLimit) IsZero() bool { return r.PerSecond <= 0 }

// Protocol names a wire format a route speaks.
type Protocol string

const (
	ProtocolOIP     Protocol = "oip"     // Open Inference Protocol v2 (KServe, Triton, MLServer)
	ProtocolOpenAI  Protocol = "openai"  // OpenAI-compatible REST
	ProtocolGeneric Protocol = "generic" // JSON bodies checked against a JSON Schema
)

// Action is what a principal asks to do; it is the Cedar action ID.
type Action string

const (
	ActionInfer        Action = "infer"
	ActionReadMetadata Action = "read_metadata"
	ActionListModels   Action = "list_models"
	ActionHealth       Action = "health"
	ActionAdmin        Action = "admin"
)

// Inference is the canonical, decoded-once view of a request.
type Inference struct {
	Protocol Protocol
	Action   Action
	// Operation is the protocol-level operation, e.g. "infer",
	// "model_metadata", "chat.completions", "embeddings".
	Operation string
	Model     string
	Version   string
	Tensors   []Tensor
	Texts     []TextPart
	// Parameters holds scalar request parameters (temperature, max_tokens…).
	Parameters map[string]any
	Stream     bool
	BodyBytes  int
	// BinaryBytes is the size of Triton binary-tensor data after the JSON header.
	BinaryBytes int
}

// Tensor is one decoded input tensor.
type Tensor struct {
	Name     string
	Datatype string // OIP datatype: BOOL, INT8…UINT64, FP16, FP32, FP64, BYTES
	Shape    []int64
	// Elements is the product of Shape.
	Elements int
	// Numbers holds numeric data flattened in row-major order (nil for BYTES
	// or binary tensors). Booleans are 0/1.
	Numbers []float64
	// Strings holds BYTES elements.
	Strings []string
	// BinarySize is >0 when the data travels in Triton's binary extension.
	BinarySize int
	NaNs, Infs int
}

// TextPart is a piece of natural-language input with its role.
type TextPart struct {
	Role string // system, user, assistant, tool, prompt, input
	Text string
}

// Severity of a finding.
type Severity int

const (
	SeverityInfo Severity = iota
	SeverityLow
	SeverityMedium
	SeverityHigh
	SeverityCritical
)

var severityNames = [...]string{"info", "low", "medium", "high", "critical"}

func (s Severity) String() string {
	if s < 0 || int(s) >= len(severityNames) {
		return fmt.Sprintf("severity(%d)", int(s))
	}
	return severityNames[s]
}

// ParseSeverity reads a severity name.
func ParseSeverity(s string) (Severity, error) {
	for i, n := range severityNames {
		if n == s {
			return Severity(i), nil
		}
	}
	return 0, fmt.Errorf("unknown severity %q (want one of info, low, medium, high, critical)", s)
}

// MarshalText implements encoding.TextMarshaler.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// Verdict is the outcome of a decision.
type Verdict string

const (
	VerdictAllow    Verdict = "allow"
	VerdictFlag     Verdict = "flag"     // allowed, but noteworthy
	VerdictThrottle Verdict = "throttle" // refused for now (429)
	VerdictBlock    Verdict = "block"
)

var verdictRank = map[Verdict]int{VerdictAllow: 0, VerdictFlag: 1, VerdictThrottle: 2, VerdictBlock: 3}

// Finding is what a stage observed.
type Finding struct {
	Detector string   `json:"detector"`
	Kind     string   `json:"kind"`
	Severity Severity `json:"severity"`
	Score    float64  `json:"score,omitempty"`
	Reason   string   `json:"reason"`
	// Verdict is what the finding asks for; the route's mode decides whether
	// it is applied.
	Verdict Verdict `json:"verdict"`
	// Code maps a blocking finding to the client-facing error.
	Code Code `json:"code,omitempty"`
	// RetryAfter is set for throttling findings.
	RetryAfter time.Duration `json:"-"`
	// Mandatory findings are enforced in every mode: access control
	// (authentication, authorization, the model allowlist) is never
	// relaxed by monitor mode, which exists to tune detectors.
	Mandatory bool `json:"mandatory,omitempty"`
}

// Mode is how a route applies its findings.
type Mode string

const (
	ModeEnforce Mode = "enforce"
	ModeMonitor Mode = "monitor"
)

// Decision is the single outcome for a request.
type Decision struct {
	Verdict Verdict
	// Enforced is false when a route in monitor mode let through what would
	// otherwise have been refused.
	Enforced bool
	// Cause is the finding that set the verdict, if any.
	Cause    *Finding
	Findings []Finding
}

// Refused reports whether the request must not reach the upstream.
func (d Decision) Refused() bool {
	return d.Enforced && (d.Verdict == VerdictBlock || d.Verdict == VerdictThrottle)
}

// Decide folds findings into one decision for mode. The most severe verdict
// wins; among equals the highest severity, then the first, is the cause. In
// monitor mode a refusal is recorded but not enforced, unless a refusing
// finding is Mandatory: then that finding is the cause and it is enforced.
func Decide(mode Mode, findings []Finding) Decision {
	d := Decision{Verdict: VerdictAllow, Enforced: true, Findings: findings}
	var mandatory *Finding
	for i := range findings {
		f := &findings[i]
		v := f.Verdict
		if v == "" {
			v = VerdictFlag
		}
		if verdictRank[v] > verdictRank[d.Verdict] ||
			(d.Cause != nil && verdictRank[v] == verdictRank[d.Verdict] && f.Severity > d.Cause.Severity) {
			d.Verdict = v
			d.Cause = f
		}
		if f.Mandatory && verdictRank[v] >= verdictRank[VerdictThrottle] && mandatory == nil {
			mandatory = f
		}
	}
	if mode == ModeMonitor && (d.Verdict == VerdictBlock || d.Verdict == VerdictThrottle) {
		if mandatory != nil {
			d.Cause = mandatory
			d.Verdict = mandatory.Verdict
		} else {
			d.Enforced = false
		}
	}
	return d
}

// Code is a client-facing error class. Each code maps to one HTTP status in
// [Code.Status]; that table is the only error→HTTP mapping in Rampart.
type Code string

const (
	CodeInvalid         Code = "invalid_request"
	CodeUnauthenticated Code = "unauthenticated"
	CodeForbidden       Code = "forbidden"
	CodeNotFound        Code = "not_found"
	CodeMethod          Code = "method_not_allowed"
	CodeTooLarge        Code = "payload_too_large"
	CodeHeaderTooLarge  Code = "headers_too_large"
	CodeUnsupported     Code = "unsupported_media_type"
	CodeRateLimited     Code = "rate_limited"
	CodeOverloaded      Code = "overloaded"
	CodeUpstream        Code = "upstream_error"
	CodeTimeout         Code = "upstream_timeout"
	CodeUnavailable     Code = "unavailable"
	CodeInternal        Code = "internal_error"
)

// Status is the HTTP status for the code.
func (c Code) Status() int {
	switch c {
	case CodeInvalid:
		return http.StatusBadRequest
	case CodeUnauthenticated:
		return http.StatusUnauthorized
	case CodeForbidden:
		return http.StatusForbidden
	case CodeNotFound:
		return http.StatusNotFound
	case CodeMethod:
		return http.StatusMethodNotAllowed
	case CodeTooLarge:
		return http.StatusRequestEntityTooLarge
	case CodeHeaderTooLarge:
		return http.StatusRequestHeaderFieldsTooLarge
	case CodeUnsupported:
		return http.StatusUnsupportedMediaType
	case CodeRateLimited:
		return http.StatusTooManyRequests
	case CodeOverloaded, CodeUnavailable:
		return http.StatusServiceUnavailable
	case CodeUpstream:
		return http.StatusBadGateway
	case CodeTimeout:
		return http.StatusGatewayTimeout
	default:
		return http.StatusInternalServerError
	}
}

// Error is an error with a client-safe message. Err, if any, is internal
// detail for logs only.
type Error struct {
	Code    Code
	Message string // safe to show to clients
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf builds an *Error whose message is safe for clients.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err, or CodeInternal when err carries none.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// ErrorMessage returns the client-safe message of err; errors without one
// get a generic message so internals never leak.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}
