// Package protocol holds what every wire-format decoder shares: the bounds a
// request body is decoded under and the one way error bodies are written.
//
// The decoders live in subpackages (oip, openai, generic); each turns a
// request body into a [rampart.Inference] exactly once, under [Limits], so
// no later stage ever re-parses untrusted bytes.
package protocol

import (
	"net/http"
	"strconv"
)

// Limits bounds the work a decoder may do on one request body. A breach is
// reported as rampart.CodeTooLarge; a zero field means "use the default",
// so a partly filled Limits is still safe.
type Limits struct {
	// MaxBodyBytes is the largest body accepted, JSON header and Triton
	// binary data together.
	MaxBodyBytes int64
	// MaxDepth is the deepest nesting of JSON arrays and objects.
	MaxDepth int
	// MaxTensors is the most input (and, separately, output) tensors.
	MaxTensors int
	// MaxElements is the most JSON array elements plus object members in
	// one document, and the most elements in one tensor.
	MaxElements int
	// MaxStringLen is the longest JSON string or number literal, in bytes
	// after unescaping.
	MaxStringLen int
}

// DefaultLimits returns the secure defaults: 4 MiB bodies, depth 32,
// 64 tensors, 1<<20 elements and 64 KiB strings.
func DefaultLimits() Limits {
	return Limits{
		MaxBodyBytes: 4 << 20,
		MaxDepth:     32,
		MaxTensors:   64,
		MaxElements:  1 << 20,
		MaxStringLen: 64 << 10,
	}
}

// Normalize replaces each zero or negative field with its default.
func (l Limits) Normalize() Limits {
	d := DefaultLimits()
	if l.MaxBodyBytes <= 0 {
		l.MaxBodyBytes = d.MaxBodyBytes
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = d.MaxDepth
	}
	if l.MaxTensors <= 0 {
		l.MaxTensors = d.MaxTensors
	}
	if l.MaxElements <= 0 {
		l.MaxElements = d.MaxElements
	}
	if l.MaxStringLen <= 0 {
		l.MaxStringLen = d.MaxStringLen
	}
	return l
}

// WriteJSON writes a complete JSON error body. The request ID goes in the
// X-Request-Id header so clients and logs can be joined; nosniff and
// no-store keep browsers and caches from reinterpreting or keeping errors.
func WriteJSON(w http.ResponseWriter, status int, requestID string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	if requestID != "" {
		h.Set("X-Request-Id", requestID)
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
