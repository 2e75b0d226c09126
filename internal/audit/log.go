package audit

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/mod/sumdb/tlog"
)

// Log is an open audit log. Its methods are safe for concurrent use.
type Log struct {
	macs     sync.Pool // keyed payload hashers (hash.Hash), reused across requests
	syncMode string    // the writer connection's current PRAGMA synchronous
	cfg      Config
	logger   *slog.Logger
	db       *sql.DB
	keys     *keys
	spool    *spool

	mu     sync.RWMutex // guards closed against sends on ch
	closed bool
	ch     chan item
	quit   chan struct{}
	done   chan struct{}

	// Owned by the writer goroutine (and by Open before it starts).
	front    *frontier
	head     int64 // size of the newest checkpoint
	keptSize int64 // size of the newest checkpoint kept as history
	keptAt   time.Time
	lastWarn time.Time

	failing        atomic.Bool
	written        atomic.Int64
	storeErrors    atomic.Int64
	dropped        atomic.Int64
	lastCheckpoint atomic.Int64
}

type item struct {
	rec  Record
	done chan error // nil for Append
}

// Open opens (creating if needed) the log in cfg.Dir: the schema, the keys,
// and a replay of any spooled records. It refuses a store whose newest
// checkpoint does not match its records, because appending to a tampered
// log would bury the evidence under fresh signatures.
func Open(ctx context.Context, cfg Config, logger *slog.Logger) (*Log, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	spoolPath := filepath.Join(cfg.Dir, SpoolDir)
	if err := os.MkdirAll(spoolPath, 0o700); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	k, err := loadOrCreateKeys(cfg.Dir, cfg.Origin)
	if err != nil {
		return nil, err
	}
	db, err := openDB(filepath.Join(cfg.Dir, DBFile), false)
	if err != nil {
		return nil, err
	}
	l := &Log{
		cfg:    cfg,
		logger: logger,
		db:     db,
		keys:   k,
		spool:  &spool{dir: spoolPath},
		ch:     make(chan item, cfg.QueueSize),
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	if err := initSchema(ctx, db, cfg.Origin); err != nil {
		db.Close()
		return nil, err
	}
	if err := l.loadState(ctx); err != nil {
		db.Close()
		return nil, err
	}
	pending, err := l.spoolPending(ctx)
	if err != nil {
		db.Close()
		return nil, err
	}
	l.spool.count.Store(pending)
	// Replay whenever files exist, even with no readable records in them,
	// so damaged leftovers are cleared instead of lingering forever.
	if names, err := l.spool.files(); err == nil && len(names) > 0 {
		if err := l.replaySpool(ctx); err != nil {
			// The spool stays on disk and the writer retries; the gateway
			// can still serve routes that are not must-log.
			l.failing.Store(true)
			l.storeErrors.Add(1)
			logger.Error("audit: spool replay failed; will retry", "err", err, "spooled", l.spool.count.Load())
		}
	}
	go l.run()
	return l, nil
}

// loadState rebuilds the frontier from stored hashes and checks it against
// the newest checkpoint.
func (l *Log) loadState(ctx context.Context) error {
	var size int64
	if err := l.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq)+1, 0) FROM records`).Scan(&size); err != nil {
		return fmt.Errorf("audit: read log size: %w", err)
	}
	var count int64
	if err := l.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM records`).Scan(&count); err != nil {
		return fmt.Errorf("audit: read log size: %w", err)
	}
	if count != size {
		return fmt.Errorf("audit: store has %d records but the highest seq is %d; records were deleted (run rampart audit verify)", count, size-1)
	}
	idx := frontierIndexes(size)
	f := &frontier{size: size}
	hr := dbHashReader{ctx: ctx, q: l.db}
	hs, err := hr.ReadHashes(idx)
	if err != nil {
		return err
	}
	f.idx, f.hash = idx, hs
	root, err := f.root()
	if err != nil {
		return fmt.Errorf("audit: tree hash: %w", err)
	}
	var (
		cpSize  int64
		created int64
		msg     []byte
	)
	err = l.db.QueryRowContext(ctx, `SELECT size, created, note FROM checkpoints ORDER BY size DESC LIMIT 1`).Scan(&cpSize, &created, &msg)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		if size != 0 {
			return fmt.Errorf("audit: store has %d records but no checkpoint (run rampart audit verify)", size)
		}
	case err != nil:
		return fmt.Errorf("audit: read checkpoint: %w", err)
	default:
		cp, err := openCheckpoint(msg, l.keys.verifier)
		if err != nil {
			return fmt.Errorf("audit: newest checkpoint: %w (run rampart audit verify)", err)
		}
		if cp.N != cpSize || cp.N != size || cp.Hash != root {
			return fmt.Errorf("audit: newest checkpoint (size %d) does not match the stored log (size %d); it was tampered with (run rampart audit verify)", cp.N, size)
		}
		l.keptAt = time.Unix(0, created)
	}
	l.front = f
	l.head, l.keptSize = size, size
	l.lastCheckpoint.Store(size)
	return nil
}

