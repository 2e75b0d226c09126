// Package generic serves JSON routes that no built-in protocol describes:
// a request body is held to the strict JSON reader's rules and limits and
// then to a JSON Schema (draft 2020-12 by default, with format assertions
// on) the route's configuration names.
//
// A schema is compiled once at configuration load ([Compile]) so that a
// broken schema fails loudly at start-up, never per request. Schemas are
// loaded from local files only: a $ref to a remote URL is an error, so
// compiling never reaches the network.
package generic

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/rampart-ai/rampart"
	"github.com/rampart-ai/rampart/internal/protocol"
	"github.com/rampart-ai/rampart/internal/protocol/jsonstrict"
)

// Validator checks request bodies against one compiled schema.
type Validator struct {
	schema *jsonschema.Schema
	path   string
}

// Compile loads and compiles the JSON Schema at schemaPath.
func Compile(schemaPath string) (*Validator, error) {
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	c.UseLoader(jsonschema.SchemeURLLoader{"file": jsonschema.FileLoader{}})
	s, err := c.Compile(schemaPath)
	if err != nil {
		return nil, fmt.Errorf("compile JSON schema %s: %w", schemaPath, err)
	}
	return &Validator{schema: s, path: schemaPath}, nil
}

// Path is the file the schema was compiled from.
func (v *Validator) Path() string { return v.path }

// maxPointer bounds the JSON pointer quoted in an error message.
const maxPointer = 200

// Decode checks body and fills inf: Protocol, BodyBytes, Model (a
// top-level string "model", if any), Stream (a top-level boolean
// "stream"), Parameters (the other top-level scalars) and Texts (every
// string value in the document, role "input", for text detectors).
//
// Errors are *rampart.Error: CodeTooLarge for a breached limit, otherwise
// CodeInvalid; a schema violation names the JSON pointer of the failing
// value and the keyword it broke, never the schema's internals.
func (v *Validator) Decode(body []byte, lim protocol.Limits, inf *rampart.Inference) error {
	lim = lim.Normalize()
	inf.Protocol = rampart.ProtocolGeneric
	inf.BodyBytes = len(body)
	if int64(len(body)) > lim.MaxBodyBytes {
		return rampart.Errorf(rampart.CodeTooLarge, "request body is %d bytes, the limit is %d", len(body), lim.MaxBodyBytes)
	}
	if err := jsonstrict.Validate(body, lim); err != nil {
		return err
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		// The strict reader accepted the body, so this is a bug.
		return &rampart.Error{Code: rampart.CodeInternal, Message: "internal error", Err: fmt.Errorf("generic: decode checked body: %w", err)}
	}
	if err := v.schema.Validate(doc); err != nil {
		var ve *jsonschema.ValidationError
		if !errors.As(err, &ve) {
			return &rampart.Error{Code: rampart.CodeInternal, Message: "internal error", Err: fmt.Errorf("generic: validate: %w", err)}
		}
		leaf := deepest(ve)
		kw := "schema"
		if path := leaf.ErrorKind.KeywordPath(); len(path) > 0 {
			kw = path[len(path)-1]
		}
		return &rampart.Error{Code: rampart.CodeInvalid,
			Message: fmt.Sprintf("request body does not match the schema at %s (%s)", pointer(leaf.InstanceLocation), kw),
			Err:     err}
	}
	fill(doc, inf)
	if inf.Model != "" && !saneModel(inf.Model) {
		return rampart.Errorf(rampart.CodeInvalid, "model must be 1 to 256 bytes without control characters or \"..\"")
	}
	return nil
}

func saneModel(s string) bool {
	if len(s) > 256 || strings.Contains(s, "..") {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return false
		}
	}
	return true
}

// deepest picks the most specific cause: the one whose value lies deepest
// in the document, the first among equals.
func deepest(e *jsonschema.ValidationError) *jsonschema.ValidationError {
	best := e
	for _, c := range e.Causes {
		if d := deepest(c); len(d.InstanceLocation) > len(best.InstanceLocation) || best == e {
			best = d
		}
	}
	return best
}

// pointer writes an RFC 6901 JSON pointer, cut to maxPointer bytes.
func pointer(tokens []string) string {
	if len(tokens) == 0 {
		return `""`
	}
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(strings.NewReplacer("~", "~0", "/", "~1").Replace(t))
	}
	s := b.String()
	if len(s) > maxPointer {
		s = s[:maxPointer] + "…"
	}
	q, _ := json.Marshal(s)
	return string(q)
}

func fill(doc any, inf *rampart.Inference) {
	if obj, ok := doc.(map[string]any); ok {
		for k, val := range obj {
			switch x := val.(type) {
			case string:
				if k == "model" {
					inf.Model = x
					continue
				}
			case bool:
				if k == "stream" {
					inf.Stream = x
					continue
				}
			case json.Number:
				f, err := x.Float64()
				if err != nil {
					continue
				}
				val = f
			case nil:
			default:
				continue
			}
			if inf.Parameters == nil {
				inf.Parameters = make(map[string]any)
			}
			inf.Parameters[k] = val
		}
	}
	texts(doc, inf)
}

func texts(v any, inf *rampart.Inference) {
	switch x := v.(type) {
	case string:
		inf.Texts = append(inf.Texts, rampart.TextPart{Role: "input", Text: x})
	case []any:
		for _, e := range x {
			texts(e, inf)
		}
	case map[string]any:
		// Sorted, so detectors see the same order every time.
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			texts(x[k], inf)
		}
	}
}

// WriteError writes {"error":{"message":…,"request_id":…}} with status and
// the X-Request-Id header.
func WriteError(w http.ResponseWriter, status int, msg, requestID string) {
	type errBody struct {
		Message   string `json:"message"`
		RequestID string `json:"request_id"`
	}
	body, _ := json.Marshal(struct {
		Error errBody `json:"error"`
	}{errBody{Message: msg, RequestID: requestID}})
	protocol.WriteJSON(w, status, requestID, body)
}
