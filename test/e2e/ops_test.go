package e2e

import (
	"database/sql"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

const allowAnalysts = `
@id("analysts")
permit (principal in Rampart::Role::"analyst", action, resource);
`

func demoConfig(upstream string, extra string) string {
	return fmt.Sprintf(`
listen: {address: "127.0.0.1:0"}
admin: {address: "127.0.0.1:0"}
audit: {dir: audit}
identity:
  api_keys: {db: keys.db}
policies: [policies.cedar]
routes:
  - name: clinical
    prefix: /v2
    protocol: oip
    upstream: %q
    must_log: true
    models:
      breast-cancer:
        attributes: {classification: public}
        inputs: [{name: features, datatype: FP32, shape: [-1, 30]}]
%s`, upstream, extra)
}

// TestMustLogSurvivesSIGKILL acknowledges a request on a must-log route,
// kills the gateway with SIGKILL at once, and finds the record after restart.
func TestMustLogSurvivesSIGKILL(t *testing.T) {
	up := startUpstream(t, "oip")
	dir := t.TempDir()
	writeFile(t, dir, "policies.cedar", allowAnalysts)
	writeFile(t, dir, "rampart.yaml", demoConfig(up.URL, ""))
	key := createKey(t, filepath.Join(dir, "keys.db"), "a", "t", "--role", "analyst")
	g := startGateway(t, dir)
	body := inferBody("features", []int{1, 30}, row)
	var ids []string
	for range 3 {
		r := g.do("POST", "/v2/models/breast-cancer/infer", key, body)
		if r.Status != 200 {
			t.Fatalf("status %d: %s", r.Status, r.Body)
		}
		ids = append(ids, r.Header.Get("X-Request-Id"))
	}
	g.kill() // right after the last acknowledgement: no flush, no shutdown

	out, errOut, code := rampart(t, "audit", "verify", "--dir", filepath.Join(dir, "audit"))
	if code != 0 {
		t.Fatalf("audit verify after SIGKILL: exit %d: %s %s", code, out, errOut)
	}
	recs := auditRecords(t, filepath.Join(dir, "audit"))
	for _, id := range ids {
		if recordByID(recs, id) == nil {
			t.Fatalf("acknowledged must-log request %s has no durable record after SIGKILL", id)
		}
	}
	// And the gateway restarts on the same log and keeps appending to it.
	g2 := startGateway(t, dir)
	if r := g2.do("POST", "/v2/models/breast-cancer/infer", key, body); r.Status != 200 {
		t.Fatalf("after restart: %d", r.Status)
	}
	g2.stop()
	if _, errOut, code := rampart(t, "audit", "verify", "--dir", filepath.Join(dir, "audit")); code != 0 {
		t.Fatalf("verify after restart: %s", errOut)
	}
}

// TestMustLogFailsClosed makes the audit store unwritable: a must-log route
// must refuse rather than answer without a durable record.
func TestMustLogFailsClosed(t *testing.T) {
	up := startUpstream(t, "oip")
	dir := t.TempDir()
	writeFile(t, dir, "policies.cedar", allowAnalysts)
	writeFile(t, dir, "rampart.yaml", demoConfig(up.URL, `  - name: best-effort
    prefix: /be
    strip_prefix: true
    protocol: oip
    upstream: `+fmt.Sprintf("%q", up.URL)+`
`))
	key := createKey(t, filepath.Join(dir, "keys.db"), "a", "t", "--role", "analyst")
	g := startGateway(t, dir)
	body := inferBody("features", []int{1, 30}, row)
	if r := g.do("POST", "/v2/models/breast-cancer/infer", key, body); r.Status != 200 {
		t.Fatalf("status %d", r.Status)
	}
	// Break the store under the running gateway the way a failing disk
	// would: every insert now aborts.
	db, err := sql.Open("sqlite", filepath.Join(dir, "audit", "audit.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TRIGGER fail BEFORE INSERT ON records BEGIN SELECT RAISE(ABORT, 'injected disk failure'); END`); err != nil {
		t.Fatal(err)
	}
	r := g.do("POST", "/v2/models/breast-cancer/infer", key, body)
	if r.Status != 503 {
		t.Fatalf("must-log route answered %d with a broken audit store: %s", r.Status, r.Body)
	}
	// A best-effort route keeps serving and spools.
	r = g.do("POST", "/be/v2/models/breast-cancer/infer", key, body)
	if r.Status != 200 {
		t.Fatalf("best-effort route answered %d", r.Status)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		m := g.metrics()
		if strings.Contains(m, "rampart_audit_spooled ") && !strings.Contains(m, "rampart_audit_spooled 0\n") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("spool alert metric never rose:\n%s", grep(m, "rampart_audit"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Healed, the spool is replayed and the log verifies.
	if _, err := db.Exec(`DROP TRIGGER fail`); err != nil {
		t.Fatal(err)
	}
	g.stop()
	if out, errOut, code := rampart(t, "audit", "verify", "--dir", filepath.Join(dir, "audit")); code != 0 {
		t.Fatalf("verify after healing: %s %s", out, errOut)
	}
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestReload swaps a valid config on SIGHUP and keeps the running one when
// the new file is invalid.
func TestReload(t *testing.T) {
	up := startUpstream(t, "oip")
	dir := t.TempDir()
	pol := writeFile(t, dir, "policies.cedar", allowAnalysts)
	writeFile(t, dir, "rampart.yaml", demoConfig(up.URL, ""))
	key := createKey(t, filepath.Join(dir, "keys.db"), "a", "t", "--role", "analyst")
	g := startGateway(t, dir)
	body := inferBody("features", []int{1, 30}, row)
	if r := g.do("POST", "/v2/models/breast-cancer/infer", key, body); r.Status != 200 {
		t.Fatalf("status %d", r.Status)
	}
	// A broken policy file is refused: the old policies keep serving.
	if err := os.WriteFile(pol, []byte("permit (principal, action"), 0o600); err != nil {
		t.Fatal(err)
	}
	g.signal(syscall.SIGHUP)
	waitFor(t, func() bool { return strings.Contains(g.Logs(), "config reload rejected") })
	if !strings.Contains(g.Logs(), "policies.cedar:1") {
		t.Errorf("reload rejection does not name file and line:\n%s", grep(g.Logs(), "reload"))
	}
	if r := g.do("POST", "/v2/models/breast-cancer/infer", key, body); r.Status != 200 {
		t.Fatalf("after a rejected reload: status %d", r.Status)
	}
	// A valid policy that permits nothing takes effect.
	if err := os.WriteFile(pol, []byte(`@id("nobody") permit (principal in Rampart::Role::"nobody", action, resource);`), 0o600); err != nil {
		t.Fatal(err)
	}
	g.signal(syscall.SIGHUP)
	waitFor(t, func() bool { return strings.Contains(g.Logs(), "config reloaded") })
	if r := g.do("POST", "/v2/models/breast-cancer/infer", key, body); r.Status != 403 {
		t.Fatalf("after reload: status %d, want 403", r.Status)
	}
	m := g.metrics()
	if !strings.Contains(m, `rampart_config_reloads_total{result="rejected"} 1`) || !strings.Contains(m, `rampart_config_reloads_total{result="ok"} 1`) {
		t.Errorf("reload metrics:\n%s", grep(m, "reloads"))
	}
}

// TestReloadOnFileChange: with reload.watch on, editing a policy file is
// enough; no signal is needed.
func TestReloadOnFileChange(t *testing.T) {
	up := startUpstream(t, "oip")
	dir := t.TempDir()
	pol := writeFile(t, dir, "policies.cedar", allowAnalysts)
	writeFile(t, dir, "rampart.yaml", demoConfig(up.URL, "")+"reload: {watch: true, interval: 100ms}\n")
	key := createKey(t, filepath.Join(dir, "keys.db"), "a", "t", "--role", "analyst")
	g := startGateway(t, dir)
	body := inferBody("features", []int{1, 30}, row)
	if r := g.do("POST", "/v2/models/breast-cancer/infer", key, body); r.Status != 200 {
		t.Fatalf("status %d", r.Status)
	}
	time.Sleep(1100 * time.Millisecond) // a new modification time, even on coarse clocks
	if err := os.WriteFile(pol, []byte(`@id("nobody") permit (principal in Rampart::Role::"nobody", action, resource);`), 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return strings.Contains(g.Logs(), "config reloaded") })
	if r := g.do("POST", "/v2/models/breast-cancer/infer", key, body); r.Status != 403 {
		t.Fatalf("after the file changed: status %d, want 403", r.Status)
	}
}

// TestGracefulShutdown sends SIGTERM while requests are in flight; they
// complete, and the audit log holds them.
func TestGracefulShutdown(t *testing.T) {
	up := startUpstream(t, "openai")
	dir := t.TempDir()
	writeFile(t, dir, "policies.cedar", allowAnalysts)
	writeFile(t, dir, "rampart.yaml", fmt.Sprintf(`
listen: {address: "127.0.0.1:0"}
admin: {address: "127.0.0.1:0"}
audit: {dir: audit}
identity: {api_keys: {db: keys.db}}
policies: [policies.cedar]
routes:
  - {name: llm, prefix: /v1, protocol: openai, upstream: %q}
`, up.URL))
	key := createKey(t, filepath.Join(dir, "keys.db"), "a", "t", "--role", "analyst")
	g := startGateway(t, dir)
	var wg sync.WaitGroup
	statuses := make([]int, 4)
	bodies := make([]string, 4)
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A long streamed answer: ~60 chunks 15 ms apart.
			r := g.do("POST", "/v1/chat/completions", key, []byte(`{"model":"bigram-chat","stream":true,"max_tokens":60,"messages":[{"role":"user","content":"tell me a long story"}]}`))
			statuses[i], bodies[i] = r.Status, string(r.Body)
		}()
	}
	time.Sleep(200 * time.Millisecond)
	g.signal(syscall.SIGTERM)
	wg.Wait()
	<-g.done
	for i, s := range statuses {
		if s != 200 || !strings.Contains(bodies[i], "data: [DONE]") {
			t.Fatalf("in-flight request %d cut by shutdown: status %d, body ends %q", i, s, tail(bodies[i], 80))
		}
	}
	recs := auditRecords(t, filepath.Join(dir, "audit"))
	if len(recs) < 4 {
		t.Fatalf("%d audit records for 4 drained requests", len(recs))
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 15s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestAdminEndpoints checks health, readiness and that /metrics is not on
// the client listener.
func TestAdminEndpoints(t *testing.T) {
	up := startUpstream(t, "oip")
	dir := t.TempDir()
	writeFile(t, dir, "policies.cedar", allowAnalysts)
	writeFile(t, dir, "rampart.yaml", demoConfig(up.URL, ""))
	g := startGateway(t, dir)
	for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
		resp, err := http.Get(g.Admin + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s: %d", p, resp.StatusCode)
		}
	}
	if r := g.do("GET", "/metrics", "", nil); r.Status != 404 {
		t.Errorf("/metrics on the client listener: %d", r.Status)
	}
}
