package bundle

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/klauspost/compress/flate"
	"hash/crc32"
	"io"
	"runtime"
	"sync"
)

// FileSource is one file for WriteFiles: its entry name and a way to read
// it (called once or twice: the content must not change meanwhile, which
// WriteFiles checks).
type FileSource struct {
	Path string
	Open func() (io.ReadCloser, error)
}

// holdBytes is the most deflated output WriteFiles keeps in memory for an
// entry prepared ahead; a file that deflates to more is streamed by the
// writing goroutine itself, as WriteFile does. With writeWindow entries
// ahead at most, the memory stays bounded whatever the files' sizes.
const holdBytes = 4 << 20

var (
	writeWorkers = min(2, max(1, runtime.NumCPU()))
	writeWindow  = writeWorkers + 2
)

// prepared is what a worker learnt of a file ahead of its turn.
type prepared struct {
	err    error
	method uint16
	crc    uint32
	size   int64
	sum    string
	data   []byte // the deflated content (Deflate); nil when stored
	inline bool   // deflates to more than holdBytes: streamed at its turn
}

var errTooBig = errors.New("bundle: larger than the hold")

// capped is a buffer that refuses to grow past holdBytes.
type capped struct{ bytes.Buffer }

func (c *capped) Write(p []byte) (int, error) {
	if c.Len()+len(p) > holdBytes {
		return 0, errTooBig
	}
	return c.Buffer.Write(p)
}

// WriteFiles writes the files as entries, in order, like WriteFile each
// (stored or deflated by the same test of their first bytes), but on
// several goroutines: workers hash, checksum and deflate the next files
// while this goroutine writes the current one into the zip (raw, with the
// checksum and sizes known beforehand). A stored file is read a second
// time at its turn, and its CRC-32 must match the first reading. done is
// called, on this goroutine, with each finished entry.
func (w *Writer) WriteFiles(ctx context.Context, files []FileSource, done func(i int, e Entry) error) error {
	if w.err != nil {
		return w.err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make([]chan prepared, len(files))
	for i := range results {
		results[i] = make(chan prepared, 1)
	}
	jobs := make(chan int)
	window := make(chan struct{}, writeWindow)
	var wg sync.WaitGroup
	for range writeWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := newPreparer()
			for i := range jobs {
				results[i] <- p.prepare(ctx, files[i])
			}
		}()
	}
	go func() {
		defer close(jobs)
		for i := range files {
			select {
			case window <- struct{}{}:
			case <-ctx.Done():
				return
			}
			select {
			case jobs <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	defer wg.Wait()
	defer cancel() // before the wait: stop the feeder and the workers' next jobs
	buf := make([]byte, 256<<10)
	for i, f := range files {
		var p prepared
		select {
		case p = <-results[i]:
		case <-ctx.Done():
			w.err = ctx.Err()
			return w.err
		}
		<-window
		e, err := w.writePrepared(f, p, buf)
		if err != nil {
			return err
		}
		if err := done(i, e); err != nil {
			w.err = err
			return err
		}
	}
	return nil
}

// preparer is one worker's reusable state.
type preparer struct {
	fw  *flate.Writer
	buf []byte
}

func newPreparer() *preparer {
	fw, _ := flate.NewWriter(io.Discard, flate.BestSpeed)
	return &preparer{fw: fw, buf: make([]byte, 256<<10)}
}

func (pr *preparer) prepare(ctx context.Context, f FileSource) prepared {
	rc, err := f.Open()
	if err != nil {
		return prepared{err: err}
	}
	defer rc.Close()
	br := bufio.NewReaderSize(rc, sniffBytes)
	head, err := br.Peek(sniffBytes)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return prepared{err: fmt.Errorf("bundle: read %s: %w", f.Path, err)}
	}
	p := prepared{method: zip.Store}
	var out capped
	if Compressible(head) {
		p.method = zip.Deflate
		pr.fw.Reset(&out)
	}
	h, crc := sha256.New(), crc32.NewIEEE()
	for {
		if err := ctx.Err(); err != nil {
			return prepared{err: err}
		}
		n, rerr := br.Read(pr.buf)
		if n > 0 {
			h.Write(pr.buf[:n])
			crc.Write(pr.buf[:n])
			p.size += int64(n)
			if p.method == zip.Deflate {
				if _, err := pr.fw.Write(pr.buf[:n]); err != nil {
					if errors.Is(err, errTooBig) {
						return prepared{inline: true}
					}
					return prepared{err: fmt.Errorf("bundle: deflate %s: %w", f.Path, err)}
				}
			}
		}
		if errors.Is(rerr, io.EOF) {
			break
		}
		if rerr != nil {
			return prepared{err: fmt.Errorf("bundle: read %s: %w", f.Path, rerr)}
		}
	}
	if p.method == zip.Deflate {
		if err := pr.fw.Close(); err != nil {
			if errors.Is(err, errTooBig) {
				return prepared{inline: true}
			}
			return prepared{err: fmt.Errorf("bundle: deflate %s: %w", f.Path, err)}
		}
		p.data = out.Bytes()
	}
	p.crc, p.sum = crc.Sum32(), hex.EncodeToString(h.Sum(nil))
	return p
}

// writePrepared writes one prepared file as a raw entry.
func (w *Writer) writePrepared(f FileSource, p prepared, buf []byte) (Entry, error) {
	if p.err != nil {
		w.err = p.err
		return Entry{}, w.err
	}
	if p.inline {
		rc, err := f.Open()
		if err != nil {
			w.err = err
			return Entry{}, err
		}
		defer rc.Close()
		return w.WriteFile(f.Path, rc)
	}
	if err := w.begin(f.Path); err != nil {
		return Entry{}, err
	}
	fh := w.fileHeader(f.Path, p.method == zip.Deflate)
	fh.CRC32, fh.UncompressedSize64, fh.CompressedSize64 = p.crc, uint64(p.size), uint64(p.size)
	if p.data != nil {
		fh.CompressedSize64 = uint64(len(p.data))
	}
	zf, err := w.zw.CreateRaw(fh)
	if err != nil {
		w.err = fmt.Errorf("bundle: create %s: %w", f.Path, err)
		return Entry{}, w.err
	}
	if p.data != nil {
		if _, err := zf.Write(p.data); err != nil {
			w.err = fmt.Errorf("bundle: write %s: %w", f.Path, err)
			return Entry{}, w.err
		}
	} else if err := copyStored(zf, f, p, buf); err != nil {
		w.err = err
		return Entry{}, err
	}
	e := Entry{Path: f.Path, Size: p.size, SHA256: p.sum}
	w.entries = append(w.entries, e)
	return e, nil
}

// copyStored copies a stored file into its entry, checking that it still
// is what was hashed: the same size and CRC-32.
func copyStored(zf io.Writer, f FileSource, p prepared, buf []byte) error {
	rc, err := f.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	crc := crc32.NewIEEE()
	n, err := io.CopyBuffer(io.MultiWriter(zf, crc), io.LimitReader(rc, p.size+1), buf)
	if err != nil {
		return fmt.Errorf("bundle: write %s: %w", f.Path, err)
	}
	if n != p.size || crc.Sum32() != p.crc {
		return fmt.Errorf("bundle: %s changed while it was written", f.Path)
	}
	return nil
}