// dbHashReader reads stored hashes from the hashes table.
type dbHashReader struct {
	ctx context.Context
	q   interface {
		QueryRowContext(context.Context, string, ...any) *sql.Row
	}
}

func (r dbHashReader) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		var b []byte
		if err := r.q.QueryRowContext(r.ctx, `SELECT hash FROM hashes WHERE id = ?`, x).Scan(&b); err != nil {
			return nil, fmt.Errorf("audit: read stored hash %d: %w", x, err)
		}
		if len(b) != tlog.HashSize {
			return nil, fmt.Errorf("audit: stored hash %d has %d bytes", x, len(b))
		}
		copy(out[i][:], b)
	}
	return out, nil
}

// HashPayload returns the hex HMAC-SHA256 of body under the log's payload
// key, so equal payloads can be correlated without being recorded.
func (l *Log) HashPayload(body []byte) string {
	m, _ := l.macs.Get().(hash.Hash)
	if m == nil {
		m = hmac.New(sha256.New, l.keys.payload)
	}
	m.Reset()
	m.Write(body)
	var sum [sha256.Size]byte
	out := hex.EncodeToString(m.Sum(sum[:0]))
	l.macs.Put(m)
	return out
}

// Append queues rec without blocking. When the queue is full or the log is
// closed, rec goes to the disk spool instead; it is lost only if the spool
// write fails too (counted in Stats.Dropped).
func (l *Log) Append(rec Record) {
	if rec.Time.IsZero() {
		rec.Time = time.Now()
	}
	l.mu.RLock()
	closed := l.closed
	if !closed {
		select {
		case l.ch <- item{rec: rec}:
			l.mu.RUnlock()
			return
		default:
		}
	}
	l.mu.RUnlock()
	// After Close no writer syncs or closes the spool, so do it here; the
	// next Open replays the record.
	err := l.spool.write([]Record{rec}, closed)
	if closed {
		if cerr := l.spool.close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		l.dropped.Add(1)
		l.logger.Error("audit: record dropped: queue full and spool failed", "err", err, "request_id", rec.RequestID)
	}
}

// AppendDurable writes rec and returns only after it and a signed checkpoint
// covering it are committed. It returns an error, and the caller must fail
// closed, when the store fails, ctx ends first, or the log is closed.
func (l *Log) AppendDurable(ctx context.Context, rec Record) error {
	if rec.Time.IsZero() {
		rec.Time = time.Now()
	}
	done := make(chan error, 1)
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return ErrClosed
	}
	select {
	case l.ch <- item{rec: rec, done: done}:
	case <-ctx.Done():
		l.mu.RUnlock()
		return fmt.Errorf("audit: queue: %w", ctx.Err())
	}
	l.mu.RUnlock()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("audit: waiting for commit: %w", ctx.Err())
	}
}

// Stats returns a snapshot of the log's counters.
func (l *Log) Stats() Stats {
	return Stats{
		Backlog:            int64(len(l.ch)),
		Spooled:            l.spool.count.Load(),
		Written:            l.written.Load(),
		StoreErrors:        l.storeErrors.Load(),
		Dropped:            l.dropped.Load(),
		LastCheckpointSize: l.lastCheckpoint.Load(),
		Failing:            l.failing.Load(),
	}
}

