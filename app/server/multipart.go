package server

import (
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"

	"github.com/purplebook/purplebook/app/apperr"
	"github.com/uptrace/bunrouter"
)

// isMultipart reports whether the request body is multipart/form-data.
func isMultipart(req bunrouter.Request) bool {
	mt, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type"))
	return mt == "multipart/form-data"
}

// errStopParts, returned by eachPart's callback, ends the walk early
// without an error; the rest of the body is left unread.
var errStopParts = errors.New("stop reading parts")

// eachPart walks a multipart/form-data body as it streams in, calling f
// with every part in order and closing the part afterwards (not after an
// error: the rest of the body is then left unread); nothing is buffered. f may return errStopParts to end early. Reading failures are
// the route's body limit (413, passed on as is) or a 400 invalid_multipart;
// f's own errors are returned unchanged. The caller checks isMultipart
// first (each route answers a wrong media type its own way).
func eachPart(req bunrouter.Request, f func(p *multipart.Part) error) error {
	mr, err := req.MultipartReader()
	if err != nil {
		return apperr.BadRequest("invalid_multipart", "The multipart body cannot be read.")
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return multipartError(err)
		}
		err = f(part)
		if err != nil && !errors.Is(err, errStopParts) {
			// Refused: answer at once. Closing the part would first read
			// and discard the rest of it, up to the body limit (257 MiB
			// for an ATT&CK upload).
			return err
		}
		part.Close()
		if err != nil {
			return nil
		}
	}
}

// formValue reads a small form field of at most max bytes; a longer one is
// a 422 naming the field.
func formValue(p *multipart.Part, max int) (string, error) {
	v, err := io.ReadAll(io.LimitReader(p, int64(max)+1))
	if err != nil {
		return "", multipartError(err)
	}
	if len(v) > max {
		return "", &apperr.Invalid{Fields: map[string]string{cleanPath(p.FormName()): "is too long"}}
	}
	return string(v), nil
}

// multipartError maps a failure to read the multipart body: the route's body
// limit is 413; anything else is the client's malformed or broken body.
func multipartError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return err
	}
	return apperr.BadRequest("invalid_multipart", "The multipart body is malformed or ended early.")
}
