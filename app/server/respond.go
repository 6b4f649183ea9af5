package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/purplebook/purplebook/app/apperr"
	"github.com/uptrace/bunrouter"
)

// DefaultBodyLimit caps JSON request bodies. Upload routes set their own.
const DefaultBodyLimit = 1 << 20 // 1 MiB

// writeJSON writes v with status. Encoding happens before the header is
// written so an encoding failure can still become a 500 envelope.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("server: encode response: %w", err)
	}
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["Cache-Control"] = noStore
	h["Content-Length"] = []string{strconv.Itoa(buf.Len())}
	w.WriteHeader(status)
	_, err := w.Write(buf.Bytes())
	if err != nil {
		return errResponseWritten
	}
	return nil
}

// writeEncodedJSON writes a JSON answer encoded before (by writeJSON's rules).
func writeEncodedJSON(w http.ResponseWriter, status int, b []byte) error {
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["Cache-Control"] = noStore
	// A known length spares the chunked encoding of larger answers.
	h["Content-Length"] = []string{strconv.Itoa(len(b))}
	w.WriteHeader(status)
	if _, err := w.Write(b); err != nil {
		return errResponseWritten
	}
	return nil
}

// Header values shared by every response. net/http only reads them, so one
// slice each serves every request without an allocation.
var (
	jsonContentType = []string{"application/json; charset=utf-8"}
	noStore         = []string{"no-store"}
)

// errResponseWritten tells the error middleware that the response has gone
// out already (or the client left): log, but write nothing more.
var errResponseWritten = errors.New("response already written")

// decodeJSON reads one JSON object into dst: size-limited, unknown fields
// rejected, trailing data rejected, text that is not valid UTF-8 (or holds
// a lone surrogate escape or NUL) rejected naming the field. Every problem is a 400 (413 for size) with
// a message that says what is wrong.
func decodeJSON(req bunrouter.Request, dst any) error {
	if ct := req.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return apperr.New(apperr.ErrBadRequest, "unsupported_media_type", "Send the body as application/json.")
		}
	}
	// The body is read whole (within the route's limit) so its text can
	// be checked as sent, before encoding/json would replace what is not
	// valid UTF-8.
	body, err := io.ReadAll(req.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return apperr.BadRequest("invalid_json", "The request body could not be read.")
	}
	if path, why, bad := badJSONText(body); bad {
		return apperr.BadRequest("invalid_text", "Field %q %s; send UTF-8 text.", path, why).
			WithDetails(map[string]any{path: why})
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return apperr.BadRequest("invalid_json", "The body must hold exactly one JSON value.")
	}
	return nil
}

func jsonError(err error) error {
	var mbe *http.MaxBytesError
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &mbe):
		return err
	case errors.Is(err, io.EOF):
		return apperr.BadRequest("invalid_json", "The request body is empty; send a JSON object.")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return apperr.BadRequest("invalid_json", "The JSON body ends too early.")
	case errors.As(err, &syn):
		return apperr.BadRequest("invalid_json", "The body is not valid JSON (error at byte %d).", syn.Offset)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return apperr.BadRequest("invalid_json", "The body must be a JSON object.")
		}
		return apperr.BadRequest("invalid_type", "Field %q must be of type %s.", field, jsonType(typ.Type.Kind().String())).
			WithDetails(map[string]any{field: "must be " + jsonType(typ.Type.Kind().String())})
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return apperr.BadRequest("unknown_field", "Unknown field %q.", name).
			WithDetails(map[string]any{name: "unknown field"})
	}
	// Errors from custom UnmarshalJSON methods carry a message meant for users.
	return apperr.BadRequest("invalid_json", "Invalid JSON: %s.", strings.TrimPrefix(err.Error(), "json: "))
}

func jsonType(kind string) string {
	switch kind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "slice", "array":
		return "array"
	case "map", "struct":
		return "object"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64", "float32", "float64":
		return "number"
	}
	return kind
}
