// Package audit is Rampart's tamper-evident audit log.
//
// Every gateway decision, allowed or not, becomes one [Record]. Records are
// the leaves of an RFC 6962 Merkle tree (hashed with
// golang.org/x/mod/sumdb/tlog) kept in an embedded SQLite database. Each
// batch of records is committed in one transaction together with an
// Ed25519-signed checkpoint (a signed note whose text is the origin line,
// the tree size and the base64 root hash), so every legitimately written
// record is covered by a signed checkpoint the moment it becomes visible.
//
// The contract:
//
//   - [Log.Append] never blocks the request path and never drops a record:
//     when the queue is full or the store is failing, the record goes to an
//     append-only JSON-lines spool on disk, is counted in [Stats.Spooled]
//     (the alert metric) and is replayed into the store when it recovers or
//     at the next [Open].
//   - [Log.AppendDurable] returns only after the record and a checkpoint
//     covering it are committed and fsynced (WAL, synchronous=FULL); it
//     fails closed, returning an error, when the store fails. Batches of
//     plain [Log.Append] records commit without their own fsync: they
//     survive a crash of the process and reach the disk with the next
//     durable commit or WAL checkpoint.
//   - [Verify] recomputes every leaf and root from the stored record bytes
//     and checks every stored checkpoint; it reports edited, deleted,
//     reordered and out-of-band records. With a checkpoint saved earlier
//     (outside the log directory) it also proves, with a tlog consistency
//     proof, that the current log extends it, which catches rollback,
//     truncation and forks.
//
// What it cannot catch: someone who holds the signing key (Dir/checkpoint.key)
// can rewrite the whole log and re-sign it; only a checkpoint saved
// elsewhere, checked against a verifier key pinned elsewhere, detects that.
// Request payloads are recorded only as keyed hashes ([Log.HashPayload])
// unless a route opts in by setting [Record.Payload].
package audit

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// Decision values of a [Record].
const (
	DecisionAllow    = "allow"
	DecisionFlag     = "flag"
	DecisionThrottle = "throttle"
	DecisionBlock    = "block"
)

// Reason is one finding that shaped a decision.
type Reason struct {
	Detector string `json:"detector"`
	Kind     string `json:"kind"`
	Severity string `json:"severity"`
	Verdict  string `json:"verdict"`
	Reason   string `json:"reason"`
}

// Record is one gateway decision. Its JSON encoding, with Seq set, is the
// Merkle leaf, so field order and tags are part of the log format: append new
// fields at the end only.
type Record struct {
	// Seq is the leaf index, assigned by the log; callers leave it zero.
	Seq            int64     `json:"seq"`
	Time           time.Time `json:"time"`
	RequestID      string    `json:"request_id"`
	Principal      string    `json:"principal"`
	AuthMethod     string    `json:"auth_method"`
	Tenant         string    `json:"tenant"`
	ClientAddr     string    `json:"client_addr"`
	Route          string    `json:"route"`
	Protocol       string    `json:"protocol"`
	Operation      string    `json:"operation"`
	Model          string    `json:"model"`
	Version        string    `json:"version"`
	Action         string    `json:"action"`
	Decision       string    `json:"decision"` // allow|flag|throttle|block
	Enforced       bool      `json:"enforced"`
	Mode           string    `json:"mode"`
	Reasons        []Reason  `json:"reasons"`
	Status         int       `json:"status"`
	UpstreamStatus int       `json:"upstream_status"`
	RequestBytes   int64     `json:"request_bytes"`
	ResponseBytes  int64     `json:"response_bytes"`
	LatencyMicros  int64     `json:"latency_us"`
	UpstreamMicros int64     `json:"upstream_us"`
	// PayloadHash is the hex HMAC-SHA256 of the request body under the log's
	// payload key (see [Log.HashPayload]).
	PayloadHash string `json:"payload_hash"`
	// Payload is the raw request body, only for routes that opt in.
	Payload string `json:"payload,omitempty"`
}

