package apikey

import (
	"net/http"
	"time"

	"github.com/rampart-ai/rampart"
	"github.com/rampart-ai/rampart/internal/authn"
)

// HeaderName is the alternative header for clients that cannot set
// Authorization.
const HeaderName = "X-API-Key"

// Authenticator checks API keys against a [Store]'s snapshot.
type Authenticator struct {
	store *Store
	now   func() time.Time
}

var _ authn.Authenticator = (*Authenticator)(nil)

// NewAuthenticator returns an authenticator reading store's snapshot.
func NewAuthenticator(store *Store) *Authenticator {
	return &Authenticator{store: store, now: time.Now}
}

// dummyDigest is compared against when the key id is unknown, so that an
// unknown id costs the same hash and compare as a wrong secret.
var dummyDigest = hashSecret("aaaaaaaaaaaaaaaa", "unused")

// Authenticate implements [authn.Authenticator]. It accepts
// "Authorization: Bearer rk_…" or "X-API-Key: rk_…"; a bearer token
// without the rk_ prefix belongs to another authenticator (JWT).
func (a *Authenticator) Authenticate(r *http.Request) (*rampart.Principal, error) {
	key, present, err := credential(r.Header)
	if err != nil || !present {
		return nil, err
	}
	return a.Check(key)
}

// credential finds the key a request carries, if any. Sending a key in both
// headers is refused: the two could disagree.
func credential(h http.Header) (string, bool, error) {
	bearer, hasBearer, err := authn.BearerToken(h)
	if err != nil {
		// A malformed Bearer header is a bad credential whoever owns it.
		return "", true, err
	}
	hasBearer = hasBearer && LooksLikeKey(bearer)
	vals := h.Values(HeaderName)
	switch {
	case len(vals) > 1, len(vals) == 1 && hasBearer:
		return "", true, rampart.Errorf(rampart.CodeUnauthenticated, "more than one API key sent")
	case len(vals) == 1:
		if !authn.ValidToken(vals[0]) {
			return "", true, errInvalid
		}
		return vals[0], true, nil
	case hasBearer:
		return bearer, true, nil
	}
	return "", false, nil
}

// Check validates a presented key. Unknown, wrong, revoked and expired keys
// all get the same error and the same work.
func (a *Authenticator) Check(key string) (*rampart.Principal, error) {
	id, secret, ok := parseKey(key)
	if !ok {
		return nil, errInvalid
	}
	snap := a.store.snap.Load()
	e := snap.keys[id]
	want := dummyDigest[:]
	if e != nil {
		want = e.digest[:]
	}
	got := hashSecret(id, secret)
	if !digestMatch(got[:], want) || e == nil || !e.key.usable(a.now()) {
		return nil, errInvalid
	}
	p := e.principal
	return &p, nil
}
