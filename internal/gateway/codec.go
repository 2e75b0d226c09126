package gateway

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/rampart-ai/rampart"
	"github.com/rampart-ai/rampart/internal/protocol"
	"github.com/rampart-ai/rampart/internal/protocol/generic"
	"github.com/rampart-ai/rampart/internal/protocol/oip"
	"github.com/rampart-ai/rampart/internal/protocol/openai"
)

// codec adapts one wire protocol to the pipeline: it classifies a path,
// decodes a body once into the canonical view and writes errors in the
// protocol's own format.
type codec interface {
	// classify fills inf's Operation, Action, Model and Version from the
	// method and the (prefix-stripped, escaped) path. ok=false: not a path
	// of this protocol.
	classify(method, path string, inf *rampart.Inference) (ok bool, err error)
	// decode parses body into inf under lim. It is only called for
	// operations that carry a body.
	decode(r *http.Request, body []byte, lim protocol.Limits, inf *rampart.Inference) error
	writeError(w http.ResponseWriter, code rampart.Code, msg, requestID string)
	// streams reports whether a response to inf may be a server-sent event
	// stream that must be relayed event by event.
	streams(inf *rampart.Inference) bool
}

type oipCodec struct{}

func (oipCodec) classify(method, path string, inf *rampart.Inference) (bool, error) {
	m, ok, err := oip.Route(method, path)
	if !ok || err != nil {
		return ok, err
	}
	inf.Operation, inf.Action, inf.Model, inf.Version = m.Operation, m.Action, m.Model, m.Version
	return true, nil
}

func (oipCodec) decode(r *http.Request, body []byte, lim protocol.Limits, inf *rampart.Inference) error {
	if inf.Operation != oip.OpInfer {
		if len(body) > 0 {
			return rampart.Errorf(rampart.CodeInvalid, "%s takes no request body", inf.Operation)
		}
		return nil
	}
	jsonLen := -1
	if v := r.Header.Get("Inference-Header-Content-Length"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || len(v) > 12 || v[0] < '0' || v[0] > '9' {
			return rampart.Errorf(rampart.CodeInvalid, "invalid Inference-Header-Content-Length")
		}
		jsonLen = n
	}
	return oip.DecodeInfer(body, jsonLen, lim, inf)
}

func (oipCodec) writeError(w http.ResponseWriter, code rampart.Code, msg, id string) {
	oip.WriteError(w, code.Status(), msg, id)
}

func (oipCodec) streams(*rampart.Inference) bool { return false }

type openaiCodec struct{}

func (openaiCodec) classify(method, path string, inf *rampart.Inference) (bool, error) {
	op, action, ok := openai.Route(method, path)
	if !ok {
		return false, nil
	}
	inf.Operation, inf.Action = op, action
	if op == openai.OpRetrieveModel {
		m, ok := openai.PathModel(path)
		if ok {
			// The upstream decodes the escapes left in the path; policies
			// must see the same name.
			dm, err := url.PathUnescape(m)
			if err != nil || openai.CheckModel(dm) != "" {
				ok = false
			}
			m = dm
		}
		if !ok {
			return true, rampart.Errorf(rampart.CodeInvalid, "invalid model name in path")
		}
		inf.Model = m
	}
	return true, nil
}

func (openaiCodec) decode(r *http.Request, body []byte, lim protocol.Limits, inf *rampart.Inference) error {
	if inf.Action != rampart.ActionInfer {
		if len(body) > 0 {
			return rampart.Errorf(rampart.CodeInvalid, "%s takes no request body", inf.Operation)
		}
		return nil
	}
	return openai.Decode(inf.Operation, body, lim, inf)
}

func (openaiCodec) writeError(w http.ResponseWriter, code rampart.Code, msg, id string) {
	openai.WriteError(w, code.Status(), code, msg, id)
}

func (openaiCodec) streams(inf *rampart.Inference) bool { return inf.Stream }

type genericCodec struct{ v *generic.Validator }