// Config is the `audit:` section of rampart.yaml.
type Config struct {
	// Dir holds audit.db, spool/, checkpoint.key (0600), checkpoint.pub and
	// payload.key (0600). Required.
	Dir string `yaml:"dir" json:"dir"`
	// Origin is the checkpoint origin line and the signing key's name.
	Origin string `yaml:"origin" json:"origin"`
	// BatchSize is the most records committed in one transaction.
	BatchSize int `yaml:"batch_size" json:"batch_size"`
	// FlushInterval is how long a partial batch waits for more records.
	// Durable appends do not wait.
	FlushInterval time.Duration `yaml:"flush_interval" json:"flush_interval"`
	// CheckpointInterval spaces the checkpoints kept as history. Every batch
	// still gets a signed head checkpoint; older heads closer together than
	// this are pruned so the table stays small.
	CheckpointInterval time.Duration `yaml:"checkpoint_interval" json:"checkpoint_interval"`
	// QueueSize bounds the in-memory queue; beyond it records are spooled.
	QueueSize int `yaml:"queue_size" json:"queue_size"`
	// RetryInterval is how often a failing store is retried and the spool
	// replayed.
	RetryInterval time.Duration `yaml:"retry_interval" json:"retry_interval"`
}

// Defaults used by [Config.SetDefaults].
const (
	DefaultOrigin             = "rampart.audit"
	DefaultBatchSize          = 256
	DefaultFlushInterval      = 50 * time.Millisecond
	DefaultCheckpointInterval = 10 * time.Second
	DefaultQueueSize          = 16384
	DefaultRetryInterval      = time.Second
)

// SetDefaults fills unset fields.
func (c *Config) SetDefaults() {
	if c.Origin == "" {
		c.Origin = DefaultOrigin
	}
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.FlushInterval == 0 {
		c.FlushInterval = DefaultFlushInterval
	}
	if c.CheckpointInterval == 0 {
		c.CheckpointInterval = DefaultCheckpointInterval
	}
	if c.QueueSize == 0 {
		c.QueueSize = DefaultQueueSize
	}
	if c.RetryInterval == 0 {
		c.RetryInterval = DefaultRetryInterval
	}
}

// Validate reports the first problem with c, after defaults are applied.
func (c Config) Validate() error {
	var errs []error
	if c.Dir == "" {
		errs = append(errs, errors.New("audit.dir is required"))
	}
	if !validOrigin(c.Origin) {
		errs = append(errs, fmt.Errorf("audit.origin %q: must be non-empty printable text without spaces or '+'", c.Origin))
	}
	if c.BatchSize < 1 || c.BatchSize > 10000 {
		errs = append(errs, fmt.Errorf("audit.batch_size %d: must be between 1 and 10000", c.BatchSize))
	}
	if c.FlushInterval <= 0 {
		errs = append(errs, fmt.Errorf("audit.flush_interval %v: must be positive", c.FlushInterval))
	}
	if c.CheckpointInterval <= 0 {
		errs = append(errs, fmt.Errorf("audit.checkpoint_interval %v: must be positive", c.CheckpointInterval))
	}
	if c.RetryInterval <= 0 {
		errs = append(errs, fmt.Errorf("audit.retry_interval %v: must be positive", c.RetryInterval))
	}
	if c.QueueSize < c.BatchSize {
		errs = append(errs, fmt.Errorf("audit.queue_size %d: must be at least batch_size (%d)", c.QueueSize, c.BatchSize))
	}
	return errors.Join(errs...)
}

// validOrigin mirrors note's key-name rules, because the origin doubles as
// the signing key's name.
func validOrigin(s string) bool {
	if !validOriginSyntax(s) {
		return false
	}
	// note.GenerateKey enforces the same rule; check with it so the two
	// cannot drift apart.
	_, _, err := note.GenerateKey(zeroReader{}, s)
	return err == nil
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// Stats is a snapshot of the log's health. Spooled > 0 or StoreErrors
// growing is an alert condition.
type Stats struct {
	Backlog            int64 `json:"backlog"` // records queued in memory
	Spooled            int64 `json:"spooled"` // records waiting in the disk spool
	Written            int64 `json:"written"` // records committed since Open
	StoreErrors        int64 `json:"store_errors"`
	Dropped            int64 `json:"dropped"` // records lost because even the spool failed
	LastCheckpointSize int64 `json:"last_checkpoint_size"`
	Failing            bool  `json:"failing"` // the store's last write failed
}

// ErrClosed is returned by AppendDurable after Close.
var ErrClosed = errors.New("audit: log closed")

// ErrStore wraps store failures reported to durable appenders.
var ErrStore = errors.New("audit: store failed")
