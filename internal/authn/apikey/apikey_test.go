package apikey

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/rampart-ai/rampart"
)

func openTemp(t testing.TB) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "keys.db")
	s, err := OpenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func request(headers map[string][]string) *http.Request {
	r := httptest.NewRequest("POST", "/v2/models/m/infer", nil)
	for k, vs := range headers {
		for _, v := range vs {
			r.Header.Add(k, v)
		}
	}
	return r
}

func TestKeyFormat(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		id, key, _, err := newKey()
		if err != nil {
			t.Fatal(err)
		}
		if len(key) != KeyLen || !strings.HasPrefix(key, "rk_"+id+"_") {
			t.Fatalf("bad key shape %q", key)
		}
		gotID, secret, ok := parseKey(key)
		if !ok || gotID != id || len(secret)*5 < 256 {
			t.Fatalf("parseKey(%q) = %q, %q, %v", key, gotID, secret, ok)
		}
		if seen[key] {
			t.Fatal("duplicate key")
		}
		seen[key] = true
	}
}

func TestAuthenticate(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	plain, k, err := s.Create(ctx, Spec{Name: "ci", Roles: []string{"analyst"}, Tenant: "acme",
		Attrs: map[string]string{"team": "fraud"}, Rate: rampart.RateLimit{PerSecond: 5, Burst: 10}})
	if err != nil {
		t.Fatal(err)
	}
	id, secret, _ := parseKey(plain)
	flipped := []byte(secret)
	flipped[len(flipped)-1] = 'a'
	if secret[len(secret)-1] == 'a' {
		flipped[len(flipped)-1] = 'b'
	}
	wrongSecret := "rk_" + id + "_" + string(flipped)
	unknownID := "rk_" + strings.Repeat("a", 16) + "_" + secret
	a := NewAuthenticator(s)

	tests := []struct {
		name    string
		headers map[string][]string
		wantID  string
		absent  bool
	}{
		{name: "bearer", headers: map[string][]string{"Authorization": {"Bearer " + plain}}, wantID: "key:" + k.ID},
		{name: "x-api-key", headers: map[string][]string{"X-Api-Key": {plain}}, wantID: "key:" + k.ID},
		{name: "no credential", absent: true},
		{name: "jwt bearer is not ours", headers: map[string][]string{"Authorization": {"Bearer eyJhbGciOi.eyJzdWIi.sig"}}, absent: true},
		{name: "basic auth is not ours", headers: map[string][]string{"Authorization": {"Basic dTpw"}}, absent: true},
		{name: "wrong secret", headers: map[string][]string{"Authorization": {"Bearer " + wrongSecret}}},
		{name: "unknown id", headers: map[string][]string{"X-API-Key": {unknownID}}},
		{name: "truncated", headers: map[string][]string{"X-API-Key": {plain[:len(plain)-1]}}},
		{name: "uppercased", headers: map[string][]string{"X-API-Key": {strings.ToUpper(plain)}}},
		{name: "two x-api-key headers", headers: map[string][]string{"X-API-Key": {plain, plain}}},
		{name: "both headers", headers: map[string][]string{"X-API-Key": {plain}, "Authorization": {"Bearer " + plain}}},
		{name: "malformed bearer", headers: map[string][]string{"Authorization": {"Bearer " + plain + " x"}}},
		{name: "x-api-key with space", headers: map[string][]string{"X-API-Key": {plain + " "}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := a.Authenticate(request(tt.headers))
			switch {
			case tt.absent:
				if p != nil || err != nil {
					t.Fatalf("got %v, %v; want nil, nil", p, err)
				}
			case tt.wantID != "":
				if err != nil {
					t.Fatal(err)
				}
				want := &rampart.Principal{ID: tt.wantID, Method: rampart.AuthAPIKey, Tenant: "acme", Roles: []string{"analyst"},
					Attrs: map[string]string{"team": "fraud", "key_name": "ci"}, Rate: rampart.RateLimit{PerSecond: 5, Burst: 10}}
				if p.ID != want.ID || p.Method != want.Method || p.Tenant != want.Tenant || !slices.Equal(p.Roles, want.Roles) ||
					p.Rate != want.Rate || len(p.Attrs) != 2 || p.Attrs["team"] != "fraud" || p.Attrs["key_name"] != "ci" {
					t.Fatalf("principal = %+v, want %+v", p, want)
				}
			default:
				if p != nil || rampart.ErrorCode(err) != rampart.CodeUnauthenticated {
					t.Fatalf("got %v, %v; want unauthenticated", p, err)
				}
			}
		})
	}
}

