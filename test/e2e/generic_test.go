package e2e

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

const embedSchema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "required": ["model", "input"],
  "additionalProperties": false,
  "properties": {
    "model": {"const": "hashed-bow-256"},
    "input": {"type": "string", "maxLength": 200}
  }
}`

// TestGenericRouteAndConcurrencyCap checks a generic JSON route validated
// by a JSON Schema, and a per-route concurrency cap answering 503 with
// Retry-After while the route is saturated.
func TestGenericRouteAndConcurrencyCap(t *testing.T) {
	up := startUpstream(t, "openai")
	dir := t.TempDir()
	writeFile(t, dir, "policies.cedar", allowAnalysts)
	writeFile(t, dir, "embed.schema.json", embedSchema)
	writeFile(t, dir, "rampart.yaml", fmt.Sprintf(`
listen: {address: "127.0.0.1:0"}
admin: {address: "127.0.0.1:0"}
audit: {dir: audit}
identity: {api_keys: {db: keys.db}}
policies: [policies.cedar]
routes:
  - name: embed
    prefix: /v1/embeddings
    protocol: generic
    schema: embed.schema.json
    upstream: %[1]q
  - name: llm
    prefix: /v1
    protocol: openai
    upstream: %[1]q
    max_concurrency: 1
`, up.URL))
	key := createKey(t, filepath.Join(dir, "keys.db"), "a", "t", "--role", "analyst")
	g := startGateway(t, dir)

	tests := []struct {
		name   string
		body   string
		status int
		errHas string
	}{
		{"valid", `{"model":"hashed-bow-256","input":"hello there"}`, 200, ""},
		{"schema: unknown property", `{"model":"hashed-bow-256","input":"x","user":"u"}`, 400, "additionalProperties"},
		{"schema: wrong model", `{"model":"other","input":"x"}`, 400, "/model"},
		{"schema: too long", `{"model":"hashed-bow-256","input":"` + strings.Repeat("a", 300) + `"}`, 400, "/input"},
		{"strict JSON before schema", `{"model":"hashed-bow-256","model":"hashed-bow-256","input":"x"}`, 400, "duplicate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := g.do("POST", "/v1/embeddings", key, []byte(tc.body))
			if r.Status != tc.status {
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
			if tc.status == 200 {
				return
			}
			var e struct {
				Error struct{ Message string } `json:"error"`
			}
			if err := json.Unmarshal(r.Body, &e); err != nil || !strings.Contains(e.Error.Message, tc.errHas) {
				t.Fatalf("error body %s lacks %q", r.Body, tc.errHas)
			}
			if strings.Contains(e.Error.Message, "schema.json") {
				t.Errorf("error leaks the schema path: %s", r.Body)
			}
		})
	}

	t.Run("concurrency cap", func(t *testing.T) {
		var wg sync.WaitGroup
		statuses := make([]int, 4)
		retry := make([]string, 4)
		for i := range statuses {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := g.do("POST", "/v1/chat/completions", key, []byte(`{"model":"bigram-chat","stream":true,"max_tokens":30,"messages":[{"role":"user","content":"a long tale"}]}`))
				statuses[i], retry[i] = r.Status, r.Header.Get("Retry-After")
			}()
		}
		wg.Wait()
		ok, busy := 0, 0
		for i, s := range statuses {
			switch s {
			case 200:
				ok++
			case 503:
				busy++
				if retry[i] == "" {
					t.Error("503 without Retry-After")
				}
			default:
				t.Errorf("status %d", s)
			}
		}
		if ok < 1 || busy < 1 {
			t.Fatalf("statuses %v: want one served and the others refused while the cap of 1 is taken", statuses)
		}
	})
}
