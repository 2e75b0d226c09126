package protocol

import (
	"net/http/httptest"
	"testing"
)

func TestNormalize(t *testing.T) {
	d := DefaultLimits()
	if d.MaxBodyBytes != 4<<20 || d.MaxDepth != 32 || d.MaxTensors != 64 || d.MaxElements != 1<<20 || d.MaxStringLen != 64<<10 {
		t.Errorf("defaults %+v", d)
	}
	if got := (Limits{}).Normalize(); got != d {
		t.Errorf("zero limits normalise to %+v", got)
	}
	if got := (Limits{MaxDepth: -1, MaxTensors: 3}).Normalize(); got.MaxDepth != 32 || got.MaxTensors != 3 {
		t.Errorf("partial limits normalise to %+v", got)
	}
}

func TestWriteJSON(t *testing.T) {
	rec := httptest.NewRecorder()
	WriteJSON(rec, 413, "id-1", []byte(`{"error":"x"}`))
	h := rec.Header()
	if rec.Code != 413 || h.Get("Content-Type") != "application/json" || h.Get("Content-Length") != "13" ||
		h.Get("X-Request-Id") != "id-1" || h.Get("X-Content-Type-Options") != "nosniff" || rec.Body.String() != `{"error":"x"}` {
		t.Errorf("status %d headers %v body %q", rec.Code, h, rec.Body.String())
	}
	rec = httptest.NewRecorder()
	WriteJSON(rec, 400, "", []byte(`{}`))
	if _, ok := rec.Header()["X-Request-Id"]; ok {
		t.Error("empty request ID was set")
	}
}