func TestPlaintextNeverStored(t *testing.T) {
	ctx := context.Background()
	s, path := openTemp(t)
	plain, _, err := s.Create(ctx, Spec{Name: "x"})
	if err != nil {
		t.Fatal(err)
	}
	_, secret, _ := parseKey(plain)
	s.Close()
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key db mode: %v, %v", st.Mode(), err)
	}
	for _, f := range []string{path, path + "-wal"} {
		b, err := os.ReadFile(f)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(secret)) {
			t.Fatalf("%s contains the key secret", f)
		}
	}
}

func TestExpiry(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	plain, _, err := s.Create(ctx, Spec{Expires: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	a := NewAuthenticator(s)
	for _, tt := range []struct {
		name string
		at   time.Time
		ok   bool
	}{
		{"before expiry", time.Now(), true},
		{"after expiry", time.Now().Add(2 * time.Hour), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a.now = func() time.Time { return tt.at }
			_, err := a.Check(plain)
			if (err == nil) != tt.ok {
				t.Fatalf("Check at %v: %v", tt.at, err)
			}
		})
	}
}

func TestRotate(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	oldPlain, old, err := s.Create(ctx, Spec{Name: "svc", Roles: []string{"admin"}, Tenant: "t1"})
	if err != nil {
		t.Fatal(err)
	}
	newPlain, nk, err := s.Rotate(ctx, old.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if nk.ID == old.ID || nk.RotatedFrom != old.ID || nk.Name != "svc" || nk.Tenant != "t1" || !slices.Equal(nk.Roles, []string{"admin"}) {
		t.Fatalf("rotated key = %+v", nk)
	}
	a := NewAuthenticator(s)
	for _, tt := range []struct {
		name      string
		at        time.Time
		oldOK     bool
		newOK     bool
		oldStatus string
	}{
		{"during grace", time.Now(), true, true, "revoking"},
		{"after grace", time.Now().Add(2 * time.Hour), false, true, "revoked"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a.now = func() time.Time { return tt.at }
			if _, err := a.Check(oldPlain); (err == nil) != tt.oldOK {
				t.Errorf("old key: %v", err)
			}
			if _, err := a.Check(newPlain); (err == nil) != tt.newOK {
				t.Errorf("new key: %v", err)
			}
			k, err := s.Get(ctx, old.ID)
			if err != nil {
				t.Fatal(err)
			}
			if st := k.Status(tt.at); st != tt.oldStatus {
				t.Errorf("old key status = %s, want %s", st, tt.oldStatus)
			}
		})
	}
	// Without grace the old key stops at once; a revoked key cannot be rotated again.
	_, nk2, err := s.Rotate(ctx, nk.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	a.now = time.Now
	if _, err := a.Check(newPlain); err == nil {
		t.Fatal("key rotated without grace still accepted")
	}
	if _, _, err := s.Rotate(ctx, nk.ID, 0); err == nil {
		t.Fatal("rotated an already revoked key")
	}
	if _, _, err := s.Rotate(ctx, "nosuchkeyaaaaaaa", 0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("rotate unknown: %v", err)
	}
	keys, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{}
	for _, k := range keys {
		ids = append(ids, k.ID)
	}
	want := []string{old.ID, nk.ID, nk2.ID}
	sort.Strings(ids)
	sort.Strings(want)
	if !slices.Equal(ids, want) {
		t.Fatalf("List ids = %v, want %v", ids, want)
	}
}

// TestRegressionRevokedKeyStillAccepted guards against a revoked key
// continuing to authenticate. The attack: a key leaks, the operator runs
// "rampart keys revoke" from the CLI (another process, another connection),
// but the gateway keeps serving the key from its in-memory snapshot because
// nothing told it the database changed. Watch must notice the commit via
// PRAGMA data_version and drop the key within one poll interval.
func TestRegressionRevokedKeyStillAccepted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	gw, path := openTemp(t)
	plain, k, err := gw.Create(ctx, Spec{Name: "leaked"})
	if err != nil {
		t.Fatal(err)
	}
	a := NewAuthenticator(gw)
	if _, err := a.Check(plain); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- gw.Watch(ctx, 20*time.Millisecond, func(err error) { t.Error(err) }) }()

	cli, err := OpenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := cli.Revoke(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	cli.Close()

	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := a.Check(plain)
		if err != nil {
			if rampart.ErrorCode(err) != rampart.CodeUnauthenticated {
				t.Fatalf("revoked key: %v", err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("revoked key still accepted after 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Revoking through the gateway's own store takes effect immediately.
	plain2, k2, _ := gw.Create(ctx, Spec{})
	if err := gw.Revoke(ctx, k2.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Check(plain2); err == nil {
		t.Fatal("key revoked in-process still accepted")
	}
	if err := gw.Revoke(ctx, "nosuchkeyaaaaaaa"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("revoke unknown: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestRegressionTimingSafeCompare guards against recovering a key through a
// timing side channel. The attack: with a byte-by-byte early-exit compare of
// the presented secret against a stored one, an attacker who knows a key id
// measures response times and learns the secret one byte at a time; with
// distinct errors or code paths for unknown ids, they enumerate key ids.
// Rampart compares only SHA-256 digests, with crypto/subtle, and gives an
// unknown id the same hash-and-compare work and the same error as a wrong
// secret.
func TestRegressionTimingSafeCompare(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	plain, _, err := s.Create(ctx, Spec{})
	if err != nil {
		t.Fatal(err)
	}
	id, secret, _ := parseKey(plain)
	d := hashSecret(id, secret)
	for _, tt := range []struct {
		name string
		b    []byte
		want bool
	}{
		{"equal", append([]byte(nil), d[:]...), true},
		{"first byte differs", func() []byte { b := append([]byte(nil), d[:]...); b[0] ^= 1; return b }(), false},
		{"last byte differs", func() []byte { b := append([]byte(nil), d[:]...); b[31] ^= 1; return b }(), false},
		{"prefix only", d[:31], false},
		{"empty", nil, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := digestMatch(d[:], tt.b); got != tt.want {
				t.Fatalf("digestMatch = %v, want %v", got, tt.want)
			}
		})
	}

	a := NewAuthenticator(s)
	unknown := "rk_" + strings.Repeat("b", 16) + "_" + secret
	wrong := "rk_" + id + "_" + strings.Repeat("a", 52)
	_, errUnknown := a.Check(unknown)
	_, errWrong := a.Check(wrong)
	if errUnknown == nil || errWrong == nil || rampart.ErrorMessage(errUnknown) != rampart.ErrorMessage(errWrong) {
		t.Fatalf("unknown id and wrong secret must fail alike: %v vs %v", errUnknown, errWrong)
	}
	if testing.Short() {
		return
	}
	// Coarse check that an unknown id does the same work as a wrong secret
	// (a missing dummy hash would make it several times faster).
	measure := func(key string) time.Duration {
		const n = 4000
		best := time.Duration(1 << 62)
		for range 5 {
			start := time.Now()
			for range n {
				a.Check(key)
			}
			best = min(best, time.Since(start))
		}
		return best
	}
	tu, tw := measure(unknown), measure(wrong)
	if ratio := float64(tw) / float64(tu); ratio > 2.5 || ratio < 0.4 {
		t.Fatalf("unknown id took %v, wrong secret %v: ratio %.2f leaks key existence", tu, tw, ratio)
	}
}

// FuzzParseKey feeds arbitrary presented keys to the parser and the checker:
// neither may panic, and only well-formed keys parse.
func FuzzParseKey(f *testing.F) {
	s, _ := openTemp(f)
	plain, _, err := s.Create(context.Background(), Spec{})
	if err != nil {
		f.Fatal(err)
	}
	a := NewAuthenticator(s)
	for _, seed := range []string{plain, "rk_", "rk__", plain[:20], strings.ToUpper(plain), "rk_aaaaaaaaaaaaaaaa_" + strings.Repeat("8", 52)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, key string) {
		id, secret, ok := parseKey(key)
		if ok && (len(id) != idLen || len(secret) != secretLen || !isB32(id+secret)) {
			t.Fatalf("parsed malformed key %q", key)
		}
		p, err := a.Check(key)
		if err == nil && key != plain {
			t.Fatalf("accepted %q as %v", key, p)
		}
		r := request(map[string][]string{"X-API-Key": {key}, "Authorization": {"Bearer " + key}})
		if p, err := a.Authenticate(r); p != nil || err == nil {
			t.Fatalf("two headers accepted: %v %v", p, err)
		}
	})
}

func BenchmarkAuthenticate(b *testing.B) {
	s, _ := openTemp(b)
	ctx := context.Background()
	var plain string
	for i := range 1000 {
		p, _, err := s.Create(ctx, Spec{Roles: []string{"analyst"}, Tenant: "acme"})
		if err != nil {
			b.Fatal(err)
		}
		if i == 500 {
			plain = p
		}
	}
	a := NewAuthenticator(s)
	r := request(map[string][]string{"Authorization": {"Bearer " + plain}})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Authenticate(r); err != nil {
			b.Fatal(err)
		}
	}
}
