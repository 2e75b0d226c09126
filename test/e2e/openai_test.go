package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const openaiPolicies = `
@id("chat-users")
permit (principal in Rampart::Role::"chat", action in [Rampart::Action::"infer", Rampart::Action::"list_models", Rampart::Action::"read_metadata"], resource)
when { resource.classification != "restricted" };
`

func openaiConfig(upstream string) string {
	return fmt.Sprintf(`
listen: {address: "127.0.0.1:0"}
admin: {address: "127.0.0.1:0"}
audit: {dir: audit, flush_interval: 10ms}
identity:
  api_keys: {db: keys.db}
policies: [policies.cedar]
routes:
  - name: llm
    prefix: /v1
    protocol: openai
    upstream: %q
    models:
      bigram-chat: {attributes: {classification: public}}
      bigram-chat-restricted: {attributes: {classification: restricted}}
      hashed-bow-256: {attributes: {classification: public}}
    stages:
      - type: param_bounds
        with: {max: {max_tokens: 4096, temperature: 2}}
      - type: text_match
        name: injection
        with: {patterns: ['ignore (all )?previous instructions'], roles: [user]}
`, upstream)
}

// TestOpenAIClient drives the OpenAI-compatible routes with the official
// openai npm client, streaming and not, through the real gateway to a real
// (small) language model server.
func TestOpenAIClient(t *testing.T) {
	js := filepath.Join(repoRoot(t), "test", "e2e", "js")
	if _, err := os.Stat(filepath.Join(js, "node_modules", "openai")); err != nil {
		if inCI() {
			t.Fatalf("the openai npm package is not installed in %s (scripts/test.sh installs it): %v", js, err)
		}
		t.Skip("openai npm package not installed: run npm ci in test/e2e/js")
	}
	up := startUpstream(t, "openai")
	dir := t.TempDir()
	writeFile(t, dir, "policies.cedar", openaiPolicies)
	writeFile(t, dir, "rampart.yaml", openaiConfig(up.URL))
	key := createKey(t, filepath.Join(dir, "keys.db"), "chatter", "acme", "--role", "chat")
	g := startGateway(t, dir)

	cmd := exec.Command("node", "openai_client.mjs", g.URL+"/v1", key, "rk_bogus")
	cmd.Dir = js
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var r struct {
			Check string `json:"check"`
			OK    bool   `json:"ok"`
			Error string `json:"error"`
		}
		if json.Unmarshal([]byte(line), &r) != nil {
			t.Errorf("unexpected client output: %s", line)
			continue
		}
		if !r.OK {
			t.Errorf("%s: %s", r.Check, r.Error)
		}
	}
	if err != nil {
		t.Fatalf("openai client: %v\nstderr: %s\ngateway logs:\n%s", err, errOut.String(), g.Logs())
	}

	t.Run("restricted model forbidden in OpenAI's error format", func(t *testing.T) {
		r := g.do("POST", "/v1/chat/completions", key, []byte(`{"model":"bigram-chat-restricted","messages":[{"role":"user","content":"hi"}]}`))
		if r.Status != 403 {
			t.Fatalf("status %d: %s", r.Status, r.Body)
		}
		var e struct {
			Error struct {
				Message, Type string
				Code          any
			}
		}
		if err := json.Unmarshal(r.Body, &e); err != nil || e.Error.Message == "" || e.Error.Type == "" {
			t.Fatalf("not an OpenAI error body: %s", r.Body)
		}
	})
}
