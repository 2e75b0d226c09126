package apikey

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rampart-ai/rampart"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// ErrNotFound is returned for operations on a key id the store does not hold.
var ErrNotFound = errors.New("no such key")

const schema = `
CREATE TABLE IF NOT EXISTS keys (
	id           TEXT PRIMARY KEY,
	name         TEXT NOT NULL DEFAULT '',
	hash         BLOB NOT NULL,
	roles        TEXT NOT NULL DEFAULT '[]',
	tenant       TEXT NOT NULL DEFAULT '',
	attrs        TEXT NOT NULL DEFAULT '{}',
	rate         REAL NOT NULL DEFAULT 0,
	burst        INTEGER NOT NULL DEFAULT 0,
	created      INTEGER NOT NULL,
	expires      INTEGER NOT NULL DEFAULT 0,
	revoked      INTEGER NOT NULL DEFAULT 0,
	rotated_from TEXT NOT NULL DEFAULT ''
);`

// Store holds keys in a SQLite file and serves an in-memory snapshot of them.
type Store struct {
	db   *sql.DB
	snap atomic.Pointer[snapshot]
	// reloadMu keeps a slow reload from overwriting a newer snapshot.
	reloadMu sync.Mutex
	now      func() time.Time
}

type snapshot struct {
	keys map[string]*entry
}

type entry struct {
	key       Key
	digest    [32]byte
	principal rampart.Principal
}

