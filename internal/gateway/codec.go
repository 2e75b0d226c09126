package gateway

import (
	"net/http"

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
		n, err := parseNonNeg(v)
		if err != nil {
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

func parseNonNeg(s string) (int, error) {
	n := 0
	if s == "" || len(s) > 12 {
		return 0, errBadNumber
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, errBadNumber
		}
		n = n*10 + int(c-'0')
	}
	return n, nil
}

type constErr string

func (e constErr) Error() string { return string(e) }

const errBadNumber = constErr("not a non-negative integer")

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
