package bundle_test

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/bundle"
)

// FuzzReader feeds arbitrary bytes to the bundle reader: whatever they are,
// it must not panic, must not read past its limits, and every refusal must
// be a 422 saying why (never an internal error).
func FuzzReader(f *testing.F) {
	id := newIdentity(f, "Fuzz")
	// A small valid bundle: the fuzzer mutates large inputs slowly.
	var small bytes.Buffer
	w := bundle.NewWriter(&small, id, bundle.Header{Kind: bundle.KindMission, AppVersion: "test", CreatedAt: testTime}, nil)
	if err := w.WriteJSON("mission.json", map[string]any{"name": "Op"}); err != nil {
		f.Fatal(err)
	}
	if _, err := w.WriteFile("evidence/"+strings.Repeat("a", 64), bytes.NewReader([]byte("\x89PNG stored blob"))); err != nil {
		f.Fatal(err)
	}
	if err := w.Close(); err != nil {
		f.Fatal(err)
	}
	f.Add(small.Bytes())
	f.Add(forge(f, id, []file{{name: "mission.json", data: []byte(`{"a":1}`), method: zip.Deflate}}, nil))
	f.Add(forge(f, id, []file{{name: "../x", data: []byte(`{}`)}}, nil))
	f.Add(forge(f, id, []file{{name: "a.json", data: []byte(`{}`)}}, func(m *bundle.Manifest) { m.FormatVersion = 2 }))
	f.Add([]byte("PK\x05\x06" + string(make([]byte, 18))))
	lim := bundle.Limits{MaxEntries: 64, MaxEntryBytes: 1 << 20, MaxTotalBytes: 4 << 20, MaxManifestBytes: 1 << 20, MaxDocumentBytes: 1 << 20}
	f.Fuzz(func(t *testing.T, b []byte) {
		check := func(err error) {
			if err == nil || errors.Is(err, apperr.ErrUnprocessable) {
				return
			}
			t.Fatalf("refusal is not a 422: %T %v", err, err)
		}
		r, err := bundle.NewReader(bytes.NewReader(b), int64(len(b)), lim)
		check(err)
		if err != nil {
			return
		}
		var staged int64
		err = r.Verify(context.Background(), func(e bundle.Entry) (io.Writer, error) {
			return writerFunc(func(p []byte) (int, error) { staged += int64(len(p)); return len(p), nil }), nil
		}, nil)
		check(err)
		if staged > lim.MaxTotalBytes {
			t.Fatalf("read %d bytes past the total limit", staged)
		}
		for _, e := range r.Manifest().Entries {
			var v any
			check(r.ReadJSON(e.Path, &v))
		}
	})
}

type writerFunc func([]byte) (int, error)

func (w writerFunc) Write(p []byte) (int, error) { return w(p) }
