package server

import (
	"bytes"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/purplebook/purplebook/app/apperr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bunrouter"
)

// multipartRequest builds a request whose body holds the given parts
// (name, value) in order.
func multipartRequest(t *testing.T, limit int64, parts ...[2]string) bunrouter.Request {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		w, err := mw.CreateFormField(p[0])
		require.NoError(t, err)
		_, err = w.Write([]byte(p[1]))
		require.NoError(t, err)
	}
	require.NoError(t, mw.Close())
	req := httptest.NewRequest("POST", "/x", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if limit > 0 {
		req.Body = http.MaxBytesReader(httptest.NewRecorder(), req.Body, limit)
	}
	return bunrouter.NewRequest(req)
}

func TestEachPart(t *testing.T) {
	t.Parallel()
	req := multipartRequest(t, 0, [2]string{"a", "1"}, [2]string{"b", "22"}, [2]string{"c", "333"})
	require.True(t, isMultipart(req))
	var seen []string
	require.NoError(t, eachPart(req, func(p *multipart.Part) error {
		v, err := io.ReadAll(p)
		require.NoError(t, err)
		seen = append(seen, p.FormName()+"="+string(v))
		return nil
	}))
	assert.Equal(t, []string{"a=1", "b=22", "c=333"}, seen, "every part, in order")

	seen = nil
	req = multipartRequest(t, 0, [2]string{"a", "1"}, [2]string{"b", "22"}, [2]string{"c", "333"})
	require.NoError(t, eachPart(req, func(p *multipart.Part) error {
		seen = append(seen, p.FormName())
		if p.FormName() == "b" {
			return errStopParts
		}
		return nil
	}), "stopping early is not an error")
	assert.Equal(t, []string{"a", "b"}, seen)

	boom := errors.New("boom")
	req = multipartRequest(t, 0, [2]string{"a", "1"})
	assert.ErrorIs(t, eachPart(req, func(*multipart.Part) error { return boom }), boom, "the callback's error as is")

	req = multipartRequest(t, 0)
	n := 0
	require.NoError(t, eachPart(req, func(*multipart.Part) error { n++; return nil }))
	assert.Zero(t, n, "no parts")
}

func TestEachPartReadFailures(t *testing.T) {
	t.Parallel()
	// Over the route's body limit: the MaxBytesError passes through (413).
	req := multipartRequest(t, 200, [2]string{"a", strings.Repeat("x", 1000)}, [2]string{"b", "y"})
	err := eachPart(req, func(p *multipart.Part) error {
		_, err := io.Copy(io.Discard, p)
		return err
	})
	var mbe *http.MaxBytesError
	assert.ErrorAs(t, err, &mbe)

	// A second part with a broken header: 400 invalid_multipart.
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	w, _ := mw.CreateFormField("a")
	_, _ = w.Write([]byte("value"))
	body := buf.String() + "\r\n--" + mw.Boundary() + "\r\nnot a header line\r\n\r\nx\r\n--" + mw.Boundary() + "--\r\n"
	r := httptest.NewRequest("POST", "/x", strings.NewReader(body))
	r.Header.Set("Content-Type", mw.FormDataContentType())
	var seen []string
	err = eachPart(bunrouter.NewRequest(r), func(p *multipart.Part) error {
		seen = append(seen, p.FormName())
		return nil
	})
	var ae *apperr.Error
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, "invalid_multipart", ae.Code)
	assert.Equal(t, []string{"a"}, seen, "the parts before the break were read")

	// Not multipart at all.
	r = httptest.NewRequest("POST", "/x", strings.NewReader(`{}`))
	r.Header.Set("Content-Type", "application/json")
	assert.False(t, isMultipart(bunrouter.NewRequest(r)))
	err = eachPart(bunrouter.NewRequest(r), func(*multipart.Part) error { return nil })
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, "invalid_multipart", ae.Code)
}

func TestFormValue(t *testing.T) {
	t.Parallel()
	var got []string
	req := multipartRequest(t, 0, [2]string{"short", "abc"}, [2]string{"long", strings.Repeat("x", 11)})
	err := eachPart(req, func(p *multipart.Part) error {
		v, err := formValue(p, 10)
		if err != nil {
			return err
		}
		got = append(got, v)
		return nil
	})
	assert.Equal(t, []string{"abc"}, got)
	assert.ErrorIs(t, err, apperr.ErrInvalid)
	var inv *apperr.Invalid
	require.ErrorAs(t, err, &inv)
	assert.Equal(t, "is too long", inv.Fields["long"])
}
