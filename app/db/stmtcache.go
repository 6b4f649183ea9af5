package db

import (
	"container/list"
	"context"
	"database/sql/driver"
	"errors"
	"reflect"
	"sync/atomic"

	"modernc.org/sqlite"
)

// stmtCacheSize is how many prepared statements each SQLite connection
// keeps. The app sends a few hundred distinct statements; IN lists of
// varying length make more, and the least recently used ones go.
const stmtCacheSize = 256

// cachingConnector opens modernc SQLite connections that keep their
// prepared statements. database/sql prepares, runs and finalizes a
// statement for every Query or Exec without a Stmt; dbx builds its SQL per
// call, so every query was parsed and planned again: under 50 concurrent
// writers, SQLite's parser took a sixth of the CPU (bench/missionload
// -cpuprofile). Keyed by the SQL text, a statement is parsed once per
// connection. SQLite re-prepares a cached statement by itself after a
// schema change (sqlite3_prepare_v2), so migrations need nothing.
type cachingConnector struct {
	dsn  string
	base *sqlite.Driver
	// detach: statements run without their context's cancellation (the
	// write connection, see writer.go: SQLite's interrupt would roll back
	// a whole batch of transactions).
	detach bool
}

func (c cachingConnector) Connect(context.Context) (driver.Conn, error) {
	conn, err := c.base.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	return newCachingConn(conn, c.detach)
}

func (c cachingConnector) Driver() driver.Driver { return c.base }

// baseConn is what the modernc connection offers and the cache relies on.
type baseConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

type stmtCtx interface {
	driver.Stmt
	driver.StmtExecContext
	driver.StmtQueryContext
}

func newCachingConn(c driver.Conn, detach bool) (driver.Conn, error) {
	b, ok := c.(baseConn)
	if !ok {
		c.Close()
		return nil, errors.New("db: the SQLite driver's connection lacks the context interfaces")
	}
	return &cachingConn{baseConn: b, byText: map[string]*list.Element{}, lru: list.New(), detach: detach}, nil
}

// cachingConn is one connection and its statements. database/sql uses a
// connection from one goroutine at a time, so the cache needs no lock; a
// statement is busy while rows read from it are open (a query inside the
// loop over another one's rows, on the same connection in a transaction),
// and a busy statement is not reused: that query gets a statement of its own.
type cachingConn struct {
	baseConn
	byText map[string]*list.Element // of *cachedStmt
	lru    *list.List               // front: most recently used
	detach bool
}

type cachedStmt struct {
	text string
	st   stmtCtx
	busy atomic.Bool
	gone atomic.Bool // evicted while busy: finalize when its rows close
}

// get returns a statement for query, from the cache when one is free, and
// whether it is cached (else the caller closes it after use).
func (c *cachingConn) get(ctx context.Context, query string) (*cachedStmt, bool, error) {
	if e, ok := c.byText[query]; ok {
		cs := e.Value.(*cachedStmt)
		if !cs.busy.Load() {
			c.lru.MoveToFront(e)
			return cs, true, nil
		}
	}
	st, err := c.baseConn.PrepareContext(ctx, query)
	if err != nil {
		return nil, false, err
	}
	sc, ok := st.(stmtCtx)
	if !ok {
		st.Close()
		return nil, false, errors.New("db: the SQLite driver's statement lacks the context interfaces")
	}
	cs := &cachedStmt{text: query, st: sc}
	if _, taken := c.byText[query]; taken {
		return cs, false, nil // the cached one is busy: this one is for this call only
	}
	c.byText[query] = c.lru.PushFront(cs)
	for c.lru.Len() > stmtCacheSize {
		old := c.lru.Back()
		c.lru.Remove(old)
		ocs := old.Value.(*cachedStmt)
		delete(c.byText, ocs.text)
		if ocs.busy.Load() {
			ocs.gone.Store(true)
		} else {
			ocs.st.Close()
		}
	}
	return cs, true, nil
}

func (c *cachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if c.detach {
		ctx = context.WithoutCancel(ctx)
	}
	cs, cached, err := c.get(ctx, query)
	if err != nil {
		return nil, err
	}
	res, err := cs.st.ExecContext(ctx, args)
	if !cached {
		cs.st.Close()
	}
	return res, err
}

func (c *cachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if c.detach {
		ctx = context.WithoutCancel(ctx)
	}
	cs, cached, err := c.get(ctx, query)
	if err != nil {
		return nil, err
	}
	cs.busy.Store(true)
	rows, err := cs.st.QueryContext(ctx, args)
	if err != nil {
		cs.release(cached)
		return nil, err
	}
	return &cachedRows{Rows: rows, cs: cs, cached: cached}, nil
}

// release frees the statement after its rows closed; one that is not (or no
// longer) cached is finalized.
func (cs *cachedStmt) release(cached bool) {
	cs.busy.Store(false)
	if !cached || cs.gone.Load() {
		cs.st.Close()
	}
}

// Close finalizes the cached statements, then closes the connection.
func (c *cachingConn) Close() error {
	for e := c.lru.Front(); e != nil; e = e.Next() {
		cs := e.Value.(*cachedStmt)
		if !cs.busy.Load() {
			cs.st.Close()
		}
	}
	c.lru.Init()
	clear(c.byText)
	return c.baseConn.Close()
}

// cachedRows hands the statement back when closed. It forwards the column
// type methods database/sql looks for.
type cachedRows struct {
	driver.Rows
	cs     *cachedStmt
	cached bool
	closed bool
}

func (r *cachedRows) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	err := r.Rows.Close()
	r.cs.release(r.cached)
	return err
}

func (r *cachedRows) ColumnTypeDatabaseTypeName(i int) string {
	if t, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

func (r *cachedRows) ColumnTypeScanType(i int) reflect.Type {
	if t, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return t.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}

func (r *cachedRows) ColumnTypeNullable(i int) (nullable, ok bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeNullable); ok {
		return t.ColumnTypeNullable(i)
	}
	return false, false
}

func (r *cachedRows) ColumnTypeLength(i int) (int64, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeLength); ok {
		return t.ColumnTypeLength(i)
	}
	return 0, false
}

func (r *cachedRows) ColumnTypePrecisionScale(i int) (int64, int64, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypePrecisionScale); ok {
		return t.ColumnTypePrecisionScale(i)
	}
	return 0, 0, false
}
