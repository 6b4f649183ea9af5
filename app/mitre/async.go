package mitre

import "io"

// asyncReader reads src in a goroutine into a small queue of chunks, so
// decompression and hashing on one core overlap with JSON decoding on the
// other. Close stops the goroutine.
type asyncReader struct {
	ch   chan []byte
	errc chan error
	cur  []byte
	err  error
	done chan struct{}
}

func newAsyncReader(src io.Reader, chunk, depth int) *asyncReader {
	a := &asyncReader{ch: make(chan []byte, depth), errc: make(chan error, 1), done: make(chan struct{})}
	go func() {
		defer close(a.ch)
		for {
			buf := make([]byte, chunk)
			n, err := io.ReadFull(src, buf)
			if n > 0 {
				select {
				case a.ch <- buf[:n]:
				case <-a.done:
					return
				}
			}
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				a.errc <- nil
				return
			}
			if err != nil {
				a.errc <- err
				return
			}
		}
	}()
	return a
}

func (a *asyncReader) Read(p []byte) (int, error) {
	for len(a.cur) == 0 {
		if a.err != nil {
			return 0, a.err
		}
		b, ok := <-a.ch
		if !ok {
			a.err = <-a.errc
			if a.err == nil {
				a.err = io.EOF
			}
			return 0, a.err
		}
		a.cur = b
	}
	n := copy(p, a.cur)
	a.cur = a.cur[n:]
	return n, nil
}

// Close stops the reading goroutine.
func (a *asyncReader) Close() {
	select {
	case <-a.done:
	default:
		close(a.done)
	}
	for range a.ch { // drain so the goroutine can exit
	}
}