// Verifier returns the public checkpoint key in note format, for pinning
// outside the log directory.
func (l *Log) Verifier() string {
	b, err := os.ReadFile(filepath.Join(l.cfg.Dir, VerifierKeyFile))
	if err != nil {
		return ""
	}
	return string(trimNL(b))
}

func trimNL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// Close stops accepting records, commits everything queued (spooling what
// the store refuses), tries a last spool replay and closes the store. Every
// commit already carries its checkpoint, so the final one covers the whole log.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.mu.Unlock()
	close(l.quit)
	<-l.done
	err := l.spool.close()
	if cerr := l.db.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("audit: close store: %w", cerr)
	}
	return err
}

// run is the single writer: it owns the database, the frontier and the
// checkpoint bookkeeping, so none of them needs a lock.
func (l *Log) run() {
	defer close(l.done)
	retry := time.NewTicker(l.cfg.RetryInterval)
	defer retry.Stop()
	batch := make([]item, 0, l.cfg.BatchSize)
	for {
		select {
		case it := <-l.ch:
			batch = l.collect(append(batch[:0], it))
			l.process(batch)
		case <-retry.C:
			l.recover()
		case <-l.quit:
			for {
				batch = batch[:0]
				for len(batch) < l.cfg.BatchSize {
					select {
					case it := <-l.ch:
						batch = append(batch, it)
						continue
					default:
					}
					break
				}
				if len(batch) == 0 {
					break
				}
				l.process(batch)
			}
			l.recover()
			return
		}
	}
}

// collect fills a batch: up to BatchSize records or FlushInterval, but a
// durable record stops the wait as soon as the queue is momentarily empty,
// so must-log routes pay one commit, not a flush interval.
func (l *Log) collect(batch []item) []item {
	durable := batch[0].done != nil
	timer := time.NewTimer(l.cfg.FlushInterval)
	defer timer.Stop()
	for len(batch) < l.cfg.BatchSize {
		if durable {
			select {
			case it := <-l.ch:
				batch = append(batch, it)
				continue
			default:
				return batch
			}
		}
		select {
		case it := <-l.ch:
			batch = append(batch, it)
			durable = durable || it.done != nil
		case <-timer.C:
			return batch
		case <-l.quit:
			return batch
		}
	}
	return batch
}

func (l *Log) process(batch []item) {
	durable := false
	for _, it := range batch {
		durable = durable || it.done != nil
	}
	// While the store is down, only must-log records probe it; the rest go
	// straight to the spool in arrival order, and recover() replays them.
	if l.failing.Load() && !durable {
		l.spoolItems(batch)
		return
	}
	err := l.commit(context.Background(), batch, "", 0)
	if err != nil {
		l.storeErrors.Add(1)
		l.failing.Store(true)
		l.logger.Error("audit: store write failed; spooling", "err", err, "records", len(batch))
		werr := fmt.Errorf("%w: %v", ErrStore, err)
		var rest []item
		for _, it := range batch {
			if it.done != nil {
				it.done <- werr
			} else {
				rest = append(rest, it)
			}
		}
		l.spoolItems(rest)
		return
	}
	for _, it := range batch {
		if it.done != nil {
			it.done <- nil
		}
	}
}

func (l *Log) spoolItems(items []item) {
	if len(items) == 0 {
		return
	}
	recs := make([]Record, len(items))
	for i, it := range items {
		recs[i] = it.rec
	}
	if err := l.spool.write(recs, true); err != nil {
		l.dropped.Add(int64(len(recs)))
		l.logger.Error("audit: records dropped: store and spool both failed", "err", err, "records", len(recs))
	}
}