// OpenStore opens (creating if needed) the key database at path and loads
// its first snapshot.
func OpenStore(path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("open key store: empty path")
	}
	// Hashes are not secrets, but key metadata (names, tenants, roles) is
	// nobody else's business: create the file owner-only.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open key store: %w", err)
	}
	f.Close()
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() +
		"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open key store %s: %w", path, err)
	}
	s := &Store{db: db, now: time.Now}
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("open key store %s: create schema: %w", path, err)
	}
	if err := s.Reload(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Create adds a key and returns its plaintext, which is not stored anywhere
// and cannot be recovered.
func (s *Store) Create(ctx context.Context, spec Spec) (string, Key, error) {
	if err := spec.validate(); err != nil {
		return "", Key{}, fmt.Errorf("create key: %w", err)
	}
	plain, k, err := s.insert(ctx, s.db, spec, "")
	if err != nil {
		return "", Key{}, fmt.Errorf("create key: %w", err)
	}
	return plain, k, s.Reload(ctx)
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func (s *Store) insert(ctx context.Context, db execer, spec Spec, from string) (string, Key, error) {
	id, plain, digest, err := newKey()
	if err != nil {
		return "", Key{}, err
	}
	roles := spec.Roles
	if roles == nil {
		roles = []string{}
	}
	rj, _ := json.Marshal(roles)
	aj, _ := json.Marshal(spec.Attrs)
	if spec.Attrs == nil {
		aj = []byte("{}")
	}
	now := s.now()
	k := Key{ID: id, Name: spec.Name, Roles: roles, Tenant: spec.Tenant, Attrs: spec.Attrs, Rate: spec.Rate,
		Created: now.UTC(), Expires: spec.Expires, RotatedFrom: from}
	_, err = db.ExecContext(ctx, `INSERT INTO keys (id, name, hash, roles, tenant, attrs, rate, burst, created, expires, rotated_from)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		id, spec.Name, digest[:], string(rj), spec.Tenant, string(aj), spec.Rate.PerSecond, spec.Rate.Burst,
		now.UnixNano(), nanos(spec.Expires), from)
	if err != nil {
		return "", Key{}, fmt.Errorf("insert: %w", err)
	}
	return plain, k, nil
}

// Rotate issues a new secret for the identity of key id: a new key with the
// same name, roles, tenant, attributes, rate and expiry. The old key is
// revoked after grace (immediately when grace is zero), so clients can roll
// over without an outage.
func (s *Store) Rotate(ctx context.Context, id string, grace time.Duration) (string, Key, error) {
	if grace < 0 {
		return "", Key{}, errors.New("rotate key: negative grace period")
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return "", Key{}, fmt.Errorf("rotate key %s: %w", id, err)
	}
	defer tx.Rollback()
	old, err := scanKey(tx.QueryRowContext(ctx, selectKeys+` WHERE id = ?`, id))
	if err != nil {
		return "", Key{}, fmt.Errorf("rotate key %s: %w", id, err)
	}
	now := s.now()
	if st := old.key.Status(now); st == "revoked" || st == "expired" {
		return "", Key{}, fmt.Errorf("rotate key %s: key is %s", id, st)
	}
	spec := Spec{Name: old.key.Name, Roles: old.key.Roles, Tenant: old.key.Tenant, Attrs: old.key.Attrs, Rate: old.key.Rate, Expires: old.key.Expires}
	plain, k, err := s.insert(ctx, tx, spec, id)
	if err != nil {
		return "", Key{}, fmt.Errorf("rotate key %s: %w", id, err)
	}
	until := now.Add(grace).UnixNano()
	if _, err := tx.ExecContext(ctx, `UPDATE keys SET revoked = ? WHERE id = ? AND (revoked = 0 OR revoked > ?)`, until, id, until); err != nil {
		return "", Key{}, fmt.Errorf("rotate key %s: %w", id, err)
	}
	if err := tx.Commit(); err != nil {
		return "", Key{}, fmt.Errorf("rotate key %s: %w", id, err)
	}
	return plain, k, s.Reload(ctx)
}

// Revoke stops key id from authenticating, now.
func (s *Store) Revoke(ctx context.Context, id string) error {
	now := s.now().UnixNano()
	res, err := s.db.ExecContext(ctx, `UPDATE keys SET revoked = ? WHERE id = ? AND (revoked = 0 OR revoked > ?)`, now, id, now)
	if err != nil {
		return fmt.Errorf("revoke key %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		var one int
		if err := s.db.QueryRowContext(ctx, `SELECT 1 FROM keys WHERE id = ?`, id).Scan(&one); errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("revoke key %s: %w", id, ErrNotFound)
		}
	}
	return s.Reload(ctx)
}

// Get returns key id as stored.
func (s *Store) Get(ctx context.Context, id string) (Key, error) {
	e, err := scanKey(s.db.QueryRowContext(ctx, selectKeys+` WHERE id = ?`, id))
	if err != nil {
		return Key{}, fmt.Errorf("get key %s: %w", id, err)
	}
	return e.key, nil
}

// List returns every key, oldest first.
func (s *Store) List(ctx context.Context) ([]Key, error) {
	es, err := s.all(ctx)
	if err != nil {
		return nil, err
	}
	keys := make([]Key, len(es))
	for i, e := range es {
		keys[i] = e.key
	}
	return keys, nil
}

const selectKeys = `SELECT id, name, hash, roles, tenant, attrs, rate, burst, created, expires, revoked, rotated_from FROM keys`

type rowScanner interface{ Scan(dest ...any) error }

func scanKey(r rowScanner) (*entry, error) {
	var (
		e                         entry
		hash                      []byte
		roles, attrs              string
		created, expires, revoked int64
	)
	k := &e.key
	err := r.Scan(&k.ID, &k.Name, &hash, &roles, &k.Tenant, &attrs, &k.Rate.PerSecond, &k.Rate.Burst, &created, &expires, &revoked, &k.RotatedFrom)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if len(hash) != len(e.digest) {
		return nil, fmt.Errorf("key %s: corrupt hash", k.ID)
	}
	copy(e.digest[:], hash)
	if err := json.Unmarshal([]byte(roles), &k.Roles); err != nil {
		return nil, fmt.Errorf("key %s: roles: %w", k.ID, err)
	}
	if err := json.Unmarshal([]byte(attrs), &k.Attrs); err != nil {
		return nil, fmt.Errorf("key %s: attrs: %w", k.ID, err)
	}
	if len(k.Attrs) == 0 {
		k.Attrs = nil
	}
	k.Created = fromNanos(created)
	k.Expires = fromNanos(expires)
	k.Revoked = fromNanos(revoked)
	e.principal = rampart.Principal{ID: "key:" + k.ID, Method: rampart.AuthAPIKey, Tenant: k.Tenant,
		Roles: k.Roles, Attrs: principalAttrs(k), Rate: k.Rate}
	return &e, nil
}

// principalAttrs exposes the key's name to policies next to its labels.
func principalAttrs(k *Key) map[string]string {
	m := make(map[string]string, len(k.Attrs)+1)
	for a, v := range k.Attrs {
		m[a] = v
	}
	if k.Name != "" {
		m["key_name"] = k.Name
	}
	return m
}

func (s *Store) all(ctx context.Context) ([]*entry, error) {
	rows, err := s.db.QueryContext(ctx, selectKeys)
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	defer rows.Close()
	var es []*entry
	for rows.Next() {
		e, err := scanKey(rows)
		if err != nil {
			return nil, fmt.Errorf("list keys: %w", err)
		}
		es = append(es, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	sort.Slice(es, func(i, j int) bool {
		if !es[i].key.Created.Equal(es[j].key.Created) {
			return es[i].key.Created.Before(es[j].key.Created)
		}
		return es[i].key.ID < es[j].key.ID
	})
	return es, nil
}

// Reload replaces the snapshot the authenticator reads with the database's
// current contents. On error the previous snapshot stays in use.
func (s *Store) Reload(ctx context.Context) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	es, err := s.all(ctx)
	if err != nil {
		return fmt.Errorf("reload keys: %w", err)
	}
	snap := &snapshot{keys: make(map[string]*entry, len(es))}
	for _, e := range es {
		snap.keys[e.key.ID] = e
	}
	s.snap.Store(snap)
	return nil
}

// Watch reloads the snapshot whenever another connection or process
// commits to the database, checking every interval (one second when zero),
// until ctx ends. Reload failures are passed to onErr (which may be nil);
// the previous snapshot stays in use meanwhile, so a revocation made by
// another process takes effect at the next successful check.
func (s *Store) Watch(ctx context.Context, every time.Duration, onErr func(error)) error {
	if every <= 0 {
		every = time.Second
	}
	report := func(err error) {
		if onErr != nil && err != nil {
			onErr(err)
		}
	}
	// PRAGMA data_version is per connection: it changes when any other
	// connection commits, so it must be read on one dedicated connection.
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("watch keys: %w", err)
	}
	defer conn.Close()
	var last int64
	if err := conn.QueryRowContext(ctx, `PRAGMA data_version`).Scan(&last); err != nil {
		return fmt.Errorf("watch keys: %w", err)
	}
	// Changes committed before the first data_version read would be missed.
	if err := s.Reload(ctx); err != nil && ctx.Err() == nil {
		report(err)
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		var v int64
		if err := conn.QueryRowContext(ctx, `PRAGMA data_version`).Scan(&v); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			report(fmt.Errorf("watch keys: %w", err))
			continue
		}
		if v != last {
			if err := s.Reload(ctx); err != nil {
				if ctx.Err() != nil {
					return nil // shutting down, not a failure
				}
				report(err)
				continue
			}
			last = v
		}
	}
}

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}