func (genericCodec) classify(method, path string, inf *rampart.Inference) (bool, error) {
	if method != http.MethodPost {
		return true, rampart.Errorf(rampart.CodeMethod, "method %s not allowed: use POST", safeToken(method))
	}
	inf.Operation, inf.Action = "invoke", rampart.ActionInfer
	return true, nil
}

func (g genericCodec) decode(r *http.Request, body []byte, lim protocol.Limits, inf *rampart.Inference) error {
	return g.v.Decode(body, lim, inf)
}

func (genericCodec) writeError(w http.ResponseWriter, code rampart.Code, msg, id string) {
	generic.WriteError(w, code.Status(), msg, id)
}

func (genericCodec) streams(*rampart.Inference) bool { return false }

// safeToken returns s if it is a short token, else a placeholder, so
// client-controlled text is not echoed back raw.
func safeToken(s string) string {
	if len(s) > 16 {
		return "(method)"
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 'A' || c > 'Z' {
			return "(method)"
		}
	}
	return s
}

// canonicalPath returns the one form of an escaped request path that
// routing, classification, policies and the upstream all see. Percent-
// encoded unreserved characters are decoded (so "/v2/models/secre%74" is
// "/v2/models/secret" for the router too), other escapes are kept with
// upper-case hex, and anything that different parsers read differently is
// refused: encoded slashes and backslashes, dot segments, empty segments,
// control characters and bad escapes.
func canonicalPath(p string) (string, error) {
	if p == "" || p[0] != '/' {
		return "", rampart.Errorf(rampart.CodeInvalid, "request path must start with /")
	}
	if len(p) > 4096 {
		return "", rampart.Errorf(rampart.CodeInvalid, "request path too long")
	}
	clean := true
	for i := 0; i < len(p); i++ {
		if c := p[i]; c == '%' || c == '.' || c < 0x21 || c == 0x7f || c == '\\' || (c == '/' && i+1 < len(p) && p[i+1] == '/') {
			clean = false
			break
		}
	}
	if clean {
		return p, nil // the common case allocates nothing
	}
	out := make([]byte, 0, len(p))
	segStart := 0
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '/':
			if err := checkSegment(out[segStart:]); err != nil {
				return "", err
			}
			if i > 0 && len(out) == segStart && i < len(p) {
				return "", rampart.Errorf(rampart.CodeInvalid, "empty path segment")
			}
			out = append(out, '/')
			segStart = len(out)
		case c == '%':
			if i+2 >= len(p) || !isHex(p[i+1]) || !isHex(p[i+2]) {
				return "", rampart.Errorf(rampart.CodeInvalid, "malformed percent-escape in path")
			}
			d := unhex(p[i+1])<<4 | unhex(p[i+2])
			switch {
			case isUnreserved(d):
				out = append(out, d)
			case d == '/' || d == '\\':
				return "", rampart.Errorf(rampart.CodeInvalid, "encoded slash in path")
			case d < 0x20 || d == 0x7f:
				return "", rampart.Errorf(rampart.CodeInvalid, "control character in path")
			default:
				out = append(out, '%', upperHex[d>>4], upperHex[d&15])
			}
			i += 2
		case c < 0x21 || c == 0x7f || c == '\\':
			return "", rampart.Errorf(rampart.CodeInvalid, "invalid character in path")
		default:
			out = append(out, c)
		}
	}
	if err := checkSegment(out[segStart:]); err != nil {
		return "", err
	}
	return string(out), nil
}

func checkSegment(seg []byte) error {
	if string(seg) == "." || string(seg) == ".." {
		return rampart.Errorf(rampart.CodeInvalid, "dot segment in path")
	}
	return nil
}

// checkQuery refuses raw query bytes that would corrupt an upstream request
// line (HTTP/2 lets a client send them).
func checkQuery(q string) error {
	for i := 0; i < len(q); i++ {
		if c := q[i]; c < 0x21 || c == 0x7f || c == '#' {
			return rampart.Errorf(rampart.CodeInvalid, "invalid character in query string")
		}
	}
	return nil
}

const upperHex = "0123456789ABCDEF"

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

func isUnreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}