// recover syncs the spool and, when it holds records, replays them; success
// clears the failing state.
func (l *Log) recover() {
	if err := l.spool.sync(); err != nil {
		l.logger.Error("audit: spool sync failed", "err", err)
	}
	if l.spool.count.Load() == 0 {
		// Nothing to replay; let the next batch probe the store.
		l.failing.Store(false)
		return
	}
	if err := l.replaySpool(context.Background()); err != nil {
		l.storeErrors.Add(1)
		l.failing.Store(true)
		if time.Since(l.lastWarn) > 30*time.Second {
			l.lastWarn = time.Now()
			l.logger.Error("audit: spool replay failed; will retry", "err", err, "spooled", l.spool.count.Load())
		}
		return
	}
	l.failing.Store(false)
}

// commit writes items as one transaction: records, their stored hashes, a
// signed checkpoint for the new size and, for spool replays, how far the
// spool file has been consumed. A failure leaves the log as it was.
// setSync picks the fsync policy for the next commit. A batch holding a
// durable (must-log) record commits with synchronous=FULL: the WAL is on
// disk, earlier batches included, before any waiter is released. Other
// batches commit with synchronous=NORMAL: they survive a crash of the
// process (the data is in the kernel) and are fsynced by the next durable
// commit or WAL checkpoint, which saves an fsync per batch on the hot path.
func (l *Log) setSync(ctx context.Context, items []item) error {
	mode := "NORMAL"
	for i := range items {
		if items[i].done != nil {
			mode = "FULL"
			break
		}
	}
	if l.syncMode == mode {
		return nil
	}
	if _, err := l.db.ExecContext(ctx, "PRAGMA synchronous="+mode); err != nil {
		return fmt.Errorf("set synchronous: %w", err)
	}
	l.syncMode = mode
	return nil
}

func (l *Log) commit(ctx context.Context, items []item, spoolFile string, spoolOff int64) (err error) {
	if err := l.setSync(ctx, items); err != nil {
		return err
	}
	tx, err := l.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
			for i := range items {
				items[i].rec.Seq = 0
			}
		}
	}()
	f := l.front.clone()
	recs := make([]any, 0, 2*len(items))
	hashes := make([]any, 0, 4*len(items))
	for i := range items {
		r := &items[i].rec
		r.Seq = f.size
		data, err := encodeRecord(r)
		if err != nil {
			return err
		}
		hs, err := f.append(data)
		if err != nil {
			return fmt.Errorf("hash record %d: %w", r.Seq, err)
		}
		recs = append(recs, r.Seq, data)
		base := tlog.StoredHashIndex(0, r.Seq)
		for j := range hs {
			hashes = append(hashes, base+int64(j), hs[j][:])
		}
	}
	if err := insertRows(ctx, tx, "records (seq, data)", recs); err != nil {
		return fmt.Errorf("insert records: %w", err)
	}
	if err := insertRows(ctx, tx, "hashes (id, hash)", hashes); err != nil {
		return fmt.Errorf("insert hashes: %w", err)
	}
	root, err := f.root()
	if err != nil {
		return fmt.Errorf("tree hash: %w", err)
	}
	msg, err := signCheckpoint(l.cfg.Origin, tlog.Tree{N: f.size, Hash: root}, l.keys.signer)
	if err != nil {
		return fmt.Errorf("sign checkpoint: %w", err)
	}
	now := time.Now()
	if _, err := tx.ExecContext(ctx, `INSERT INTO checkpoints (size, created, note) VALUES (?, ?, ?)`, f.size, now.UnixNano(), msg); err != nil {
		return fmt.Errorf("insert checkpoint: %w", err)
	}
	if l.head != l.keptSize {
		if _, err := tx.ExecContext(ctx, `DELETE FROM checkpoints WHERE size = ?`, l.head); err != nil {
			return fmt.Errorf("prune checkpoint: %w", err)
		}
	}
	if spoolFile != "" {
		if _, err := tx.ExecContext(ctx, `INSERT INTO spool_progress (file, offset) VALUES (?, ?) ON CONFLICT (file) DO UPDATE SET offset = excluded.offset`, spoolFile, spoolOff); err != nil {
			return fmt.Errorf("record spool progress: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	l.front = f
	l.head = f.size
	if now.Sub(l.keptAt) >= l.cfg.CheckpointInterval {
		l.keptSize, l.keptAt = f.size, now
	}
	l.written.Add(int64(len(items)))
	l.lastCheckpoint.Store(f.size)
	return nil
}

// insertRows inserts pairs of values with multi-row INSERTs, which costs far
// less than one statement per row in SQLite.
func insertRows(ctx context.Context, tx *sql.Tx, table string, args []any) error {
	const perStmt = 200 // rows; 400 parameters stays under SQLite's limit
	for len(args) > 0 {
		n := min(len(args)/2, perStmt)
		q := make([]byte, 0, 32+len(table)+6*n)
		q = append(q, "INSERT INTO "...)
		q = append(q, table...)
		q = append(q, " VALUES "...)
		for i := range n {
			if i > 0 {
				q = append(q, ',')
			}
			q = append(q, "(?,?)"...)
		}
		if _, err := tx.ExecContext(ctx, string(q), args[:2*n]...); err != nil {
			return err
		}
		args = args[2*n:]
	}
	return nil
}

// encodeRecord is the canonical leaf encoding: encoding/json of the struct
// (fixed field order), time in UTC, reasons never null.
func encodeRecord(r *Record) ([]byte, error) {
	r.Time = r.Time.UTC()
	if r.Reasons == nil {
		r.Reasons = []Reason{}
	}
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encode record: %w", err)
	}
	return b, nil
}

// spoolPending counts the records waiting in spool files.
func (l *Log) spoolPending(ctx context.Context) (int64, error) {
	names, err := l.spool.files()
	if err != nil {
		return 0, err
	}
	var total int64
	for _, name := range names {
		off, err := l.spoolOffset(ctx, name)
		if err != nil {
			return 0, err
		}
		f, err := os.Open(filepath.Join(l.spool.dir, name))
		if err != nil {
			return 0, fmt.Errorf("audit: spool: %w", err)
		}
		if _, err := f.Seek(off, 0); err == nil {
			_, err = decodeSpool(f, func(Record, int64) error { total++; return nil })
		}
		f.Close()
		if err != nil {
			return 0, fmt.Errorf("audit: spool %s: %w", name, err)
		}
	}
	return total, nil
}

func (l *Log) spoolOffset(ctx context.Context, name string) (int64, error) {
	var off int64
	err := l.db.QueryRowContext(ctx, `SELECT offset FROM spool_progress WHERE file = ?`, name).Scan(&off)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("audit: read spool progress: %w", err)
	}
	return off, nil
}

