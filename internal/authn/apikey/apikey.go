// Package apikey issues and checks Rampart API keys.
//
// A key reads rk_<id>_<secret>: the id (80 random bits) names the key in
// logs and commands, the secret carries 256 bits from crypto/rand. Both are
// lowercase base32, so a key is one token68 word that survives copy and
// paste. The plaintext is returned once by [Store.Create] or [Store.Rotate]
// and never stored: the store keeps SHA-256 over a domain prefix, the id and
// the secret. An unsalted fast hash is enough because the secret is random
// and high-entropy; nothing can be guessed offline.
//
// The store is a SQLite file. The request path never touches SQL: the
// [Authenticator] reads an immutable in-memory snapshot that [Store.Reload]
// replaces, either explicitly, after every change made through this Store,
// or from [Store.Watch] when another process (the CLI) changes the file.
package apikey

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rampart-ai/rampart"
)

const (
	prefix    = "rk_"
	idBytes   = 10 // 16 base32 characters
	secBytes  = 32 // 256 bits, 52 base32 characters
	idLen     = 16
	secretLen = 52
	// KeyLen is the length of a formatted key.
	KeyLen = len(prefix) + idLen + 1 + secretLen
)

var b32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// errInvalid is the only message a client sees for a bad key, whether its id
// is unknown, its secret wrong, or it is revoked or expired: distinct
// messages would let a caller probe which key ids exist.
var errInvalid = rampart.Errorf(rampart.CodeUnauthenticated, "invalid API key")

// LooksLikeKey reports whether s has the Rampart key prefix; other
// authenticators use it to leave such tokens to this package.
func LooksLikeKey(s string) bool { return strings.HasPrefix(s, prefix) }

// newKey returns a fresh id and formatted key.
func newKey() (id, key string, digest [32]byte, err error) {
	var buf [idBytes + secBytes]byte
	if _, err := rand.Read(buf[:]); err != nil {
		return "", "", digest, fmt.Errorf("read random: %w", err)
	}
	id = b32.EncodeToString(buf[:idBytes])
	secret := b32.EncodeToString(buf[idBytes:])
	return id, prefix + id + "_" + secret, hashSecret(id, secret), nil
}

// parseKey splits a formatted key. It only checks shape and alphabet.
func parseKey(key string) (id, secret string, ok bool) {
	if len(key) != KeyLen || !strings.HasPrefix(key, prefix) || key[len(prefix)+idLen] != '_' {
		return "", "", false
	}
	id = key[len(prefix) : len(prefix)+idLen]
	secret = key[len(prefix)+idLen+1:]
	if !isB32(id) || !isB32(secret) {
		return "", "", false
	}
	return id, secret, true
}

func isB32(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z') && !('2' <= c && c <= '7') {
			return false
		}
	}
	return true
}

// hashSecret binds the digest to the key id so that a stored digest cannot
// be replayed under another id.
func hashSecret(id, secret string) [32]byte {
	h := sha256.New()
	h.Write([]byte("rampart-apikey-v1\x00"))
	h.Write([]byte(id))
	h.Write([]byte{0})
	h.Write([]byte(secret))
	var d [32]byte
	h.Sum(d[:0])
	return d
}

// digestMatch compares digests in constant time. Only digests are ever
// compared: comparing the secret itself, even in constant time, would keep
// it in one more place.
func digestMatch(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }

// Spec describes a key to create.
type Spec struct {
	Name   string
	Roles  []string
	Tenant string
	Attrs  map[string]string
	Rate   rampart.RateLimit
	// Expires is when the key stops working; zero means never.
	Expires time.Time
}

func (s Spec) validate() error {
	if len(s.Name) > 200 {
		return errors.New("name longer than 200 characters")
	}
	for _, r := range s.Roles {
		if r == "" {
			return errors.New("empty role")
		}
	}
	if s.Rate.PerSecond < 0 || s.Rate.Burst < 0 {
		return errors.New("rate and burst must not be negative")
	}
	return nil
}

// Key is what the store knows about a key: never its secret.
type Key struct {
	ID          string            `json:"id"`
	Name        string            `json:"name,omitempty"`
	Roles       []string          `json:"roles"`
	Tenant      string            `json:"tenant,omitempty"`
	Attrs       map[string]string `json:"attrs,omitempty"`
	Rate        rampart.RateLimit `json:"rate"`
	Created     time.Time         `json:"created"`
	Expires     time.Time         `json:"expires,omitzero"`
	Revoked     time.Time         `json:"revoked,omitzero"`
	RotatedFrom string            `json:"rotated_from,omitempty"`
}

// Status describes the key at time now: "active", "expired", "revoked", or
// "revoking" while a rotation's grace period runs.
func (k Key) Status(now time.Time) string {
	switch {
	case !k.Revoked.IsZero() && !now.Before(k.Revoked):
		return "revoked"
	case !k.Expires.IsZero() && !now.Before(k.Expires):
		return "expired"
	case !k.Revoked.IsZero():
		return "revoking"
	}
	return "active"
}

// usable reports whether the key authenticates at now.
func (k *Key) usable(now time.Time) bool {
	s := k.Status(now)
	return s == "active" || s == "revoking"
}