// replaySpool moves spooled records into the store, oldest file first. Each
// batch commits together with the file offset it reached, so a crash midway
// neither loses nor duplicates records.
func (l *Log) replaySpool(ctx context.Context) error {
	names, err := l.spool.rotate()
	if err != nil {
		return err
	}
	for _, name := range names {
		if err := l.replayFile(ctx, name); err != nil {
			return fmt.Errorf("audit: replay %s: %w", name, err)
		}
	}
	return nil
}

func (l *Log) replayFile(ctx context.Context, name string) error {
	start, err := l.spoolOffset(ctx, name)
	if err != nil {
		return err
	}
	path := filepath.Join(l.spool.dir, name)
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Seek(start, 0); err != nil {
		return err
	}
	var (
		batch []item
		end   int64
	)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := l.commit(ctx, batch, name, start+end); err != nil {
			return err
		}
		l.spool.count.Add(-int64(len(batch)))
		batch = batch[:0]
		return nil
	}
	bad, err := decodeSpool(f, func(rec Record, n int64) error {
		batch = append(batch, item{rec: rec})
		end = n
		if len(batch) >= l.cfg.BatchSize {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return err
	}
	if bad > 0 {
		l.logger.Warn("audit: skipped unreadable spool lines", "file", name, "lines", bad)
	}
	f.Close()
	// Remove the file before its progress row: a leftover row for a missing
	// file is harmless, a missing row for a present file would replay it twice.
	if err := os.Remove(path); err != nil {
		return err
	}
	if _, err := l.db.ExecContext(ctx, `DELETE FROM spool_progress WHERE file = ?`, name); err != nil {
		l.logger.Warn("audit: could not clear spool progress", "file", name, "err", err)
	}
	return nil
}
